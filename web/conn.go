package web

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"translucent/repl"
)

// ErrBusy is Frame's error when a Read is under way: the framing is not
// at rest, and cannot be carried.
var ErrBusy = errors.New("web: websocket read in progress")

// errWriteBroken is every Write's error after a write failed part way
// through a frame: the stream of frames can no longer be trusted.
var errWriteBroken = errors.New("web: websocket write failed mid-frame")

// controlWait bounds the write of a control frame (pong, close) by the
// reader, so that a client that does not read cannot hold the reader up.
const controlWait = 5 * time.Second

// Conn is the server side of a WebSocket as a net.Conn: Read returns the
// payload of the client's data frames (text or binary) as one stream,
// answering pings and closes on the way; Write sends binary frames. One
// goroutine may Read while others Write. Deadlines are the socket's.
// Close closes this process's descriptor of the socket and sends nothing
// (see the package doc).
type Conn struct {
	sock net.Conn

	rmu sync.Mutex // held by Read (and Frame); guards dec
	dec *decoder

	wmu  chan struct{} // holds a token while someone writes to sock (lockWrite)
	werr error         // sticky write error; guarded by wmu

	mu        sync.Mutex
	pong      []byte    // a ping's payload not answered yet; guarded by mu
	wdeadline time.Time // the write deadline the user set; guarded by mu
}

func newConn(sock net.Conn, dec *decoder) *Conn {
	return &Conn{sock: sock, dec: dec, wmu: make(chan struct{}, 1)}
}

// lockWrite takes the socket for writing, waiting at most wait (forever
// if negative), and reports whether it did; unlockWrite gives it back.
func (c *Conn) lockWrite(wait time.Duration) bool {
	select {
	case c.wmu <- struct{}{}:
		return true
	default:
	}
	if wait == 0 {
		return false
	}
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case c.wmu <- struct{}{}:
		return true
	case <-timeout:
		return false
	}
}

func (c *Conn) unlockWrite() { <-c.wmu }

// Read reads payload bytes of the client's data messages into p. It
// returns io.EOF once the client closed the WebSocket (after answering its
// close), a *ProtocolError when the client broke the protocol (after
// sending the close frame that says why, and closing the socket), or the
// socket's error. A read deadline that passes leaves the decoder as it was
// between two bytes: the next Read, or a migration, carries on from there.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, ev, err := c.dec.next(p)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.sendControl(opClose, closePayload(pe.Code, pe.Reason))
			}
			c.sock.Close()
			return 0, err
		}
		switch ev {
		case evData:
			return n, nil
		case evPing:
			c.mu.Lock()
			c.pong = append(make([]byte, 0, len(c.dec.ctrl)), c.dec.ctrl...) // not nil: an empty ping is owed a pong too
			c.mu.Unlock()
			c.flushPong()
		case evPong:
		case evClose:
			// Echo the client's code, as RFC 6455 §5.5.1 asks.
			payload := []byte(nil)
			if len(c.dec.ctrl) >= 2 {
				payload = c.dec.ctrl[:2]
			}
			c.sendControl(opClose, payload)
			return 0, io.EOF
		case evNeedMore:
			space := c.dec.space()
			if len(space) == 0 { // cannot be: a header fits, payload is taken as it comes
				c.sock.Close()
				return 0, errors.New("web: websocket decoder stuck with a full buffer")
			}
			m, err := c.sock.Read(space)
			c.dec.wrote(m)
			if err != nil && m == 0 {
				return 0, err
			}
		}
	}
}

// flushPong answers the last ping unless a writer holds the socket: that
// writer answers it before its own frame.
func (c *Conn) flushPong() {
	if !c.lockWrite(0) {
		return
	}
	defer c.unlockWrite()
	c.writePongLocked()
}

func (c *Conn) writePongLocked() {
	c.mu.Lock()
	pong := c.pong
	c.pong = nil
	c.mu.Unlock()
	if pong != nil {
		c.writeControlLocked(opPong, pong)
	}
}

// sendControl writes a close frame from the reader, waiting at most
// controlWait for a writer that holds the socket (one stuck on a client
// that does not read must not hold the reader for longer). The close
// frame says why the connection ends: skipped because a writer was
// writing the prompt at that moment, it was lost.
func (c *Conn) sendControl(op byte, payload []byte) {
	if !c.lockWrite(controlWait) {
		return
	}
	defer c.unlockWrite()
	c.writeControlLocked(op, payload)
}

// writeControlLocked writes a control frame within controlWait. The
// caller holds wmu.
func (c *Conn) writeControlLocked(op byte, payload []byte) {
	if c.werr != nil {
		return
	}
	c.sock.SetWriteDeadline(time.Now().Add(controlWait))
	frame := appendFrame(nil, op, payload)
	if n, err := c.sock.Write(frame); err != nil && n > 0 {
		c.werr = errWriteBroken
	}
	c.mu.Lock()
	c.sock.SetWriteDeadline(c.wdeadline)
	c.mu.Unlock()
}

// Write sends p as one binary frame. A write that fails part way through
// breaks the stream: every later Write fails.
func (c *Conn) Write(p []byte) (int, error) {
	c.lockWrite(-1)
	defer c.unlockWrite()
	if c.werr != nil {
		return 0, c.werr
	}
	c.writePongLocked()
	frame := appendFrame(make([]byte, 0, len(p)+10), opBinary, p)
	hlen := len(frame) - len(p)
	n, err := c.sock.Write(frame)
	if err != nil {
		if n > 0 {
			c.werr = errWriteBroken
		}
		return max(n-hlen, 0), err
	}
	return len(p), nil
}

// Close closes the socket, this process's descriptor of it: after a
// migration the other process holds its own and goes on.
func (c *Conn) Close() error { return c.sock.Close() }

func (c *Conn) LocalAddr() net.Addr               { return c.sock.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr              { return c.sock.RemoteAddr() }
func (c *Conn) SetReadDeadline(t time.Time) error { return c.sock.SetReadDeadline(t) }
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetWriteDeadline(t)
	return c.sock.SetReadDeadline(t)
}
func (c *Conn) SetWriteDeadline(t time.Time) error {
	// Not under wmu: a writer stuck on the socket holds it, and a
	// deadline is what unsticks it.
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wdeadline = t
	return c.sock.SetWriteDeadline(t)
}

// Socket is the TCP connection underneath, which a migration passes to
// the other process.
func (c *Conn) Socket() repl.Socket {
	s, _ := c.sock.(repl.Socket)
	return s
}

// Frame returns the decoder's state at rest, for Resume in the other
// process. It fails with ErrBusy while a Read is under way.
func (c *Conn) Frame() (kind string, state []byte, err error) {
	if !c.rmu.TryLock() {
		return Kind, nil, ErrBusy
	}
	defer c.rmu.Unlock()
	if c.Socket() == nil {
		return Kind, nil, errors.New("web: the websocket's connection cannot be passed to another process")
	}
	c.mu.Lock()
	pong := c.pong
	c.mu.Unlock()
	state, err = encodeState(c.dec, pong)
	return Kind, state, err
}

var _ repl.Framed = (*Conn)(nil)
