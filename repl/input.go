package repl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"unicode/utf8"
)

// errInterrupt is returned by input.Read when the user pressed Ctrl-C (or
// sent IAC IP) while no evaluation was running: the line being typed is
// abandoned.
var errInterrupt = errors.New("repl: interrupted")

// errWoken is returned once by input.Read after wakeRead: something other
// than the client (a watched session that ended) wants the reader back.
var errWoken = errors.New("repl: woken")

const (
	keyCtrlC = 0x03
	keyCtrlD = 0x04 // the end of the input on an empty line; ends a watch
	keyEnter = '\r' // the telnet layer turns every end of line into '\r'

	// maxBuffered bounds the input read from the socket but not yet
	// consumed; beyond it the pump stops reading and the kernel holds the
	// rest (back-pressure on the client).
	maxBuffered = 1 << 20
	// maxTyped bounds the keystrokes kept of a half-typed line; a line
	// edited at greater length is not carried by a migration.
	maxTyped = 256 << 10
)

// input sits between the socket and the line editor. Its pump goroutine
// reads the client continuously, so that Ctrl-C reaches a running
// evaluation, and keeps whatever was typed ahead in buf, in order, for the
// editor to consume later.
//
// For a migration, input can be paused: the pump stops reading (the kernel
// keeps what the client sends next) and the editor's Read parks instead of
// consuming. Then buf, partial and typed are exactly what this process
// holds of the client's keystrokes.
type input struct {
	src io.Reader // the telnet connection

	mu         sync.Mutex
	cond       *sync.Cond // signalled on every change of the fields below; uses mu
	buf        []byte     // decoded input not yet consumed; guarded by mu
	partial    []byte     // an incomplete UTF-8 or key sequence at the end of the last read; guarded by mu
	typed      []byte     // keystrokes handed to the editor since the last Enter: the half-typed line; guarded by mu
	err        error      // sticky read error; guarded by mu
	cancelEval func()     // cancels the running evaluation, nil when none; guarded by mu
	paused     bool       // guarded by mu
	pumpIdle   bool       // the pump is waiting, not reading; guarded by mu
	parked     bool       // the editor waits in Read while paused; guarded by mu
	onStill    func()     // set by askPause: called once, under mu, when the input is still or failed
	replay     int        // leading bytes of buf the previous process already echoed; guarded by mu
	muted      bool       // editor output is dropped while replaying; guarded by mu
	woken      bool       // Read returns errWoken next (wakeRead); guarded by mu
	arrived    chan struct{}
	once       sync.Once
	gone       chan struct{} // closed when the client's connection fails: a waiting login gives up its place
	goneOnce   sync.Once
}

func newInput(src io.Reader) *input {
	in := &input{src: src, arrived: make(chan struct{}), gone: make(chan struct{})}
	in.cond = sync.NewCond(&in.mu)
	return in
}

// pumpBuffer is the size of a session's read buffer, which it holds for
// its life: typed lines are short, and a paste takes a few more reads.
const pumpBuffer = 1 << 10

// pump reads until the source fails, then records the error and returns.
// It is the only reader of src; it ends when the connection is closed. A
// read deadline (how a pause stops a blocked read) is not a failure.
func (in *input) pump() {
	b := make([]byte, pumpBuffer)
	for {
		in.mu.Lock()
		for (in.paused || len(in.buf) >= maxBuffered) && in.err == nil {
			// Signal only a change: two waiters that broadcast on every
			// wake-up (this loop and Read's) wake each other forever, and a
			// paused server with many sessions spends its CPUs on that.
			if !in.pumpIdle {
				in.pumpIdle = true
				in.cond.Broadcast()
				in.stillLocked()
			}
			in.cond.Wait()
		}
		if in.err != nil {
			// Ended (end): the socket may be another process's now, so not
			// one more byte is read from it.
			in.mu.Unlock()
			return
		}
		in.pumpIdle = false
		in.mu.Unlock()

		n, err := in.src.Read(b)
		if n > 0 {
			in.once.Do(func() { close(in.arrived) })
			in.add(b[:n])
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			in.goneOnce.Do(func() { close(in.gone) })
			in.mu.Lock()
			in.err = err
			if in.cancelEval != nil {
				// Nobody is left to read the answer: stop the line
				// rather than let it burn a CPU for no one.
				in.cancelEval()
			}
			in.cond.Broadcast()
			in.stillLocked()
			in.mu.Unlock()
			return
		}
	}
}

