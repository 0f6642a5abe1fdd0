package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"

	"translucent/namespace"
)

// Serve is the worker's side: it evaluates the namespaces the front opens,
// on conn, until the front closes it, and then returns the read error
// (io.EOF for a clean end). The caller exits the process afterwards: code
// that sessions started may still be running, and nothing else needs it.
func Serve(conn io.ReadWriter) error {
	h := &host{w: newFrameWriter(conn), sessions: map[uint64]*wsession{}}
	if err := h.w.write(kindHello, 0, helloMsg{Version: WireVersion, Pid: os.Getpid()}); err != nil {
		return err
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		f, err := readFrame(r)
		if err != nil {
			return err
		}
		if err := h.dispatch(f); err != nil {
			return err
		}
	}
}

// host is a worker's namespaces, by session number.
type host struct {
	w *frameWriter

	mu       sync.Mutex
	sessions map[uint64]*wsession // guarded by mu
}

func (h *host) session(id uint64) *wsession {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

func (h *host) dispatch(f frame) error {
	if f.kind == kindOpen {
		var m openMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		h.mu.Lock()
		if h.sessions[f.session] != nil {
			h.mu.Unlock()
			return protocolErrorf("session %d opened twice", f.session)
		}
		s := &wsession{h: h, id: f.session, reqs: make(chan frame, 8), credit: outputWindow}
		s.cond = sync.NewCond(&s.mu)
		h.sessions[f.session] = s
		h.mu.Unlock()
		go s.run(m) // ends at kindClose, or with the process
		return nil
	}
	if f.kind == kindCollect {
		go func() { // ends with the collection
			runtime.GC()
			h.w.write(kindCollected, 0, nil)
		}()
		return nil
	}
	s := h.session(f.session)
	if s == nil {
		// A session the front closed, or whose open failed: what was in
		// flight for it no longer matters.
		return nil
	}
	switch f.kind {
	case kindEval:
		s.mu.Lock()
		s.queued++
		s.mu.Unlock()
		s.reqs <- f // the front sends one evaluation at a time
	case kindClose, kindReplace:
		s.reqs <- f // in order with the evaluations
	case kindInterrupt:
		s.interrupt()
	case kindCall:
		var m callMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		go s.call(m) // a question answered beside a running evaluation, as namespace allows
	case kindAck:
		var m ackMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		s.mu.Lock()
		s.credit = min(s.credit+m.N, outputWindow)
		s.cond.Broadcast()
		s.mu.Unlock()
	default:
		return protocolErrorf("frame %q is not for a worker", f.kind)
	}
	return nil
}

// wsession is one namespace in a worker. Its goroutine (run) opens it,
// evaluates what the front sends in order, and checkpoints it after each
// evaluation.
type wsession struct {
	h    *host
	id   uint64
	reqs chan frame // open's successors: eval and close, in order

	mu       sync.Mutex
	cond     *sync.Cond           // on mu: credit grew, or the session is stopping
	ns       *namespace.Namespace // guarded by mu to set; used by run and call
	cancel   context.CancelFunc   // the running evaluation's; guarded by mu
	queued   int                  // evaluations received and not ended; guarded by mu
	stopNext bool                 // an interrupt came before its evaluation started; guarded by mu
	credit   int                  // output bytes the front will take now; guarded by mu
	muted    bool                 // output is dropped: interrupted, or closed; guarded by mu
	closed   bool                 // guarded by mu
	saved    []byte               // the last checkpoint sent; used by run
	savedRev uint64               // ns's revision when saved was what it was restored from, else 0; used by run
	line     uint64               // evaluations ended; used by run
	recycle  int                  // rebuild the interpreter after this many evaluations; 0 never
	sinceNew int                  // evaluations since the interpreter was built; used by run
}

func (s *wsession) run(m openMsg) {
	opts := namespace.Options{Stdout: s, Stderr: s, Version: m.Version, ServerPid: m.ServerPid, Unrestricted: m.Unrestricted}
	s.recycle = m.Recycle
	var ns *namespace.Namespace
	if len(m.State) == 0 {
		ns = namespace.New(opts)
	} else {
		var snap namespace.Snapshot
		if err := decMode.Unmarshal(m.State, &snap); err != nil {
			s.fail(fmt.Errorf("worker: decoding a snapshot: %w", err))
			return
		}
		var err error
		restore := func() {
			if ns, err = namespace.Restore(opts, snap); err == nil && m.Idle {
				// A restored interpreter's first line costs a few times
				// the next one's; after a migration, a thousand sessions'
				// first lines came all at once, right after the pause.
				// Paid here, ahead of need, by a line that changes nothing
				// (a statement: an expression's value would become `_`).
				ns.Eval(context.Background(), "_ = 0")
				// And the checkpoint after it: the encoder's caches are
				// built at a process's first snapshot (a fifth of the
				// new workers' CPU in the first moments after a pause).
				if snap, _, err := ns.Snapshot(); err == nil {
					cbor.Marshal(snap)
				}
			}
		}
		if m.Idle {
			idle(restore)
		} else {
			restore()
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.saved = m.State
		s.savedRev, _ = ns.Revision()
	}
	s.mu.Lock()
	s.ns = ns
	s.mu.Unlock()
	s.h.w.write(kindOpened, s.id, openedMsg{})

	for f := range s.reqs {
		if f.kind == kindClose {
			s.close()
			return
		}
		if f.kind == kindReplace {
			ns = s.replace(ns, opts, f)
			continue
		}
		s.savedRev = 0
		var e evalMsg
		if err := decode(f, &e); err != nil {
			s.h.w.write(kindDone, s.id, doneMsg{Kind: evalError, Err: err.Error()})
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.mu.Lock()
		s.cancel, s.muted = cancel, false
		if s.stopNext {
			s.stopNext, s.muted = false, true
			cancel()
		}
		s.mu.Unlock()
		res, err := ns.Eval(ctx, e.Src)
		if errors.Is(err, namespace.ErrInterrupted) {
			// yaegi lets go of a line blocked in a call it cannot
			// interrupt (time.Sleep, a lock). Say it ended only once it
			// has: the front ends a worker whose line does not, and the
			// session goes on, rolled back, in another.
			ns.Stopped(context.Background())
		}
		s.mu.Lock()
		s.cancel = nil
		s.queued--
		s.mu.Unlock()
		cancel()
		done := doneOf(res, err)
		if !errors.Is(err, namespace.ErrIncomplete) {
			s.line++
		}
		done.Line = s.line
		s.h.w.write(kindDone, s.id, done)
		if errors.Is(err, namespace.ErrIncomplete) {
			continue
		}
		// The checkpoint goes out before the next evaluation starts, so the
		// front always holds the state from before a line that ends this
		// process.
		snap, lost, ok := s.checkpoint(ns)
		s.sinceNew++
		if ok && s.recycle > 0 && s.sinceNew >= s.recycle && len(lost) == 0 {
			ns = s.rebuild(ns, opts, snap)
		}
	}
}

// checkpoint sends the namespace's state, unless it is the one sent last.
func (s *wsession) checkpoint(ns *namespace.Namespace) (namespace.Snapshot, []string, bool) {
	rev, settled := ns.Revision()
	snap, lost, err := ns.Snapshot()
	if r, still := ns.Revision(); r != rev || !still {
		settled = false // its code changed it while it was taken
	}
	var b []byte
	if err == nil {
		b, err = cbor.Marshal(snap)
	}
	if err == nil && len(b) > maxState {
		err = fmt.Errorf("its snapshot is %d MiB, over the limit of %d MiB", len(b)>>20, maxState>>20)
	}
	if err != nil {
		s.h.w.write(kindSaved, s.id, savedMsg{Line: s.line, Err: err.Error()})
		return snap, lost, false
	}
	if bytes.Equal(b, s.saved) {
		b = nil // unchanged: the front keeps what it has
	} else {
		s.saved = b
	}
	s.h.w.write(kindSaved, s.id, savedMsg{Line: s.line, State: b, Lost: lost, Settled: settled})
	return snap, lost, true
}

// replace makes the namespace the snapshot f carries, and answers with
// kindOpened. A namespace still as it was restored (nothing evaluated or
// dropped since) whose snapshot differs only in values is updated in
// place (namespace.Update, no compiling); any other is restored afresh.
// On failure the namespace is left as it was, if it can be.
func (s *wsession) replace(ns *namespace.Namespace, opts namespace.Options, f frame) *namespace.Namespace {
	var m replaceMsg
	var snap namespace.Snapshot
	err := decode(f, &m)
	if err == nil {
		if err = decMode.Unmarshal(m.State, &snap); err != nil {
			err = fmt.Errorf("worker: decoding a snapshot: %w", err)
		}
	}
	if err != nil {
		s.h.w.write(kindOpened, s.id, openedMsg{Err: err.Error()})
		return ns
	}
	updated := false
	if rev, settled := ns.Revision(); s.savedRev != 0 && settled && rev == s.savedRev {
		var base namespace.Snapshot
		if decMode.Unmarshal(s.saved, &base) == nil {
			err := ns.Update(base, snap)
			updated = err == nil
			if err != nil && !errors.Is(err, namespace.ErrReshaped) {
				ns = s.swap(ns, namespace.New(opts)) // half updated: of no use
			}
		}
	}
	if !updated {
		fresh, err := namespace.Restore(opts, snap)
		if err != nil {
			s.h.w.write(kindOpened, s.id, openedMsg{Err: err.Error()})
			return ns
		}
		ns = s.swap(ns, fresh)
	}
	s.saved = m.State
	s.savedRev, _ = ns.Revision()
	s.h.w.write(kindOpened, s.id, openedMsg{})
	return ns
}

// swap makes fresh the session's namespace, and closes old.
func (s *wsession) swap(old, fresh *namespace.Namespace) *namespace.Namespace {
	s.mu.Lock()
	s.ns = fresh
	s.mu.Unlock()
	old.Close()
	return fresh
}

// rebuild replaces the interpreter with a fresh one restored from its own
// snapshot: yaegi's grows with every evaluation, and a fresh one is back
// to its first size and speed. Only a namespace that loses nothing by it
// and has no code of its own running is rebuilt.
func (s *wsession) rebuild(ns *namespace.Namespace, opts namespace.Options, snap namespace.Snapshot) *namespace.Namespace {
	if _, settled := ns.Revision(); !settled {
		return ns
	}
	fresh, err := namespace.Restore(opts, snap)
	if err != nil {
		return ns
	}
	s.sinceNew = 0
	return s.swap(ns, fresh)
}

func (s *wsession) fail(err error) {
	s.h.w.write(kindOpened, s.id, openedMsg{Err: err.Error()})
	s.h.mu.Lock()
	delete(s.h.sessions, s.id)
	s.h.mu.Unlock()
}

func (s *wsession) close() {
	s.mu.Lock()
	s.closed, s.muted = true, true
	s.cond.Broadcast()
	ns := s.ns
	s.mu.Unlock()
	ns.Close()
	s.h.mu.Lock()
	delete(s.h.sessions, s.id)
	s.h.mu.Unlock()
}

func (s *wsession) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil && s.queued > 0 {
		// The front interrupts only an evaluation it sent and has not
		// heard the end of: this one has not started yet.
		s.stopNext = true
		return
	}
	if s.cancel != nil {
		s.cancel()
		// Output the code would print from now on is dropped: it may be
		// blocked waiting for credit from a client that no longer reads.
		s.muted = true
		s.cond.Broadcast()
	}
}

// Write sends what the session's code prints to the front, within the
// output window.
func (s *wsession) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		s.mu.Lock()
		for s.credit == 0 && !s.muted {
			s.cond.Wait()
		}
		if s.muted {
			s.mu.Unlock()
			return n, nil
		}
		k := min(len(p), s.credit, maxOutputFrame)
		s.credit -= k
		s.mu.Unlock()
		if err := s.h.w.write(kindOutput, s.id, p[:k]); err != nil {
			return n - len(p), err
		}
		p = p[k:]
	}
	return n, nil
}

