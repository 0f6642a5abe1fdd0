package worker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"translucent/namespace"
)

// Namespace is a session's namespace as the front sees it: it runs in a
// worker, and it survives the worker. It has the methods of a
// *namespace.Namespace that a session uses, and like it must not be
// evaluated from two goroutines at once.
type Namespace struct {
	pl   *Pool
	opts namespace.Options // Stdout and Stderr are written by pump

	mu      sync.Mutex
	p       *proc                    // where it runs now; guarded by mu
	sid     uint64                   // its number in p; guarded by mu
	epoch   uint64                   // restores in a new worker so far; guarded by mu
	state   []byte                   // the last checkpoint (CBOR of a namespace.Snapshot); guarded by mu
	sum     []byte                   // SHA-256 of state; guarded by mu
	current bool                     // state is the namespace as it is now (see Checkpoint); guarded by mu
	altered uint64                   // checkpoints of lines up to this one may predate a Drop or Undrop; guarded by mu
	lost    []string                 // what the checkpoint could not carry; guarded by mu
	stale   string                   // why the checkpoint is older than the last evaluation; guarded by mu
	line    uint64                   // the last evaluation that ended in p (doneMsg.Line); guarded by mu
	savedAt uint64                   // the evaluation the checkpoint is the state after; guarded by mu
	eval    *pending                 // the evaluation under way; guarded by mu
	moving  chan struct{}            // non-nil while rehome restores it elsewhere, closed after; guarded by mu
	opened  chan openedMsg           // an open under way; guarded by mu
	calls   map[uint64]chan replyMsg // questions under way; guarded by mu
	callID  uint64                   // guarded by mu
	events  []event                  // for pump, in the order they arrived; guarded by mu
	closed  bool                     // guarded by mu
	wake    chan struct{}            // tells pump that events or closed changed
	pumpEnd chan struct{}            // closed when pump returns
}

// pending is one evaluation under way.
type pending struct {
	p       *proc
	arrived chan struct{} // closed when its outcome is known
	passed  chan struct{} // closed when, besides, the output before it is written
	done    doneMsg       // set before arrived closes
	err     error         // instead of done: the worker ended first
}

// event is output to write, or the end of an evaluation, in worker order.
type event struct {
	p    *proc // nil for a note of the front's own
	sid  uint64
	out  []byte
	done *pending
}

// New opens an empty namespace in a worker.
func (pl *Pool) New(opts namespace.Options) (*Namespace, error) {
	return pl.Restore(opts, nil)
}

// Restore opens a namespace in a worker, restored from state (the CBOR of
// a namespace.Snapshot; nil for an empty namespace).
func (pl *Pool) Restore(opts namespace.Options, state []byte) (*Namespace, error) {
	return pl.restore(opts, state, false)
}

// RestoreIdle is Restore at the lowest CPU priority, in the worker too:
// for a namespace restored ahead of a migration, while the users' lines
// still run in the old build's workers on the same cores.
func (pl *Pool) RestoreIdle(opts namespace.Options, state []byte) (*Namespace, error) {
	return pl.restore(opts, state, true)
}

func (pl *Pool) restore(opts namespace.Options, state []byte, idle bool) (*Namespace, error) {
	n := &Namespace{pl: pl, opts: opts, calls: map[uint64]chan replyMsg{}, wake: make(chan struct{}, 1), pumpEnd: make(chan struct{})}
	p, sid, err := pl.reopen(n, state, idle)
	if err != nil {
		return nil, err
	}
	n.p, n.sid = p, sid
	// A restored namespace is its snapshot, until it evaluates.
	n.keep(state, true)
	go n.pump() // ends at Close
	return n, nil
}

