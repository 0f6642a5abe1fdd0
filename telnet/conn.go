package telnet

import (
	"bytes"
	"fmt"
	"net"
	"sync"
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

// maxKeptOut bounds the answer buffer a Conn keeps between reads.
const maxKeptOut = 4096

// Conn is the server side of a telnet connection. See the package
// documentation for what Read delivers and which methods may run
// concurrently.
type Conn struct {
	nc       net.Conn
	answered chan struct{} // closed by answerLocked

	// wmu serialises writes to nc. Whoever needs both takes mu first and
	// keeps it until it holds wmu, so that answers reach the wire in the
	// order of the state changes that caused them.
	wmu sync.Mutex

	mu            sync.Mutex
	opts          [256]option    // guarded by mu
	isAnswered    bool           // answered is closed; guarded by mu
	width, height int            // guarded by mu
	ttype         string         // guarded by mu
	onResize      func(w, h int) // guarded by mu
	resized       bool           // NAWS arrived in this read; guarded by mu
	dec           decoder        // guarded by mu; changed only by Read
	out           []byte         // answers queued by decodeLocked; Read's goroutine only
}

// NewConn returns a Conn speaking telnet over nc. It sends nothing until
// Negotiate is called or the peer asks something.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, answered: make(chan struct{})}
}

// Negotiate sends our offers: WILL ECHO, WILL SGA, DO SGA, DO NAWS and
// DO TTYPE, less those already on or asked for, so that calling it again,
// or after the peer volunteered, sends nothing twice. It fails only if the
// write does.
func (c *Conn) Negotiate() error {
	c.mu.Lock()
	var out []byte
	for _, o := range offers {
		out = c.requestLocked(out, o.opt, o.local)
	}
	if err := c.sendAndUnlock(out); err != nil {
		return fmt.Errorf("telnet: negotiate: %w", err)
	}
	return nil
}

// Read reads application data into p, answering the protocol on the way.
// It returns only once it has data or an error: a read that brought only
// commands reads again. Errors of the underlying connection, including
// failing to send an answer, are returned as they are; whatever command
// was half received stays in the Conn for the next Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			m, werr := c.process(p[:n])
			if err == nil {
				err = werr
			}
			if m > 0 {
				return m, err
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

// process decodes b in place, sends the answers it calls for and reports a
// new window size.
func (c *Conn) process(b []byte) (int, error) {
	c.mu.Lock()
	n := c.decodeLocked(b)
	var resize func(w, h int)
	if c.resized {
		c.resized = false
		resize = c.onResize
	}
	w, h := c.width, c.height
	err := c.sendAndUnlock(c.out)
	c.out = c.out[:0]
	if cap(c.out) > maxKeptOut {
		c.out = nil // a flood of AYT should not stay with the connection
	}
	// Outside the lock: the callback may well ask for WindowSize.
	if resize != nil {
		resize(w, h)
	}
	return n, err
}

// sendAndUnlock writes out, if there is anything, and unlocks c.mu, which
// the caller holds.
func (c *Conn) sendAndUnlock(out []byte) error {
	if len(out) == 0 {
		c.mu.Unlock()
		return nil
	}
	c.wmu.Lock()
	c.mu.Unlock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(out)
	return err
}

// Write sends p as data, doubling every 0xFF so that the peer does not
// take it for IAC. It returns how many bytes of p were sent.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if bytes.IndexByte(p, IAC) < 0 {
		return c.nc.Write(p)
	}
	buf := make([]byte, 0, len(p)+8)
	for _, x := range p {
		buf = append(buf, x)
		if x == IAC {
			buf = append(buf, IAC)
		}
	}
	n, err := c.nc.Write(buf)
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
