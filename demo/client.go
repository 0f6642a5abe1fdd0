package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"translucent/telnet"
)

// client is a small telnet client for the scripted session. It refuses
// every option the server offers (DONT for WILL, WONT for DO): the server
// then stays in the NVT's plain line mode at once, without waiting out its
// negotiation timer, and the client edits and echoes its own lines and sends
// each with CR LF, as a line-mode telnet does. The demo prints what a user
// would see: the server's bytes, and the typed lines as local echo.
type client struct {
	conn net.Conn
	done chan struct{} // closed when the reader ends

	mu   sync.Mutex
	cond *sync.Cond
	text []byte // received, telnet commands and CRs removed; guarded by mu
	seen int    // text before seen was returned by expect; guarded by mu
	err  error  // what ended the reader; guarded by mu
}

// dial connects to a telnet server and starts the client's reader, which
// ends when the connection does (Close).
func dial(ctx context.Context, addr string) (*client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go c.read()
	return c, nil
}

// read takes the server's stream apart: data into text, refusals back for
// every offer. It ends when the connection fails or is closed.
func (c *client) read() {
	defer close(c.done)
	var p telnetParser
	buf := make([]byte, 4096)
	for {
		n, err := c.conn.Read(buf)
		data, reply := p.feed(buf[:n])
		if len(reply) > 0 {
			c.conn.Write(reply) // a failure shows up as the next Read's error
		}
		c.mu.Lock()
		c.text = append(c.text, data...)
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// telnetParser is the receiving side of the protocol, kept across reads
// (a command may be split between two): the data, less the CR of CR LF and
// CR NUL (a terminal shows LF), and the refusals of every offer.
type telnetParser struct{ telnet.ClientDecoder }

// feed returns the data in b and the answers to send.
func (p *telnetParser) feed(b []byte) (data, reply []byte) {
	raw, reply := p.Feed(nil, nil, b)
	data = raw[:0]
	for _, x := range raw {
		if x != '\r' && x != 0 {
			data = append(data, x)
		}
	}
	return data, reply
}

// errTimeout says the server did not send what was expected in time.
var errTimeout = errors.New("demo: timed out waiting for the server")

// expect waits, up to d, for want in what arrived after the last match,
// and returns everything up to and including it.
func (c *client) expect(ctx context.Context, want string, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		text := string(c.text[c.seen:])
		if i := strings.Index(text, want); i >= 0 {
			c.seen += i + len(want)
			return text[:i+len(want)], nil
		}
		switch {
		case c.err != nil:
			return text, fmt.Errorf("demo: the connection ended (%v) while waiting for %q; got %q", c.err, want, text)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return text, fmt.Errorf("%w: waited %v for %q; got %q", errTimeout, d, want, text)
		case ctx.Err() != nil:
			return text, ctx.Err()
		}
		c.cond.Wait()
	}
}

// received returns how many bytes of data have arrived.
func (c *client) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.text)
}

// closed returns what ended the connection, or nil while it is open.
func (c *client) closed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// send types line and Enter.
func (c *client) send(line string) error {
	_, err := io.WriteString(c.conn, line+"\r\n")
	return err
}

// Close hangs up and waits for the reader to end.
func (c *client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}
