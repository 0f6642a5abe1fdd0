package repl

import (
	"context"
	"slices"
	"time"
)

// CheckPassword checks a password given another way than at a session's
// prompts (the dashboard's HTTP Basic auth, via names it for the log) at
// the cost a session's login has: it waits for the gate that bounds
// password checks, per address addr, and after a wrong password it waits
// LoginDelay before answering. It reports false, having checked nothing,
// when ctx ends first (the client left).
func (s *Server) CheckPassword(ctx context.Context, addr, via, name, password string) bool {
	release, err := s.gate.enter(ctx, addr)
	if err != nil {
		return false
	}
	ok := s.check(name, password)
	release(ok)
	if ok {
		return true
	}
	user := "(unknown)" // a name that is nobody's may be a password: it stays out of the log
	if s.cfg.Users.Has(name) {
		user = name
	}
	s.cfg.Logger.Warn("wrong password", "via", via, "addr", addr, "user", user)
	t := time.NewTimer(s.cfg.LoginDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// IsAdmin reports whether name is one of the users who may migrate the
// server (Config.Admins).
func (s *Server) IsAdmin(name string) bool { return slices.Contains(s.cfg.Admins, name) }