// add appends valid UTF-8 from b to buf, with other terminals' keys
// translated (translateKeys). A Ctrl-C during an evaluation cancels it and
// is consumed; bytes that are not UTF-8 are dropped, because the line
// editor stalls on them.
func (in *input) add(b []byte) {
	in.mu.Lock()
	data := append(in.partial, b...)
	in.partial = nil
	in.mu.Unlock()
	clean := make([]byte, 0, len(data))
	var partial []byte
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			clean = append(clean, c)
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) {
			partial = append([]byte(nil), data[i:]...)
			break
		}
		r, size := utf8.DecodeRune(data[i:])
		if r != utf8.RuneError || size > 1 {
			clean = append(clean, data[i:i+size]...)
		}
		i += size
	}
	clean, hold := translateKeys(clean)
	if partial == nil {
		partial = hold
	} else {
		clean = append(clean, hold...) // not a key after all: a character follows
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	in.partial = partial
	if in.cancelEval != nil {
		kept := clean[:0]
		for _, c := range clean {
			if c == keyCtrlC {
				in.cancelEval()
				continue
			}
			kept = append(kept, c)
		}
		clean = kept
	}
	in.buf = append(in.buf, clean...)
	in.cond.Broadcast()
}

// Arrived is closed when the first byte of data has been read.
func (in *input) Arrived() <-chan struct{} { return in.arrived }

// Gone is closed when reading the client failed: it left, or its
// connection was closed.
func (in *input) Gone() <-chan struct{} { return in.gone }

// evaluating arranges for Ctrl-C to call cancel until done is called.
// Ctrl-C typed before it (still in buf) also cancels, so that a user who
// typed `for {}` then Ctrl-C quickly is not ignored.
func (in *input) evaluating(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	in.mu.Lock()
	in.cancelEval = cancel
	if i := bytes.IndexByte(in.buf, keyCtrlC); i >= 0 {
		in.buf = append(in.buf[:i], in.buf[i+1:]...)
		cancel()
	}
	if in.err != nil && !errors.Is(in.err, os.ErrDeadlineExceeded) {
		cancel() // the client left after typing the line: see pump
	}
	in.mu.Unlock()
	return ctx, func() {
		in.mu.Lock()
		in.cancelEval = nil
		in.mu.Unlock()
		cancel()
	}
}

// Read gives the line editor at most one line: bytes up to and including
// the first Enter, or up to a Ctrl-C, which is returned as errInterrupt on
// its own. Stopping at Enter keeps typed-ahead lines here rather than in
// the editor's private buffer, so they are counted as unconsumed input.
func (in *input) Read(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for (len(in.buf) == 0 && !in.woken || in.paused) && in.err == nil {
		if in.parked != in.paused { // a change only (see pump)
			in.parked = in.paused
			in.cond.Broadcast()
			in.stillLocked()
		}
		in.cond.Wait()
	}
	in.parked = false
	if in.woken && in.err == nil {
		in.woken = false
		return 0, errWoken
	}
	if len(in.buf) == 0 {
		return 0, in.err
	}
	if in.replay == 0 && in.muted {
		// The editor has written the echo of the replayed keystrokes, and
		// everything from now on is new to the client.
		in.muted = false
	}
	if in.buf[0] == keyCtrlC {
		in.consumeLocked(1)
		in.typed = nil
		return 0, errInterrupt
	}
	n := 0
	for n < len(in.buf) && n < len(p) && (in.replay == 0 || n < in.replay) {
		c := in.buf[n]
		if c == keyCtrlC {
			break
		}
		p[n] = c
		n++
		if c == keyEnter {
			break
		}
	}
	in.replay -= min(n, in.replay)
	in.consumeLocked(n)
	if p[n-1] == keyEnter || len(in.typed)+n > maxTyped {
		in.typed = in.typed[:0]
	} else {
		in.typed = append(in.typed, p[:n]...)
	}
	return n, nil
}

