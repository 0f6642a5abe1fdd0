package telnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// offers are what Negotiate asks for: the server echoes and suppresses
// go-ahead (character mode), and would like the peer's window size and
// terminal type.
var offers = []struct {
	opt   Option
	local bool
}{
	{Echo, true},
	{SGA, true},
	{SGA, false},
	{NAWS, false},
	{TTYPE, false},
}

// ErrNotReading is why every Read and Write fails once a Conn has given up
// on a client that does not read what it is sent, and closed the
// connection.
var ErrNotReading = errors.New("telnet: client not reading")

// DefaultStallTimeout is how long a write may wait for the client to take
// its next piece (16 KiB, or what is left) before the Conn gives up on it
// (see SetStallTimeout): a client whose user paused it briefly survives,
// and a migration, which waits for every session to come to rest, is not
// held up for long by one that left its socket full.
const DefaultStallTimeout = 10 * time.Second

const (
	// maxKeptOut bounds the answer buffer a Conn keeps once it is empty.
	maxKeptOut = 4096

	// maxUnsent bounds the answers waiting to be sent before Read stops
	// reading until they are. Answers are a few bytes each, and an AYT
	// does not add to an unsent one: only a flood of negotiation gets here.
	maxUnsent = 16 << 10

	// writePiece bounds one write to the socket, so that a client that
	// reads slowly but steadily shows progress within the stall timeout
	// however much is sent at once.
	writePiece = 16 << 10
)

// Conn is the server side of a telnet connection. See the package
// documentation for what Read delivers and which methods may run
// concurrently.
type Conn struct {
	nc       net.Conn
	answered chan struct{} // closed by answerLocked
	stall    atomic.Int64  // the stall timeout in nanoseconds; 0 for the default

	// wmu is held by whoever writes to nc: a Write, Negotiate, or the
	// goroutine that sends Read's answers (flush). Whoever needs both
	// takes wmu first. Nothing holds mu while writing to nc or waiting for
	// wmu, so a client that does not read keeps only writers waiting, and
	// a Read that owes it too much (sendAnswers), none of them for longer
	// than the stall timeout.
	wmu   sync.Mutex
	watch *time.Timer // gives up on the client when a write stalls; guarded by wmu

	mu            sync.Mutex
	opts          [256]option    // guarded by mu
	isAnswered    bool           // answered is closed; guarded by mu
	width, height int            // guarded by mu
	ttype         string         // guarded by mu
	onResize      func(w, h int) // guarded by mu
	resized       bool           // NAWS arrived in this read; guarded by mu
	dec           decoder        // guarded by mu; changed only by Read

	// out queues what we owe the peer (answers, offers) in the order of
	// the state changes that called for it, so that it reaches the wire in
	// that order whoever writes it. Only the holder of wmu takes bytes off
	// its front, and it writes them without mu: appending never touches
	// them.
	out     []byte        // guarded by mu
	sent    int64         // bytes taken off out since the Conn began; guarded by mu
	aytEnd  int64         // sent reaches this once the last AYT answer is written; guarded by mu
	flushed chan struct{} // non-nil while flush runs, closed as it ends; guarded by mu
	err     error         // why sending stopped for good: ErrNotReading, or flush's error; guarded by mu
}

// NewConn returns a Conn speaking telnet over nc. It sends nothing until
// Negotiate is called or the peer asks something.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, answered: make(chan struct{})}
}

// SetStallTimeout sets how long a write, of data or of answers, may wait
// for the client to take its next piece before c gives up on the client:
// it closes the connection, and that write and every later Read and Write
// fail with ErrNotReading. d <= 0 restores DefaultStallTimeout. A write
// already waiting keeps the timeout it began with.
func (c *Conn) SetStallTimeout(d time.Duration) {
	c.stall.Store(int64(max(d, 0)))
}

