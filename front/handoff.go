package front

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"translucent/repl"
)

// pauseExport prepares a migration and returns every session, paused,
// for another process (the listener goes with listenerFile). The accept
// loop stops (new clients wait in the listener's backlog) and every
// session stops at its prompt, its input untouched. A session still
// evaluating after grace is interrupted and told why.
//
// Each session's record is made as soon as that session is at rest, while
// others finish the line they were evaluating: a migration's pause is then
// the longer of the two, not their sum. The variables named in drop are
// left out of every namespace. ahead is the other process's ahead report, or nil:
// a namespace it holds unchanged is named rather than sent, and one that
// vouch found unchanged since is not even snapshotted.
//
// The server keeps its own copies until it exits or resumes (resume). On
// failure, or if ctx ends first, everything has resumed.
func (s *registry) pauseExport(ctx context.Context, grace time.Duration, ahead Ahead, drop ...string) ([]repl.Exported, error) {
	s.mu.Lock()
	s.pauseAcceptLocked(ctx)
	sessions := make([]*repl.Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	sortSessions(sessions)

	// Every session is asked to stop at once, and says when it is at rest
	// (or its client has gone) on ready; one exporter per CPU makes the
	// records, in that order: a snapshot is CPU work, and deep (a few
	// workers' grown stacks serve them all). A goroutine per session to
	// wait for it would cost the pause more than the waiting: at 10,000
	// sessions, their stacks alone were 0.1 s.
	exported := make([]repl.Exported, len(sessions))
	errs := make([]error, len(sessions))
	ready := make(chan int, len(sessions)) // never blocks onStill
	reported := make([]atomic.Bool, len(sessions))
	still := make([]time.Time, len(sessions)) // each written before its index is sent on ready
	for i, sess := range sessions {
		sess.AskPause(func() {
			reported[i].Store(true)
			still[i] = time.Now()
			ready <- i
		})
	}
	// Past grace, the evaluations still running are interrupted; their
	// sessions come to rest when the interruption has stopped them.
	graceCtx, cancel := context.WithTimeout(ctx, grace) // one deadline for all
	defer cancel()
	stopGrace := context.AfterFunc(graceCtx, func() {
		if ctx.Err() != nil {
			return
		}
		for i, sess := range sessions {
			if !reported[i].Load() {
				sess.Interrupt()
			}
		}
	})
	defer stopGrace()
	var taken atomic.Int64
	var exporters sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(sessions), 1)) {
		exporters.Add(1)
		go func() { // ends when every session has been taken, or ctx ends
			defer exporters.Done()
			for taken.Add(1) <= int64(len(sessions)) {
				select {
				case i := <-ready:
					if sessions[i].Still() { // a client that left has nothing to carry
						exported[i], errs[i] = sessions[i].Export(ahead[sessions[i].ID()], ahead.has(featureTails), drop...)
						exported[i].Still = still[i]
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	exporters.Wait()
	if err := ctx.Err(); err != nil {
		s.resume()
		return nil, fmt.Errorf("sessions did not stop in time: %w", err)
	}
	out := make([]repl.Exported, 0, len(sessions))
	for i, e := range exported {
		if errs[i] != nil {
			s.resume()
			return nil, fmt.Errorf("session %d: %w", sessions[i].ID(), errs[i])
		}
		if e.ID != 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// pauseAccept stops the accept loop only (new clients wait in the
// listener's backlog): what an incremental migration moves at first.
// resume undoes it.
func (s *registry) pauseAccept(ctx context.Context) error {
	s.mu.Lock()
	s.pauseAcceptLocked(ctx)
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		s.resume()
		return err
	}
	return nil
}

// pauseAcceptLocked stops the accept loop and waits until it is idle, or
// ctx ends. s.mu is held, and released while waiting.
func (s *registry) pauseAcceptLocked(ctx context.Context) {
	s.acceptPaused = true
	ln := s.ln
	if dl, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Now()) // wakes Accept; waitAcceptResumed holds it
	}
	for ln != nil && !s.acceptIdle && !s.closed && ctx.Err() == nil {
		s.waitLocked(ctx)
	}
}

// waitLocked waits on s.cond, or until ctx ends.
func (s *registry) waitLocked(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	s.cond.Wait()
	stop()
}

// waitAcceptResumed holds the accept loop while a migration is under way
// and reports whether it did (so the Accept error was ours).
func (s *registry) waitAcceptResumed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.acceptPaused {
		return false
	}
	s.acceptIdle = true
	s.cond.Broadcast()
	for s.acceptPaused && !s.closed {
		s.cond.Wait()
	}
	s.acceptIdle = false
	return true
}

// resume undoes Pause: the migration did not happen, everyone goes on.
func (s *registry) resume() {
	s.mu.Lock()
	sessions := make([]*repl.Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	if dl, ok := s.ln.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Time{})
	}
	s.acceptPaused = false
	s.cond.Broadcast()
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.Resume()
	}
}