// open opens n in a worker with room, from state.
func (pl *Pool) open(n *Namespace, state []byte, idle bool) (*proc, uint64, error) {
	p, err := pl.place()
	if err != nil {
		return nil, 0, err
	}
	ch := make(chan openedMsg, 1)
	pl.mu.Lock()
	p.reserved--
	if p.dead {
		pl.mu.Unlock()
		return nil, 0, fmt.Errorf("worker: worker %d ended before the session was opened: %s", p.pid, p.reason())
	}
	p.nextSID++
	sid := p.nextSID
	p.sessions[sid] = n
	pl.mu.Unlock()
	n.mu.Lock()
	n.opened = ch
	n.mu.Unlock()
	msg := openMsg{Version: n.opts.Version, ServerPid: n.opts.ServerPid, Unrestricted: n.opts.Unrestricted, State: state, Recycle: max(0, pl.cfg.Recycle), Idle: idle}
	t := time.NewTimer(openTimeout)
	defer t.Stop()
	var err2 error
	if err := p.send(kindOpen, sid, msg); err != nil {
		err2 = err
	} else {
		select {
		case m := <-ch:
			if m.Err == "" {
				return p, sid, nil
			}
			err2 = &restoreError{m.Err}
		case <-p.gone:
			err2 = fmt.Errorf("worker %d ended: %s", p.pid, p.reason())
		case <-t.C:
			p.kill(fmt.Sprintf("it did not open a session within %v", openTimeout))
			err2 = fmt.Errorf("worker %d did not open the session within %v", p.pid, openTimeout)
		}
	}
	pl.mu.Lock()
	delete(p.sessions, sid)
	pl.mu.Unlock()
	return nil, 0, fmt.Errorf("worker: %w", err2)
}

// restoreError is a worker's answer that a state does not restore: the
// same state would fail again in any worker.
type restoreError struct{ msg string }

func (e *restoreError) Error() string { return e.msg }

// reopen opens n from state, in another worker if one ends meanwhile (a
// neighbour's crash, a kill), a few times.
func (pl *Pool) reopen(n *Namespace, state []byte, idle bool) (*proc, uint64, error) {
	var err error
	for range 3 {
		var p *proc
		var sid uint64
		p, sid, err = pl.open(n, state, idle)
		var bad *restoreError
		if err == nil || errors.As(err, &bad) || errors.Is(err, ErrClosed) {
			return p, sid, err
		}
	}
	return nil, 0, err
}

// receive handles a frame the worker sent for n. An error ends the
// worker.
func (n *Namespace) receive(p *proc, f frame) error {
	switch f.kind {
	case kindOpened:
		var m openedMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		n.mu.Lock()
		ch := n.opened
		n.opened = nil
		n.mu.Unlock()
		if ch == nil {
			return protocolErrorf("session %d opened unasked", f.session)
		}
		ch <- m
	case kindOutput:
		n.push(event{p: p, sid: f.session, out: f.payload})
	case kindDone:
		var m doneMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		n.mu.Lock()
		e := n.eval
		if e == nil || e.p != p {
			n.mu.Unlock()
			return protocolErrorf("session %d: an evaluation ended that was not asked for", f.session)
		}
		n.eval = nil
		e.done = m
		n.line = m.Line
		n.mu.Unlock()
		close(e.arrived)
		n.push(event{done: e})
	case kindSaved:
		var m savedMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		n.mu.Lock()
		if n.p == p {
			switch {
			case m.Err != "":
				n.stale = m.Err
			case m.State != nil:
				n.keep(m.State, m.Settled)
				n.lost = m.Lost
				fallthrough
			default:
				n.stale, n.savedAt = "", m.Line
				n.current = m.Settled && n.eval == nil && m.Line > n.altered
			}
		}
		n.mu.Unlock()
	case kindReply:
		var m replyMsg
		if err := decode(f, &m); err != nil {
			return err
		}
		n.mu.Lock()
		ch := n.calls[m.ID]
		delete(n.calls, m.ID)
		n.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	default:
		return protocolErrorf("frame %q is not for the front", f.kind)
	}
	return nil
}

