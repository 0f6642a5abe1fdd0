package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A ConnOption says how NewSession starts a session.
type ConnOption func(*Session)

// LoggedIn starts the session logged in as user, from addr (the client's
// address as the way in saw it; "" keeps the connection's): for a way in
// that authenticated the user itself, such as the SSH relay, which asks
// package front's checkPassword or checks a key. The session skips the prompts for a name
// and a password, greets as usual, and its record carries the user across
// migrations like any other's.
func LoggedIn(user, addr string) ConnOption {
	return func(s *Session) {
		s.user, s.since = user, time.Now()
		if addr != "" {
			s.addr = addr
		}
	}
}

// maxAuthorizedKeys bounds a user's authorized_keys file.
const maxAuthorizedKeys = 64 << 10

// ErrNoKeys reports a user who has no authorized_keys file, or no home.
var ErrNoKeys = errors.New("repl: no authorized_keys")

// AuthorizedKeys returns the content of user's authorized_keys file, in
// their home (Config.Home/NAME/authorized_keys, which the user or the
// operator writes), for the SSH relay's key logins. A user not in the
// users file has none, whatever files there are: removing a user from
// the users file shuts every way in.
func (c *Config) AuthorizedKeys(user string) ([]byte, error) {
	if c.Home == "" || !c.Users.Has(user) {
		return nil, ErrNoKeys
	}
	dir := filepath.Join(c.Home, homeName(user))
	if err := privateDir(dir, true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKeys, err)
	}
	root, err := os.OpenRoot(dir) // no symbolic link out of the home
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKeys, err)
	}
	defer root.Close()
	f, err := root.Open("authorized_keys")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKeys, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAuthorizedKeys+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKeys, err)
	}
	if len(b) > maxAuthorizedKeys {
		return nil, fmt.Errorf("%w: %s/authorized_keys is over %d bytes", ErrNoKeys, dir, maxAuthorizedKeys)
	}
	return b, nil
}
