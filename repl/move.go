package repl

import (
	"errors"
	"strings"
)

// One session at a time: what an incremental migration is made of. The
// listener moves first, then each session leaves (Pause, Export, then
// Retire or Resume) for a process that holds it (Receive) until the move
// commits (Run) or fails (Discard): package front's moves.go.

// errMoved ends a session's input once another process has it.
var errMoved = errors.New("repl: session moved to another process")

// Retire ends a paused session whose connection another process now
// owns: nothing more is read from or written to it here.
func (sess *Session) Retire() {
	sess.mu.Lock()
	sess.moved = true
	if sess.paused != nil {
		close(sess.paused) // output waiting for the pause is dropped (moved)
		sess.paused = nil
	}
	sess.mu.Unlock()
	sess.in.end(errMoved)
	sess.nc.Close() // our descriptor; the other process holds its own
}

// Discard closes what Receive made for a session that never ran.
func (sess *Session) Discard() {
	if sess.ns != nil {
		sess.ns.Close()
	}
	sess.nc.Close()
}

func (s *Session) cmdUpgrade([]string) bool {
	upgrade := s.host.Upgrader()
	if upgrade == nil {
		s.printf("error: no newer process to move to (this one is %s)\n", s.cfg.Version)
		return false
	}
	s.printf("moving this session to the newer process; it carries on there\n")
	upgrade(s.id, (*sessionOutput)(s))
	return false
}

func (s *Session) cmdDrop(args []string) bool {
	if len(args) == 0 {
		if d := s.ns.Dropped(); len(d) > 0 {
			s.printf("left out of the next migration: %s\n", strings.Join(d, ", "))
		} else {
			s.printf("nothing dropped; :drop NAME leaves a variable out of the next migration, :drop -NAME takes it back\n")
		}
		return false
	}
	for _, name := range args {
		if undo, ok := strings.CutPrefix(name, "-"); ok {
			if !s.ns.Undrop(undo) {
				s.printf("error: %s was not dropped\n", undo)
			} else {
				s.printf("%s is carried by the next migration again\n", undo)
			}
			continue
		}
		if err := s.ns.Drop(name); err != nil {
			s.printf("error: %v\n", err)
			continue
		}
		s.printf("%s stays here and arrives at its zero value after the next migration\n", name)
	}
	return false
}