// Negotiate sends our offers: WILL ECHO, WILL SGA, DO SGA, DO NAWS and
// DO TTYPE, less those already on or asked for, so that calling it again,
// or after the peer volunteered, sends nothing twice. It fails only if the
// write does.
func (c *Conn) Negotiate() error {
	c.mu.Lock()
	for _, o := range offers {
		c.out = c.requestLocked(c.out, o.opt, o.local)
	}
	through := c.sent + int64(len(c.out))
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.sendOut(through); err != nil {
		return fmt.Errorf("telnet: negotiate: %w", err)
	}
	return nil
}

// Read reads application data into p, answering the protocol on the way.
// It returns only once it has data or an error: a read that brought only
// commands reads again. The answers are sent by a goroutine of their own;
// Read waits for them only while it owes the peer more than 16 KiB (see
// the package documentation). Errors of the underlying connection are
// returned as they are, except that once answers can no longer be sent
// Read fails with the reason: ErrNotReading, or the error that stopped
// them; a write deadline that stops answers Read waits for fails it with
// os.ErrDeadlineExceeded. Whatever command was half received stays in the
// Conn for the next Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	// Answers left by a write deadline, or by Restore, go first.
	if err := c.sendAnswers(); err != nil {
		return 0, err
	}
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			m, perr := c.process(p[:n])
			if perr != nil {
				return m, perr
			}
			if m > 0 {
				return m, c.readErr(err)
			}
		}
		if err != nil {
			return 0, c.readErr(err)
		}
	}
}

// readErr is err, unless the Conn has given up sending: the closed
// connection then says less than why it was closed.
func (c *Conn) readErr(err error) error {
	if err == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return err
}

// process decodes b in place, has the answers it calls for sent and
// reports a new window size. It fails as sendAnswers does.
func (c *Conn) process(b []byte) (int, error) {
	c.mu.Lock()
	n := c.decodeLocked(b)
	var resize func(w, h int)
	if c.resized {
		c.resized = false
		resize = c.onResize
	}
	w, h := c.width, c.height
	c.mu.Unlock()
	err := c.sendAnswers()
	// Outside the lock: the callback may well ask for WindowSize.
	if resize != nil {
		resize(w, h)
	}
	return n, err
}

// sendAnswers has what Read owes the peer sent, and waits for it to go if
// it is more than maxUnsent: reading on would queue answers without bound.
// A peer that reads is so slowed to the pace at which it reads; one that
// does not is given up on at the stall timeout. It fails once answers can
// no longer be sent, and when a write deadline leaves too many unsent.
func (c *Conn) sendAnswers() error {
	c.mu.Lock()
	c.flushLocked()
	over, flushed, err := len(c.out) > maxUnsent, c.flushed, c.err
	c.mu.Unlock()
	if err != nil || !over {
		return err
	}
	<-flushed // not nil: flushLocked started it, unless c.err is set
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return c.err
	case len(c.out) > maxUnsent: // flush ends with answers unsent only at a deadline
		return fmt.Errorf("telnet: answers unsent: %w", os.ErrDeadlineExceeded)
	}
	return nil
}

// flushLocked starts flush if something is queued and nothing sends it.
// The caller holds c.mu.
func (c *Conn) flushLocked() {
	if len(c.out) == 0 || c.flushed != nil || c.err != nil {
		return
	}
	c.flushed = make(chan struct{})
	go c.flush(c.flushed) // ends once out is empty or a write fails: at the latest, the stall timeout
}

// flush sends out until it is empty. It stops early when a write fails:
// for good (c.err) unless the failure was a deadline, which leaves the
// rest queued for the next Read or Write.
func (c *Conn) flush(done chan struct{}) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	for {
		c.mu.Lock()
		if len(c.out) == 0 || err != nil || c.err != nil {
			c.flushed = nil
			close(done)
			c.mu.Unlock()
			return
		}
		through := c.sent + int64(len(c.out))
		c.mu.Unlock()
		err = c.sendOut(through)
	}
}