func (n *Namespace) push(e event) {
	n.mu.Lock()
	n.events = append(n.events, e)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// pump writes the session's output, in order, and marks the end of each
// evaluation once the output before it is written. It is the only
// goroutine that writes to the client for n, so a client that does not
// read holds up n alone (and, through the output window, the code that
// prints), never a worker's other sessions.
func (n *Namespace) pump() {
	defer close(n.pumpEnd)
	for {
		<-n.wake
		n.mu.Lock()
		events, closed := n.events, n.closed
		n.events = nil
		n.mu.Unlock()
		if closed {
			return
		}
		for _, e := range events {
			if e.done != nil {
				close(e.done.passed)
				continue
			}
			if w := n.out(e); w != nil {
				w.Write(e.out)
			}
			if e.p != nil {
				e.p.send(kindAck, e.sid, ackMsg{N: len(e.out)})
			}
		}
	}
}

// out is where e's output goes: the front's own notes to Notes if set,
// the worker's output to Stdout.
func (n *Namespace) out(e event) io.Writer {
	if e.p == nil && n.opts.Notes != nil {
		return n.opts.Notes
	}
	return n.opts.Stdout
}

// errEvalTimeout is the cause of an evaluation's context at EvalTimeout.
var errEvalTimeout = errors.New("worker: evaluation time limit")

// Eval evaluates src in the worker, as namespace.Namespace.Eval does, and
// also returns an error wrapping namespace.ErrRolledBack (a *RolledBack)
// when the worker ended before the evaluation did: the namespace is then
// as it was before src. When ctx ends first, the evaluation is
// interrupted; if it has not stopped within the pool's StopGrace, its
// worker is ended, and the namespace rolled back.
func (n *Namespace) Eval(ctx context.Context, src string) (namespace.Result, error) {
	if d := n.pl.cfg.EvalTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errEvalTimeout)
		defer cancel()
	}
	n.lockSettled()
	if err := n.placeLocked(); err != nil {
		n.mu.Unlock()
		return namespace.Result{}, err
	}
	if n.closed {
		n.mu.Unlock()
		return namespace.Result{}, namespace.ErrClosed
	}
	e := &pending{p: n.p, arrived: make(chan struct{}), passed: make(chan struct{})}
	n.eval = e
	n.current = false
	sid := n.sid
	n.mu.Unlock()
	e.p.send(kindEval, sid, evalMsg{Src: src}) // on failure the worker's end ends e

	select {
	case <-e.passed:
		return n.outcome(e, nil)
	case <-ctx.Done():
	}
	why := "being interrupted"
	if errors.Is(context.Cause(ctx), errEvalTimeout) {
		why = fmt.Sprintf("the time limit (--eval-timeout %v)", n.pl.cfg.EvalTimeout)
	}
	e.p.send(kindInterrupt, sid, nil)
	t := time.NewTimer(n.pl.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-e.arrived:
	case <-t.C:
		e.p.kill(fmt.Sprintf("the line did not stop within %v of %s (a call that cannot be interrupted, such as time.Sleep or a deadlock)", n.pl.cfg.StopGrace, why))
		<-e.arrived
	}
	// The output before the outcome may still be on its way to a client
	// that does not read: the session goes on without waiting for it.
	return n.outcome(e, context.Cause(ctx))
}

func (n *Namespace) outcome(e *pending, cause error) (namespace.Result, error) {
	if e.err != nil {
		return namespace.Result{}, e.err
	}
	res, err := e.done.result()
	if errors.Is(err, namespace.ErrInterrupted) && errors.Is(cause, errEvalTimeout) {
		err = &limitError{limit: n.pl.cfg.EvalTimeout}
	}
	return res, err
}

// limitError is an evaluation that EvalTimeout interrupted.
type limitError struct{ limit time.Duration }

func (e *limitError) Error() string {
	return fmt.Sprintf("interrupted: the line ran past its time limit (--eval-timeout %v)", e.limit)
}
func (e *limitError) Unwrap() error { return namespace.ErrInterrupted }

// RolledBack is the error of an evaluation whose worker ended before it
// did. The namespace is as it was before the evaluation, in a new worker.
type RolledBack struct {
	Reason string   // why the worker ended
	Lost   []string // what the restored namespace could not carry
	Stale  string   // set when the state is older than the last evaluation: why
	Empty  string   // set when nothing could be restored: why; the namespace is new
	Later  string   // set when no worker could be started yet: why; the next line tries again
	// Others is how many other sessions' lines the worker was running
	// when it ended (a pool): any of them may have ended it.
	Others int
}

func (e *RolledBack) Error() string {
	what := "error: the worker process running this line ended"
	switch {
	case e.Others == 1:
		what = "error: the worker process running this line, and another session's, ended"
	case e.Others > 1:
		what = fmt.Sprintf("error: the worker process running this line, and %d other sessions' lines, ended", e.Others)
	}
	return e.text(what, "before this line")
}

