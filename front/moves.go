package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"translucent/repl"
)

// errDetached is returned by serve after detach.
var errDetached = errors.New("front: the listener was handed over")

// listenerFile returns a duplicate of the listener's descriptor.
func (s *registry) listenerFile() (*os.File, error) {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("listener %T cannot be handed over", ln)
	}
	return fl.File()
}

// detach stops accepting for good, leaving the listening socket to the
// process that holds a copy; the sessions go on. serve returns
// errDetached, and whenEmpty is closed once the last session has ended.
func (s *registry) detach() {
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

// whenEmpty is closed when the server, detached, has no session left.
func (s *registry) whenEmpty() <-chan struct{} { return s.empty }

func (s *registry) checkEmptyLocked() {
	if s.detached && len(s.sessions) == 0 && !s.emptied {
		s.emptied = true
		close(s.empty)
	}
}

// lastID is the last session id given; setNextID makes the next ones
// follow id, so that ids stay unique across two processes sharing users.
func (s *registry) lastID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextID
}

// setNextID raises the last id given to id.
func (s *registry) setNextID(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID = max(s.nextID, id)
}

// has reports whether session id is open here.
func (s *registry) has(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	return ok
}

// leave pauses session id at its prompt (interrupting an evaluation after
// grace) and exports it, without the variables named in drop. The session
// stays paused until left or stay.
func (s *registry) leave(ctx context.Context, id uint64, grace time.Duration, drop ...string) (repl.Exported, error) {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	held := ok && !s.running[id]
	s.mu.Unlock()
	switch {
	case !ok:
		return repl.Exported{}, fmt.Errorf("no session %d here", id)
	case held:
		return repl.Exported{}, fmt.Errorf("session %d is still arriving", id)
	case sess.Info().User == "":
		return repl.Exported{}, fmt.Errorf("session %d is logging in", id)
	}
	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	sess.Pause(ctx, graceCtx)
	if !sess.Still() {
		sess.Resume()
		if ctx.Err() != nil {
			return repl.Exported{}, fmt.Errorf("session %d did not stop in time", id)
		}
		return repl.Exported{}, fmt.Errorf("session %d has ended", id)
	}
	e, err := sess.Export(nil, false, drop...)
	if err != nil {
		sess.Resume()
		return repl.Exported{}, err
	}
	return e, nil
}

// stay resumes a session leave paused: its move failed.
func (s *registry) stay(id uint64) {
	if sess := s.Lookup(id); sess != nil {
		sess.Resume()
	}
}

// left ends a session leave paused, without a word to its client, who is
// now served by another process.
func (s *registry) left(id uint64) {
	if sess := s.Lookup(id); sess != nil {
		sess.Retire()
	}
}

// hold restores a session another process is moving here, registered but
// not running: start runs it once the move commits, release forgets it.
func (s *registry) hold(data []byte, conn *os.File) (uint64, error) {
	sess, reused, err := repl.Receive(s, &s.cfg, data, conn, s.takePrebuilt)
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
	if !s.addLocked(sess) {
		sess.Discard()
		return 0, fmt.Errorf("session %d is already here", id)
	}
	return id, nil
}

// start runs a session hold restored.
func (s *registry) start(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok || s.running[id] {
		return fmt.Errorf("no session %d waiting", id)
	}
	s.startLocked(sess)
	return nil
}

// release forgets a session hold restored, leaving its connection alone.
func (s *registry) release(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[id]; ok && !s.running[id] {
		delete(s.sessions, id)
		s.uncountLoginLocked(sess)
		sess.Discard()
	}
}

// setUpgrade sets what :upgrade calls to move the session to the newer
// process of an incremental migration; nil when there is none.
func (s *registry) setUpgrade(f func(id uint64, out io.Writer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upgrade = f
}

// isRunning reports whether session id is here and running (not held).
func (s *registry) isRunning(id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[id] // removed with the session
}
