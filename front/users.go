package front

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"translucent/repl"
)

// loadOrCreateUsers reads the users file. With none, it uses the user admin
// of the private directory's admin-users file, whose password is in the
// admin-password file beside it (mode 0600; its path is logged, never the
// password). When those files are missing or do not match, it creates them,
// with a random password. It returns the path of the users file, so that
// successors of this process know the same admin.
//
// The files are created once and then only read: another server started
// without --users shares them, rather than rewriting the users file that
// this one's successors will load (which changed this server's admin
// password at its next migration).
func loadOrCreateUsers(path string, log *slog.Logger) (*repl.Users, string, error) {
	if path != "" {
		u, err := repl.LoadUsers(path)
		return u, path, err
	}
	dir, err := privateDir()
	if err != nil {
		return nil, "", err
	}
	// Two servers starting at once take turns.
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	pwFile := filepath.Join(dir, "admin-password")
	usersFile := filepath.Join(dir, "admin-users")
	if u, ok := existingAdmin(pwFile, usersFile); ok {
		log.Info("no --users file: user admin, with the password an earlier server created", "password_file", pwFile)
		return u, usersFile, nil
	}
	password := repl.RandomPassword()
	if err := repl.WriteFileAtomic(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	if err := repl.AddUser(usersFile, "admin", password); err != nil {
		return nil, "", err
	}
	log.Info("no --users file: created user admin with a random password", "password_file", pwFile)
	u, err := repl.LoadUsers(usersFile)
	return u, usersFile, err
}

// existingAdmin returns the users of usersFile if the password in pwFile is
// admin's there.
func existingAdmin(pwFile, usersFile string) (*repl.Users, bool) {
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return nil, false
	}
	u, err := repl.LoadUsers(usersFile)
	if err != nil || !u.Check("admin", strings.TrimSuffix(string(pw), "\n")) {
		return nil, false
	}
	return u, true
}

// lockDir takes an exclusive lock on directory dir, until unlock.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing releases the lock
}

// privateDir returns a directory only this user can use, for files such as
// the admin password: $XDG_RUNTIME_DIR/translucent or /tmp/translucent-UID.
func privateDir() (string, error) {
	dir, err := privateDirPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: not a private directory of this user (want mode 0700, owner uid %d; another user may have created it): %s", dir, os.Getuid(), wayOut)
	}
	return dir, nil
}

// wayOut says what to do about a private directory someone else holds.
const wayOut = "set XDG_RUNTIME_DIR to a directory of your own (files then go to $XDG_RUNTIME_DIR/translucent), or remove it if it is not in use, and give serve, migrate and status the same --control PATH in a directory of your own"

// privateDirPath is privateDir's path, without creating or checking it.
func privateDirPath() (string, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Abs(filepath.Join(rt, "translucent"))
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("translucent-%d", os.Getuid())), nil
}

// DefaultHome is serve --home's default: beside the admin password, in the
// private directory (a tmpfs under XDG_RUNTIME_DIR: give --home a lasting
// directory for history that outlives a reboot).
func DefaultHome() string {
	dir, err := privateDirPath()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "users")
}