// adoptAll adopts sessions (see adopt) in parallel: restoring namespaces
// is most of a migration's pause. In this process that is CPU work, one
// goroutine per CPU; in worker processes it is mostly waiting for their
// answers, so more are asked at once. It returns the first error; each
// conn is its session's, or closed.
func (s *registry) adoptAll(data [][]byte, conns []*os.File) error {
	errs := make([]error, len(data))
	n := runtime.GOMAXPROCS(0)
	if !s.cfg.Local() {
		n *= 8
	}
	workers(len(data), n, nil, func(i int) { errs[i] = s.adopt(data[i], conns[i]) })
	return errors.Join(errs...)
}

// forEach calls f(0) ... f(n-1) on one goroutine per CPU and returns when
// all have returned.
func forEach(n int, f func(i int)) { workers(n, runtime.GOMAXPROCS(0), nil, f) }

// workers is forEach on count goroutines, each calling setup (if not nil)
// first.
func workers(n, count int, setup func(), f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(count, max(n, 1)) {
		wg.Add(1)
		go func() { // ends when next is closed
			defer wg.Done()
			if setup != nil {
				setup()
			}
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// adopt restores a session exported by another process on conn, to run
// once serve starts. It closes conn on failure; it fails on a record that
// is malformed, of another version, or out of bounds.
func (s *registry) adopt(data []byte, conn *os.File) error {
	sess, reused, err := repl.Receive(s, &s.cfg, data, conn, s.takePrebuilt)
	if err != nil {
		return err
	}
	s.countReused(reused)
	if err := s.register(sess); err != nil {
		sess.Discard()
		return err
	}
	return nil
}

// register registers sess, to start with the others adopted.
func (s *registry) register(sess *repl.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.addLocked(sess) {
		return fmt.Errorf("session %d: adopted twice", sess.ID())
	}
	s.adopted = append(s.adopted, sess)
	return nil
}

// addLocked adds sess, received from another process and not running, to
// the sessions; false if one of its id is already here. s.mu is held.
func (s *registry) addLocked(sess *repl.Session) bool {
	if _, dup := s.sessions[sess.ID()]; dup {
		return false
	}
	s.sessions[sess.ID()] = sess
	s.countLoginLocked(sess) // one logging in still is, here too
	s.nextID = max(s.nextID, sess.ID())
	return true
}

// announce sets a line each adopted session shows when it starts: the
// talk's client simply went on, so this is only for those who ask for it.
func (s *registry) announce(notice string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notice = notice
}

// startAdopted runs the sessions adopt restored: first those whose
// client's input waits (typed in the pause: its user is waiting), then
// the others, a batch at a time. Starting a session is CPU work (its
// goroutines, their stacks), a quarter of a second for 10,000 of them;
// started all at once, they queue ahead of everything else the process
// has to run, the workers' answers to the waiting lines too.
func (s *registry) startAdopted() {
	s.mu.Lock()
	adopted := s.adopted
	s.adopted = nil
	waiting := repl.InputWaiting(adopted)
	var rest []*repl.Session
	for i, sess := range adopted {
		if waiting[i] {
			s.startLocked(sess)
		} else {
			rest = append(rest, sess)
		}
	}
	s.mu.Unlock()
	for len(rest) > 0 {
		runtime.Gosched() // what the sessions started so far made runnable goes first
		batch := rest[:min(len(rest), startBatch)]
		rest = rest[len(batch):]
		s.mu.Lock()
		for _, sess := range batch {
			if s.closed { // closing: it would never be waited for (close's wg.Wait)
				sess.Discard()
			} else {
				s.startLocked(sess)
			}
		}
		s.mu.Unlock()
	}
}

// startBatch is how many adopted sessions startAdopted starts at a time.
const startBatch = 64

// startLocked runs an adopted session, telling its user what the
// migration could not carry (and the notice, if any) first.
func (s *registry) startLocked(sess *repl.Session) {
	sess.Arrive(s.notice)
	s.runLocked(sess)
}

func sortSessions(sessions []*repl.Session) {
	slices.SortFunc(sessions, func(a, b *repl.Session) int { return cmp.Compare(a.ID(), b.ID()) })
}
