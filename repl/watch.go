package repl

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Watching: :watch ID shows a watcher what session ID's user sees, read
// only. The watched session's output is teed, as its editor writes it to
// its client (Session.tee), into a bounded buffer per watcher; the
// watcher's own goroutines empty it onto the watcher's connection. So a
// watcher that does not read never slows the watched session: its buffer
// fills, is thrown away, and the watcher is told how much it missed.
//
// A whole migration carries both ends (the record names the session
// watched, and the bytes not yet shown): the watch goes on in the new
// process. A session that leaves on its own (an incremental migration, a
// logout) ends its watchers' watch with a line saying so.

const (
	// watchBuffer bounds what waits for one watcher.
	watchBuffer = 64 << 10
	// recapSize bounds what a shared session keeps of its latest output,
	// shown to a watcher as it starts; recapLines is how much of it.
	recapSize  = 4 << 10
	recapLines = 24
)

// A watch is one watcher's view of one watched session.
type watch struct {
	watcher, target *Session
	wake            chan struct{} // something to show, or the watch ended; never blocks a sender

	mu      sync.Mutex
	buf     []byte // teed, not yet shown; guarded by mu
	dropped int    // bytes thrown away since last shown; guarded by mu
	ended   string // why the watched session went away, "" while it is here; guarded by mu
}

// put queues p for the watcher, never waiting: past watchBuffer, what
// waits is thrown away and counted.
func (w *watch) put(p []byte) {
	w.mu.Lock()
	if len(w.buf)+len(p) > watchBuffer {
		w.dropped += len(w.buf) + len(p)
		w.buf = nil
	} else {
		w.buf = append(w.buf, p...)
	}
	w.mu.Unlock()
	w.poke()
}

func (w *watch) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns what waits to be shown and how much was thrown away.
func (w *watch) take() ([]byte, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, d := w.buf, w.dropped
	w.buf, w.dropped = nil, 0
	return b, d
}

// pending is what waits to be shown, for a migration's record.
func (w *watch) pending() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.buf)
}

// finish ends the watch because the watched session went away. The
// target's mu is held: once it is released, no finish can follow.
func (w *watch) finish(why string) {
	w.mu.Lock()
	w.ended = why
	w.mu.Unlock()
	w.watcher.in.wakeRead()
}

func (w *watch) endedWhy() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended
}

// tee gives what the session's client is about to be sent to its watchers,
// and keeps the latest of it for a recap while the session is shared.
func (s *Session) tee(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared {
		// Up to twice the recap is kept, so that the older half is thrown
		// away once per recapSize bytes, not at each write.
		if len(p) >= recapSize {
			s.recap = append(s.recap[:0], p[len(p)-recapSize:]...)
		} else {
			if len(s.recap)+len(p) > 2*recapSize {
				s.recap = s.recap[:copy(s.recap, s.recap[len(s.recap)-recapSize:])]
			}
			s.recap = append(s.recap, p...)
		}
	}
	for _, w := range s.watchers {
		w.put(p)
	}
}

// recapLocked returns the last lines of what the session showed,
// starting at a line's beginning.
func (s *Session) recapLocked() []byte {
	r := s.recap
	if len(r) >= recapSize {
		r = r[len(r)-recapSize:]
		if i := bytes.IndexByte(r, '\n'); i >= 0 {
			r = r[i+1:] // the first line is cut
		}
	}
	if n := bytes.Count(r, []byte("\n")); n > recapLines {
		for ; n > recapLines; n-- {
			r = r[bytes.IndexByte(r, '\n')+1:]
		}
	}
	return slices.Clone(r)
}

// endWatchers ends the watches of a session that is going away.
func (s *Session) endWatchers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	why := fmt.Sprintf("session %d has ended", s.id)
	if s.moved {
		why = fmt.Sprintf("session %d has moved to another process", s.id)
	}
	for _, w := range s.watchers {
		w.finish(why)
	}
	s.watchers, s.left = nil, true
}

func (s *Session) cmdShare(args []string) bool {
	on := true
	switch {
	case len(args) == 1 && args[0] == "off":
		on = false
	case len(args) > 0:
		s.printf("error: :share lets others :watch this session; :share off stops it\n")
		return false
	}
	s.mu.Lock()
	s.shared = on
	if !on {
		s.recap = nil
	}
	n := len(s.watchers)
	s.mu.Unlock()
	switch {
	case on:
		s.printf("session %d is shared: anyone logged in may :watch %d (read only; :share off stops it)\n", s.id, s.id)
	case n > 0:
		s.printf("session %d is no longer shared: nobody new may watch it; the %s watching now go on (admins may always watch)\n", s.id, plural(n, "session"))
	default:
		s.printf("session %d is no longer shared (admins may always watch)\n", s.id)
	}
	return false
}

