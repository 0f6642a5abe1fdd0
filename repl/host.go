package repl

import (
	"context"
	"io"
)

// host is everything a session asks of the server that runs it (Server):
// a session knows its own conversation, its Config, and this list, and
// nothing else of the registry, the accept loop or the handoffs. Keeping
// it short is what keeps one session's code from reaching into the
// others' (REVIEW.md: a session with a small interface to its host).
type host interface {
	// closing reports whether the server is going away, so that a
	// session ending then tells its user why.
	closing() bool
	// checkLogin checks a password through the server's gate (bounded
	// bcrypt at once, a budget of wrong guesses per address, shared by
	// every session and way in). Its error is ctx's when ctx ends first.
	checkLogin(ctx context.Context, addr, user, password string) (bool, error)
	// loggedIn takes a session out of the cap on connections logging in.
	loggedIn(*Session)
	// sessionList lists the open sessions for :who.
	sessionList() []SessionInfo
	// lookup returns the open session id, or nil, for :watch.
	lookup(id uint64) *Session
	// migrator and upgrader return what :migrate and :upgrade call, or
	// nil when this server cannot.
	migrator() func(out io.Writer)
	upgrader() func(id uint64, out io.Writer)
}

// The Server's side of host.

func (s *Server) closing() bool { return s.isClosed() }

func (s *Server) checkLogin(ctx context.Context, addr, user, password string) (bool, error) {
	release, err := s.gate.enter(ctx, addr)
	if err != nil {
		return false, err
	}
	ok := s.check(user, password)
	release(ok)
	return ok, nil
}

func (s *Server) sessionList() []SessionInfo { return s.Sessions() }

func (s *Server) lookup(id uint64) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *Server) migrator() func(out io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.migrate
}

func (s *Server) upgrader() func(id uint64, out io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upgrade
}