func (s *wsession) call(m callMsg) {
	s.mu.Lock()
	ns := s.ns
	s.mu.Unlock()
	r := replyMsg{ID: m.ID}
	switch m.Op {
	case opVars:
		r.Vars = ns.Vars()
	case opImports:
		r.Strs = ns.Imports()
	case opRevision:
		r.Rev, r.OK = ns.Revision()
	case opSnapshot:
		snap, lost, err := ns.Snapshot(m.Args...)
		if err == nil {
			r.State, err = cbor.Marshal(snap)
		}
		if err != nil {
			r.Err = err.Error()
		}
		r.Lost = lost
	case opDrop:
		if len(m.Args) != 1 {
			r.Err = "worker: drop takes one name"
		} else if err := ns.Drop(m.Args[0]); err != nil {
			r.Err = err.Error()
		}
	case opUndrop:
		if len(m.Args) == 1 {
			r.OK = ns.Undrop(m.Args[0])
		}
	case opDropped:
		r.Strs = ns.Dropped()
	case opTypeOf:
		if len(m.Args) != 1 {
			r.Err = "worker: typeof takes one expression"
		} else if typ, err := ns.TypeOf(context.Background(), m.Args[0]); err != nil {
			r.Err = err.Error()
		} else {
			r.Strs = []string{typ}
		}
	case opComplete:
		if len(m.Args) != 2 {
			r.Err = "worker: complete takes the source before and after the cursor"
		} else {
			c := ns.Complete(m.Args[0]+m.Args[1], len(m.Args[0]))
			r.Completion = &c
		}
	default:
		r.Err = fmt.Sprintf("worker: unknown call %d", m.Op)
	}
	if err := s.h.w.write(kindReply, s.id, r); err != nil && r.State != nil {
		s.h.w.write(kindReply, s.id, replyMsg{ID: m.ID, Err: err.Error()})
	}
}

// idle runs f on a thread of the lowest CPU priority (nice 19) and waits
// for it. A namespace restored ahead of a migration (Pool.RestoreIdle) is
// work that only shortens a pause to come, while the users' lines run in
// the old build's workers on the same cores: it must not delay them. The
// thread is Go's to end: f's goroutine exits locked to it, so the runtime
// never gives it to a user's line. Threads the runtime starts meanwhile do
// not inherit the priority (a locked thread hands their creation to the
// runtime's template thread).
func idle(f func()) {
	done := make(chan struct{})
	go func() { // ends when f returns
		defer close(done)
		runtime.LockOSThread() // never unlocked: see above
		// Best effort: without it the work is the same, only sooner.
		unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
		f()
	}()
	<-done
}
