package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// One session at a time: what an incremental migration is made of. The
// listener moves first (Detach here, once a successor holds a copy), then
// each session leaves (Leave, then Left or Stay) for a process that holds
// it (Hold) until the move commits (Start) or fails (Release).

// ErrDetached is returned by Serve after Detach.
var ErrDetached = errors.New("repl: the listener was handed over")

// errMoved ends a session's input once another process has it.
var errMoved = errors.New("repl: session moved to another process")

// ListenerFile returns a duplicate of the listener's descriptor.
func (s *Server) ListenerFile() (*os.File, error) {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("listener %T cannot be handed over", ln)
	}
	return fl.File()
}

// Detach stops accepting for good, leaving the listening socket to the
// process that holds a copy; the sessions go on. Serve returns
// ErrDetached, and Emptied is closed once the last session has ended.
func (s *Server) Detach() {
	s.mu.Lock()
	s.detached = true
	s.acceptPaused = false
	s.cond.Broadcast()
	ln := s.ln
	s.checkEmptyLocked()
	s.mu.Unlock()
	if ln != nil {
		ln.Close() // our descriptor only: the successor's copy keeps the socket
	}
}

// Emptied is closed when the server, detached, has no session left.
func (s *Server) Emptied() <-chan struct{} { return s.empty }

func (s *Server) checkEmptyLocked() {
	if s.detached && len(s.sessions) == 0 && !s.emptied {
		s.emptied = true
		close(s.empty)
	}
}

// NextID is the last session id given; SetNextID makes the next ones
// follow id, so that ids stay unique across two processes sharing users.
func (s *Server) NextID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextID
}

// SetNextID raises the last id given to id.
func (s *Server) SetNextID(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID = max(s.nextID, id)
}

// Has reports whether session id is open here.
func (s *Server) Has(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

// Leave pauses session id at its prompt (interrupting an evaluation after
// grace) and exports it, without the variables named in drop. The session
// stays paused until Left or Stay.
func (s *Server) Leave(ctx context.Context, id uint64, grace time.Duration, drop ...string) (Exported, error) {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	held := ok && !s.running[id]
	s.mu.Unlock()
	switch {
	case !ok:
		return Exported{}, fmt.Errorf("no session %d here", id)
	case held:
		return Exported{}, fmt.Errorf("session %d is still arriving", id)
	case sess.Info().User == "":
		return Exported{}, fmt.Errorf("session %d is logging in", id)
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	sess.Pause(ctx, graceCtx)
	if !sess.Still() {
		sess.Resume()
		if ctx.Err() != nil {
			return Exported{}, fmt.Errorf("session %d did not stop in time", id)
		}
		return Exported{}, fmt.Errorf("session %d has ended", id)
	}
	e, err := sess.Export(nil, false, drop...)
	if err != nil {
		sess.Resume()
		return Exported{}, err
	}
	return e, nil
}

// Stay resumes a session Leave paused: its move failed.
func (s *Server) Stay(id uint64) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess != nil {
		sess.Resume()
	}
}

// Left ends a session Leave paused, without a word to its client, who is
// now served by another process.
func (s *Server) Left(id uint64) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess != nil {
		sess.Retire()
	}
}

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

// Hold restores a session another process is moving here, registered but
// not running: Start runs it once the move commits, Release forgets it.
func (s *Server) Hold(data []byte, conn *os.File) (uint64, error) {
	sess, reused, err := Receive(s, &s.cfg, data, conn, s.takePrebuilt)
	if err != nil {
		return 0, err
	}
	s.countReused(reused)
	id := sess.ID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.emptied {
		sess.Discard()
		return 0, errors.New("this server is not taking sessions")
	}
	if _, dup := s.sessions[id]; dup {
		sess.Discard()
		return 0, fmt.Errorf("session %d is already here", id)
	}
	s.sessions[id] = sess
	s.countLoginLocked(sess) // one logging in still is, here too
	s.nextID = max(s.nextID, id)
	return id, nil
}

// Start runs a session Hold restored.
func (s *Server) Start(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok || s.running[id] {
		return fmt.Errorf("no session %d waiting", id)
	}
	s.startLocked(sess)
	return nil
}

// Release forgets a session Hold restored, leaving its connection alone.
func (s *Server) Release(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[id]; ok && !s.running[id] {
		delete(s.sessions, id)
		s.uncountLoginLocked(sess)
		sess.Discard()
	}
}

// Discard closes what Receive made for a session that never ran.
func (sess *Session) Discard() {
	if sess.ns != nil {
		sess.ns.Close()
	}
	sess.nc.Close()
}

// SetUpgrade sets what :upgrade calls to move the session to the newer
// process of an incremental migration; nil when there is none.
func (s *Server) SetUpgrade(f func(id uint64, out io.Writer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upgrade = f
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

// Running reports whether session id is here and running (not held).
func (s *Server) Running(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[id] // removed with the session
}