// text says what happened: what ended, and as of when the session is
// restored.
func (e *RolledBack) text(what, when string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s.", what, e.Reason)
	switch {
	case e.Empty != "":
		fmt.Fprintf(&b, " The session's namespace could not be restored (%s): it starts empty.", e.Empty)
	case e.Stale != "":
		fmt.Fprintf(&b, " The session is restored as it was before an earlier line (the last one could not be saved: %s).", e.Stale)
	default:
		fmt.Fprintf(&b, " The session is restored as it was %s.", when)
	}
	if len(e.Lost) > 0 {
		fmt.Fprintf(&b, " Not carried: %s.", strings.Join(e.Lost, "; "))
	}
	if e.Later != "" {
		fmt.Fprintf(&b, " No worker could be started for it yet (%s): the next line tries again.", e.Later)
	}
	return b.String()
}

func (e *RolledBack) Unwrap() error { return namespace.ErrRolledBack }

// placeLocked gives n a worker again if the last one ended and none could
// be started then. Called with n.mu held (by lockSettled), and returns with
// it held.
func (n *Namespace) placeLocked() error {
	if n.p != nil || n.closed {
		return nil
	}
	moved := make(chan struct{})
	n.moving = moved
	state := n.state
	n.mu.Unlock()
	p, sid, err := n.pl.reopen(n, state, false)
	n.mu.Lock()
	n.moving = nil
	close(moved)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			n.closed = true
		}
		return fmt.Errorf("worker: no worker could be started for this session: %w", err)
	}
	n.p, n.sid = p, sid
	return nil
}

// lockSettled locks n.mu once no rehome is under way, so that what the
// caller sends goes to the worker n is in from then on.
func (n *Namespace) lockSettled() {
	n.mu.Lock()
	for n.moving != nil {
		ch := n.moving
		n.mu.Unlock()
		<-ch
		n.mu.Lock()
	}
}

// rehome restores n, which ran in the ended worker old, in another, and
// ends its evaluation under way with a *RolledBack.
func (n *Namespace) rehome(old *proc, reason string, closing bool, busy int) {
	n.mu.Lock()
	if n.p != old || n.closed {
		n.mu.Unlock()
		return
	}
	state, lost, stale := n.state, n.lost, n.stale
	if stale == "" && n.savedAt < n.line {
		stale = "it ended before the state after the last line reached the server"
	}
	n.line, n.savedAt, n.altered = 0, 0, 0 // numbered afresh in the new worker
	e := n.eval
	n.eval = nil
	calls := n.calls
	n.calls = map[uint64]chan replyMsg{}
	n.epoch++
	moved := make(chan struct{})
	n.moving = moved
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.moving = nil
		n.mu.Unlock()
		close(moved)
	}()
	for _, ch := range calls {
		ch <- replyMsg{Err: "worker: the worker ended: " + reason}
	}
	rb := &RolledBack{Reason: reason, Lost: lost, Stale: stale}
	if e != nil {
		rb.Others = busy - 1 // lines of other sessions that ended with it
	}
	if closing {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		if e != nil {
			e.err = namespace.ErrClosed
			close(e.arrived)
			close(e.passed)
		}
		return
	}
	p, sid, err := n.pl.reopen(n, state, false)
	var bad *restoreError
	if errors.As(err, &bad) && state != nil {
		// The checkpoint itself does not restore (a worker said so):
		// start afresh rather than fail for good.
		rb.Empty = bad.Error()
		n.pl.cfg.Logger.Warn("session could not be restored; it starts empty", "reason", reason, "err", err)
		state = nil
		p, sid, err = n.pl.reopen(n, nil, false)
	}
	n.mu.Lock()
	// On an error p is nil, and the session's next use tries again from
	// the same state (placeLocked): workers may be dying faster than they
	// start, for a while (a neighbour's crashing lines, an operator).
	n.p, n.sid = p, sid
	n.keep(state, err == nil) // rolled back to the checkpoint: it is the namespace
	if errors.Is(err, ErrClosed) {
		n.closed = true
	}
	n.mu.Unlock()
	if err != nil && !errors.Is(err, ErrClosed) {
		n.pl.cfg.Logger.Error("no worker could be started for a session; it is tried again at its next line", "err", err)
		rb.Later = err.Error()
	}
	if e != nil {
		e.err = rb
		close(e.arrived)
		close(e.passed)
		return
	}
	// No line was running: code it left running (goroutines) or another
	// session's line ended the worker. Its user hears it between prompts.
	n.push(event{out: []byte("[translucent] " + rb.text("this session's worker process ended", "after its last line") + "\n")})
}