// sendOut writes out until c.sent reaches through. A failure other than a
// deadline stops all sending for good. The caller holds c.wmu.
func (c *Conn) sendOut(through int64) error {
	for {
		c.mu.Lock()
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		if c.sent >= through {
			c.mu.Unlock()
			return nil
		}
		b := c.out[:through-c.sent]
		c.mu.Unlock()

		n, err := c.send(b)

		c.mu.Lock()
		c.out = c.out[n:]
		c.sent += int64(n)
		if len(c.out) == 0 && cap(c.out) > maxKeptOut {
			c.out = nil // a flood of negotiation should not stay with the connection
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// send writes b to nc, a piece at a time, and gives up on the client if a
// piece makes no progress within the stall timeout. The caller holds
// c.wmu.
func (c *Conn) send(b []byte) (int, error) {
	stall := time.Duration(c.stall.Load())
	if stall == 0 {
		stall = DefaultStallTimeout
	}
	n := 0
	for n < len(b) {
		if c.watch == nil {
			c.watch = time.AfterFunc(stall, c.notReading)
		} else {
			c.watch.Reset(stall)
		}
		m, err := c.nc.Write(b[n:min(len(b), n+writePiece)])
		stopped := c.watch.Stop()
		n += m
		if !stopped {
			return n, ErrNotReading
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// notReading gives up on the client: closing the connection ends whatever
// write waits on it, and every later Read and Write fails with
// ErrNotReading.
func (c *Conn) notReading() {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrNotReading
	}
	c.mu.Unlock()
	c.nc.Close()
}

// Write sends p as data, doubling every 0xFF so that the peer does not
// take it for IAC, after the answers Read has queued. It returns how many
// bytes of p were sent. A client that stalls it for the stall timeout
// makes it fail with ErrNotReading, and closes the connection.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	through := c.sent + int64(len(c.out))
	c.mu.Unlock()
	if err := c.sendOut(through); err != nil {
		return 0, err
	}
	if bytes.IndexByte(p, IAC) < 0 {
		return c.send(p)
	}
	buf := make([]byte, 0, len(p)+8)
	for _, x := range p {
		buf = append(buf, x)
		if x == IAC {
			buf = append(buf, IAC)
		}
	}
	n, err := c.send(buf)
	if err != nil {
		return unescapedLen(buf[:n]), err
	}
	return len(p), nil
}

// unescapedLen returns how many data bytes the escaped prefix b carries
// whole.
func unescapedLen(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		if b[i] == IAC {
			if i+1 == len(b) {
				break
			}
			i++
		}
		n++
	}
	return n
}

// NetConn returns the connection c speaks over. Setting a read deadline on
// it is how to stop Read without losing anything.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Answered returns a channel closed once the peer has answered our offer
// to echo, with DO or DONT ECHO, or asked us to echo of its own accord.
// A client that never negotiates (nc) never closes it.
func (c *Conn) Answered() <-chan struct{} { return c.answered }

func (c *Conn) answerLocked() {
	if !c.isAnswered {
		c.isAnswered = true
		close(c.answered)
	}
}

// Enabled reports whether opt is on, performed by us (local) or by the
// peer.
func (c *Conn) Enabled(opt Option, local bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if local {
		return c.opts[opt].us.state == QYes
	}
	return c.opts[opt].him.state == QYes
}

// WindowSize returns the size the peer last reported with NAWS, or 0, 0.
func (c *Conn) WindowSize() (width, height int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.width, c.height
}

// TerminalType returns the terminal type the peer reported, as it spelled
// it, or "".
func (c *Conn) TerminalType() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ttype
}

// OnResize arranges for f to be called, on Read's goroutine and after the
// read's answers are sent, whenever a read brought a window size; several
// in one read make one call with the last. Set it before reading.
func (c *Conn) OnResize(f func(width, height int)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onResize = f
}