func (s *Session) cmdWatch(args []string) bool {
	var id uint64
	err := fmt.Errorf("one argument")
	if len(args) == 1 {
		id, err = strconv.ParseUint(args[0], 10, 64)
	}
	if err != nil {
		s.printf("error: :watch ID shows what session ID's user sees (ids: :who)\n")
		return false
	}
	w, err := s.startWatch(id, nil)
	if err != nil {
		s.printf("error: %v\n", err)
		return false
	}
	s.runWatch(w, true)
	return false
}

// startWatch registers s as a watcher of session id, with pending (carried
// by a migration) to show first.
func (s *Session) startWatch(id uint64, pending []byte) (w *watch, err error) {
	if id == s.id {
		return nil, fmt.Errorf("session %d is your own", id)
	}
	target := s.host.Lookup(id)
	if target == nil {
		return nil, fmt.Errorf("no session %d here (see :who)", id)
	}
	me := s.Info().User
	w = &watch{watcher: s, target: target, wake: make(chan struct{}, 1)}
	target.mu.Lock()
	switch {
	case target.user == "":
		err = fmt.Errorf("session %d is not logged in", id)
	case target.moved:
		err = fmt.Errorf("session %d has moved to another process", id)
	case target.left:
		err = fmt.Errorf("session %d has ended", id)
	case !target.shared && !s.cfg.IsAdmin(me):
		err = fmt.Errorf("session %d (%s) is not shared; its user may allow watching with :share", id, target.user)
	default:
		w.buf = append(w.buf, pending...)
		if pending == nil && target.shared {
			w.buf = target.recapLocked()
		}
		target.watchers = append(target.watchers, w)
	}
	target.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Not under target.mu: two sessions watching each other would take
	// the two locks in opposite orders.
	s.mu.Lock()
	s.watching = w
	s.mu.Unlock()
	return w, nil
}

// runWatch shows w until the watcher presses Enter, Ctrl-C or Ctrl-D, the
// watched session goes away, or the watcher's client does. Nothing the
// watcher types goes anywhere else. fresh: the watch starts now (not
// arriving from another process), and both users are told.
func (s *Session) runWatch(w *watch, fresh bool) {
	t := w.target
	if fresh {
		s.printf("watching session %d (%s), read only; Enter, Ctrl-C or Ctrl-D stops\n", t.id, t.Info().User)
	}
	stop := make(chan struct{})
	var shown sync.WaitGroup
	shown.Add(1)
	go func() { // ends when stop is closed, or this client is handed away
		defer shown.Done()
		if fresh {
			// From here, not the session's goroutine: a watched client that
			// does not read delays this watcher's view, never its keys.
			t.printf("[%s is watching]\n", s.Info().User)
		}
		s.show(w, stop)
	}()

	why := ""
	b := make([]byte, 256)
	for why == "" {
		n, err := s.in.Read(b)
		switch {
		case err == errWoken:
			why = w.endedWhy()
		case err == errInterrupt:
			why = "stopped watching"
		case err != nil:
			why = "-" // the client left or was handed away: nothing to say
		case bytes.IndexByte(b[:n], keyEnter) >= 0 || bytes.IndexByte(b[:n], keyCtrlD) >= 0:
			why = "stopped watching"
		}
	}

	t.mu.Lock()
	t.watchers = slices.DeleteFunc(t.watchers, func(x *watch) bool { return x == w })
	t.mu.Unlock()
	s.mu.Lock()
	s.watching = nil
	s.mu.Unlock()
	s.in.mu.Lock()
	s.in.woken = false // a finish that raced with the watcher's own key
	s.in.mu.Unlock()
	close(stop)
	s.nc.SetWriteDeadline(time.Now()) // a write to a client that does not read
	shown.Wait()
	s.nc.SetWriteDeadline(time.Time{})
	if why != "-" {
		s.printf("\r\n[%s]\n", why)
	}
}

// show writes what w queues to the watcher's client until stop is closed,
// holding it while a migration pauses the watcher.
func (s *Session) show(w *watch, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-w.wake:
		}
		if !s.mayWrite(stop) {
			return
		}
		b, dropped := w.take()
		if dropped > 0 {
			fmt.Fprintf(s.conn, "\r\n[translucent: you fell behind; %d bytes of session %d were not shown]\r\n", dropped, w.target.id)
		}
		if _, err := s.conn.Write(b); err != nil {
			return
		}
	}
}

// mayWrite waits until the session's client may be written to (a
// migration's pause holds it) and reports whether it still may (not once
// another process has it, or stop is closed).
func (s *Session) mayWrite(stop <-chan struct{}) bool {
	s.mu.Lock()
	for s.paused != nil && !s.moved {
		ch := s.paused
		s.mu.Unlock()
		select {
		case <-ch:
		case <-stop:
			return false
		}
		s.mu.Lock()
	}
	moved := s.moved
	s.mu.Unlock()
	return !moved
}

// resumeWatch goes on with the watch a migration carried.
func (s *Session) resumeWatch() {
	id, pending := s.watchID, s.watchPending
	s.watchID, s.watchPending = 0, nil
	w, err := s.startWatch(id, pending)
	if err != nil {
		s.printf("\r\n[stopped watching: %v]\n", err)
		return
	}
	s.runWatch(w, false)
}