// call asks the worker a question about n.
func (n *Namespace) call(op int, args ...string) (replyMsg, error) {
	ch := make(chan replyMsg, 1)
	n.lockSettled()
	if err := n.placeLocked(); err != nil {
		n.mu.Unlock()
		return replyMsg{}, err
	}
	if n.closed {
		n.mu.Unlock()
		return replyMsg{}, namespace.ErrClosed
	}
	n.callID++
	id := n.callID
	n.calls[id] = ch
	p, sid := n.p, n.sid
	n.mu.Unlock()
	if err := p.send(kindCall, sid, callMsg{ID: id, Op: op, Args: args}); err != nil {
		n.mu.Lock()
		delete(n.calls, id)
		n.mu.Unlock()
		return replyMsg{}, fmt.Errorf("worker: %w", err)
	}
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.Err != "" {
			return r, errors.New(r.Err)
		}
		return r, nil
	case <-t.C:
		p.kill(fmt.Sprintf("it did not answer within %v", callTimeout))
		r := <-ch // its end answers every question
		return r, errors.New(r.Err)
	}
}

// Vars returns the namespace's global variables; nil if the worker cannot
// say.
func (n *Namespace) Vars() []namespace.Var {
	r, _ := n.call(opVars)
	return r.Vars
}

// Imports returns the import paths of the namespace.
func (n *Namespace) Imports() []string {
	r, _ := n.call(opImports)
	return r.Strs
}

// Complete is namespace.Namespace.Complete, asked of the worker. What the
// worker answers is checked, not trusted: a start outside the word, a
// candidate that does not fit it, or too many, and the answer is nothing.
func (n *Namespace) Complete(src string, pos int) namespace.Completion {
	pos = max(0, min(pos, len(src)))
	r, err := n.call(opComplete, src[:pos], src[pos:])
	if err != nil || r.Completion == nil {
		return namespace.Completion{Start: pos}
	}
	return checkCompletion(*r.Completion, src, pos)
}

// TypeOf is namespace.Namespace.TypeOf, asked of the worker.
func (n *Namespace) TypeOf(ctx context.Context, src string) (string, error) {
	r, err := n.call(opTypeOf, src)
	if err != nil {
		return "", err
	}
	if len(r.Strs) != 1 {
		return "", protocolErrorf("typeof answered %d strings", len(r.Strs))
	}
	return r.Strs[0], nil
}

// checkCompletion returns c if it fits src at pos, nothing otherwise.
func checkCompletion(c namespace.Completion, src string, pos int) namespace.Completion {
	none := namespace.Completion{Start: pos}
	if c.Start < 0 || c.Start > pos || len(c.Candidates) > namespace.MaxCandidates || c.Total < len(c.Candidates) {
		return none
	}
	word := src[c.Start:pos]
	if !strings.HasPrefix(c.Prefix, word) {
		return none
	}
	for _, cand := range c.Candidates {
		if !strings.HasPrefix(cand, c.Prefix) {
			return none
		}
	}
	return c
}

// Dropped returns the variables Drop marked.
func (n *Namespace) Dropped() []string {
	r, _ := n.call(opDropped)
	return r.Strs
}

// Drop marks a variable to be left out of snapshots.
func (n *Namespace) Drop(name string) error {
	n.changed()
	_, err := n.call(opDrop, name)
	return err
}

// Undrop takes a variable back; it reports whether it was dropped.
func (n *Namespace) Undrop(name string) bool {
	n.changed()
	r, _ := n.call(opUndrop, name)
	return r.OK
}