func (in *input) consumeLocked(n int) {
	in.buf = in.buf[n:]
	if len(in.buf) == 0 {
		in.buf = nil // let the backing array go
	}
	in.cond.Broadcast()
}

// Pending returns a copy of the input read but not yet consumed.
func (in *input) Pending() []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]byte(nil), in.buf...)
}

// pause stops the pump and the editor. wake must unblock a pump blocked in
// the source's Read (a read deadline in the past). pause returns once the
// pump is idle and the editor is parked in Read, or the connection failed,
// or ctx ends; it reports whether the input is now still.
func (in *input) pause(ctx context.Context, wake func()) bool {
	in.askPause(wake, nil)
	stop := context.AfterFunc(ctx, func() {
		in.mu.Lock()
		in.cond.Broadcast()
		in.mu.Unlock()
	})
	defer stop()
	in.mu.Lock()
	defer in.mu.Unlock()
	for !(in.pumpIdle && in.parked) && in.err == nil && ctx.Err() == nil {
		in.cond.Wait()
	}
	return in.pumpIdle && in.parked
}

// askPause is pause without the wait, for a server pausing thousands of
// sessions at once: onStill is called once, with in.mu held (it must not
// block), when the input is still or has failed.
func (in *input) askPause(wake, onStill func()) {
	in.mu.Lock()
	in.paused = true
	in.onStill = onStill
	in.stillLocked()
	in.mu.Unlock()
	wake()
}

// stillLocked calls onStill if the input is now still or failed.
func (in *input) stillLocked() {
	if in.onStill != nil && (in.pumpIdle && in.parked || in.err != nil) {
		f := in.onStill
		in.onStill = nil
		f()
	}
}

// resume undoes pause; the source must be readable again first.
func (in *input) resume() {
	in.mu.Lock()
	in.paused = false
	in.onStill = nil
	in.cond.Broadcast()
	in.mu.Unlock()
}

// isMuted reports whether editor output is to be dropped: the previous
// process already showed it.
func (in *input) isMuted() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.muted
}

// inputState is what a paused input holds, for another process.
type inputState struct {
	Typed   []byte // the half-typed line, as keystrokes already echoed
	Pending []byte // read from the socket, not yet seen by the editor
	Partial []byte // an incomplete UTF-8 or key sequence
}

func (in *input) state() inputState {
	in.mu.Lock()
	defer in.mu.Unlock()
	return inputState{
		Typed:   append([]byte(nil), in.typed...),
		Pending: append([]byte(nil), in.buf...),
		Partial: append([]byte(nil), in.partial...),
	}
}

// restore makes in continue from st: the editor first gets the typed
// keystrokes again with its output muted, to rebuild the line the client
// already sees, then the pending input.
func (in *input) restore(st inputState) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.buf = append(append([]byte(nil), st.Typed...), st.Pending...)
	in.replay = len(st.Typed)
	in.partial = append([]byte(nil), st.Partial...)
	in.muted = true
}

// buffered reports whether input waits in in beyond the keystrokes to
// replay.
func (in *input) buffered() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.buf) > in.replay
}

// wakeRead makes the next Read, or the one waiting, return errWoken
// (not while paused: a paused reader stays parked for the migration).
func (in *input) wakeRead() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.woken = true
	in.cond.Broadcast()
}

// interruptEval cancels the running evaluation, if any.
func (in *input) interruptEval() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cancelEval != nil {
		in.cancelEval()
	}
}

// unmute lets the editor redraw what restore would have kept quiet.
func (in *input) unmute() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.muted = false
	in.replay = 0
}

// end stops the input for good with err: what was read and not consumed
// is dropped (another process carries it), and the pump reads no more.
func (in *input) end(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.err = err
	in.buf, in.partial, in.typed = nil, nil, nil
	in.cond.Broadcast()
}
