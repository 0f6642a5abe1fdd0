package repl

import (
	"context"
	"io"
)

// Host is everything a session asks of the process that runs it: a
// session knows its own conversation, its Config, and this list, and
// nothing else of the registry, the accept loop or the handoffs (package
// front). Keeping it short is what keeps one session's code from
// reaching into the others'.
type Host interface {
	// Closing reports whether the server is going away, so that a
	// session ending then tells its user why.
	Closing() bool
	// CheckLogin checks a password through the server's gate (bounded
	// bcrypt at once, a budget of wrong guesses per address, shared by
	// every session and way in). Its error is ctx's when ctx ends first.
	CheckLogin(ctx context.Context, addr, user, password string) (bool, error)
	// LoggedIn takes a session out of the cap on connections logging in.
	LoggedIn(*Session)
	// SessionList lists the open sessions for :who.
	SessionList() []SessionInfo
	// Lookup returns the open session id, or nil, for :watch.
	Lookup(id uint64) *Session
	// Migrator and Upgrader return what :migrate and :upgrade call, or
	// nil when this server cannot.
	Migrator() func(out io.Writer)
	Upgrader() func(id uint64, out io.Writer)
}