// Revision is namespace.Namespace.Revision's, across workers: a restore
// in a new worker moves it too. A worker that cannot say is unsettled.
func (n *Namespace) Revision() (rev uint64, settled bool) {
	r, err := n.call(opRevision)
	if err != nil {
		return 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.epoch<<48 | r.Rev, r.OK
}

// Snapshot returns the namespace as plain data, taken live in its worker.
// If the worker cannot give it (it is ending, or blocked), it returns the
// last checkpoint instead, with a note saying so.
func (n *Namespace) Snapshot(drop ...string) (namespace.Snapshot, []string, error) {
	r, err := n.call(opSnapshot, drop...)
	state, lost := r.State, r.Lost
	if err != nil {
		n.mu.Lock()
		state, lost = n.state, append([]string{fmt.Sprintf("the session is as it was before its last line: %v", err)}, n.lost...)
		n.mu.Unlock()
		if state == nil {
			return namespace.Snapshot{Version: namespace.SnapshotVersion}, lost, nil
		}
	}
	var snap namespace.Snapshot
	if err := decMode.Unmarshal(state, &snap); err != nil {
		return namespace.Snapshot{}, nil, fmt.Errorf("worker: decoding a snapshot: %w", err)
	}
	return snap, lost, nil
}

// Replace makes the namespace the snapshot state (its CBOR): cheaply when
// it is still as it was restored and only values differ, as for a
// namespace restored ahead of a migration whose session changed a
// variable since (see namespace.Update). On failure the namespace may
// have been emptied: close it.
func (n *Namespace) Replace(state []byte) error {
	n.lockSettled()
	p, sid := n.p, n.sid
	switch {
	case n.closed:
		n.mu.Unlock()
		return namespace.ErrClosed
	case p == nil || n.eval != nil || n.opened != nil:
		n.mu.Unlock()
		return errors.New("worker: the namespace is not at rest in a worker")
	}
	ch := make(chan openedMsg, 1)
	n.opened = ch
	n.current = false
	n.mu.Unlock()
	t := time.NewTimer(openTimeout)
	defer t.Stop()
	var err error
	if err = p.send(kindReplace, sid, replaceMsg{State: state}); err == nil {
		select {
		case m := <-ch:
			if m.Err != "" {
				err = &restoreError{m.Err}
			}
		case <-p.gone:
			err = fmt.Errorf("worker %d ended: %s", p.pid, p.reason())
		case <-t.C:
			p.kill(fmt.Sprintf("it did not replace a namespace within %v", openTimeout))
			err = fmt.Errorf("worker %d did not replace the namespace within %v", p.pid, openTimeout)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.opened = nil
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	n.keep(state, true)
	return nil
}

// Checkpoint returns the namespace's last checkpoint (the CBOR of a
// namespace.Snapshot, as its worker encoded it), that encoding's SHA-256
// and what it could not carry, if that checkpoint is the namespace as it
// is: nothing has been evaluated or dropped since, and nothing its code
// started was running when it was taken. Otherwise ok is false, and only
// Snapshot can say. It asks the worker nothing: a migration's pause uses
// it to name a namespace the new process already holds, or to send it,
// without a round trip per session.
func (n *Namespace) Checkpoint() (state, sum []byte, lost []string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.current || n.eval != nil || n.moving != nil || n.state == nil {
		return nil, nil, nil, false
	}
	return n.state, n.sum, n.lost, true
}

// keep makes state the checkpoint; current says it is the namespace as it
// is now. n.mu is held, or n not yet shared.
func (n *Namespace) keep(state []byte, current bool) {
	if state == nil {
		n.state, n.sum, n.current = nil, nil, false
		return
	}
	sum := sha256.Sum256(state)
	n.state, n.sum, n.current = state, sum[:], current
}

// changed says the namespace may no longer be its checkpoint: it is
// changed otherwise than by a line (Drop, Undrop), while the worker may be
// taking the checkpoint of the last line, or of one under way, which may
// then predate the change.
func (n *Namespace) changed() {
	n.mu.Lock()
	n.current = false
	n.altered = n.line
	if n.eval != nil {
		n.altered++ // the line under way may be checkpointed before the change
	}
	n.mu.Unlock()
}

// Worker returns the pid of the worker that runs the namespace and its
// resident memory.
func (n *Namespace) Worker() (pid int, rss int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		return 0, 0
	}
	return n.p.pid, n.p.rss.Load()
}

// Close ends the namespace in its worker; the worker ends when it holds
// no session.
func (n *Namespace) Close() {
	n.lockSettled()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	p, sid := n.p, n.sid // p is nil when no worker could be started
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.pumpEnd
	if p == nil {
		return
	}
	p.pl.mu.Lock()
	delete(p.sessions, sid)
	empty := len(p.sessions) == 0 && p.reserved == 0 && !p.dead
	if empty {
		p.dead = true // no open is placed here any more
		p.pl.procs = removeProc(p.pl.procs, p)
	}
	p.pl.mu.Unlock()
	p.send(kindClose, sid, nil)
	if empty {
		p.kill("it held no session")
	}
}
