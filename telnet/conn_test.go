package telnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptConn is a net.Conn whose peer is a script: Read returns the queued
// chunks in order, then io.EOF until more are queued; Write records.
type scriptConn struct {
	net.Conn // nil: the tests use only the methods below

	in [][]byte // the Read goroutine's

	mu        sync.Mutex
	sent      bytes.Buffer // guarded by mu
	writeOnly int          // if > 0, Write sends at most this many bytes and fails; guarded by mu
	stuck     bool         // Write sends nothing and fails as at a write deadline; guarded by mu
	closed    bool         // guarded by mu
}

var errShortWrite = errors.New("scriptConn: short write")

func (s *scriptConn) push(chunks ...[]byte) { s.in = append(s.in, chunks...) }

func (s *scriptConn) Read(p []byte) (int, error) {
	if len(s.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.in[0])
	if s.in[0] = s.in[0][n:]; len(s.in[0]) == 0 {
		s.in = s.in[1:]
	}
	return n, nil
}

func (s *scriptConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stuck {
		return 0, os.ErrDeadlineExceeded
	}
	if s.writeOnly > 0 && len(p) > s.writeOnly {
		s.sent.Write(p[:s.writeOnly])
		return s.writeOnly, errShortWrite
	}
	return s.sent.Write(p)
}

// take returns what was written since the last take.
func (s *scriptConn) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := bytes.Clone(s.sent.Bytes())
	s.sent.Reset()
	return b
}

func (s *scriptConn) setStuck(stuck bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = stuck
}

func (s *scriptConn) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *scriptConn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// settle waits until c has written the answers it owes, or failed to.
func settle(t testing.TB, c *Conn) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		done := c.flushed
		c.mu.Unlock()
		if done == nil {
			return
		}
		select {
		case <-done:
		case <-timeout:
			t.Fatal("answers still being written after 10 s")
		}
	}
}

// readAll reads c until it fails, insisting that Read never returns (0, nil).
func readAll(t testing.TB, c *Conn) ([]byte, error) {
	t.Helper()
	return readWith(t, c, make([]byte, 4096))
}

// readWith is readAll reading into buf. It returns once the answers the
// reads called for are written, or have failed to be.
func readWith(t testing.TB, c *Conn, buf []byte) ([]byte, error) {
	t.Helper()
	var data []byte
	for {
		n, err := c.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			settle(t, c)
			return data, err
		}
		if n == 0 {
			t.Fatal("Read returned 0, nil")
		}
	}
}

// seq spells a command.
func seq(b ...byte) string { return string(b) }

func answered(c *Conn) bool {
	select {
	case <-c.Answered():
		return true
	default:
		return false
	}
}

func TestRead(t *testing.T) {
	nawsSB := func(b ...byte) string { return seq(IAC, SB, byte(NAWS)) + string(b) + seq(IAC, SE) }
	tests := []struct {
		name      string
		negotiate bool     // call Negotiate first; its offers are not in sent
		in        []string // what the peer sends, one read each
		want      string   // data Read returns
		sent      string   // what the Conn sends while reading
		check     func(t *testing.T, c *Conn)
	}{
		{name: "plain text", in: []string{"hello"}, want: "hello"},
		{name: "IAC IAC is 0xFF", in: []string{"a\xff\xffb"}, want: "a\xffb"},
		{name: "IAC IAC split across reads", in: []string{"a\xff", "\xffb"}, want: "a\xffb"},
		{name: "CR LF", in: []string{"a\r\nb"}, want: "a\rb"},
		{name: "CR NUL", in: []string{"a\r\x00b"}, want: "a\rb"},
		{name: "bare CR", in: []string{"a\rb"}, want: "a\rb"},
		{name: "bare LF", in: []string{"a\nb"}, want: "a\rb"},
		{name: "CR CR LF is two lines", in: []string{"\r\r\n"}, want: "\r\r"},
		{name: "LF CR is two lines", in: []string{"\n\r"}, want: "\r\r"},
		{name: "CR LF split across reads", in: []string{"a\r", "\nb"}, want: "a\rb"},
		{name: "CR NUL split across reads", in: []string{"a\r", "\x00b"}, want: "a\rb"},
		{name: "CR ending a read, then data", in: []string{"a\r", "b"}, want: "a\rb"},
		{name: "CR LF with a command between", in: []string{"a\r" + seq(IAC, NOP), "\nb"}, want: "a\rb"},
		{name: "NUL alone is data", in: []string{"a\x00b"}, want: "a\x00b"},
		{name: "IP is Ctrl-C", in: []string{"a" + seq(IAC, IP)}, want: "a\x03"},
		{name: "BRK is Ctrl-C", in: []string{seq(IAC, BRK)}, want: "\x03"},
		{name: "EC is DEL", in: []string{"ab" + seq(IAC, EC)}, want: "ab\x7f"},
		{name: "EL is Ctrl-U", in: []string{"ab" + seq(IAC, EL)}, want: "ab\x15"},
		{name: "EOF is Ctrl-D", in: []string{"x\r" + seq(IAC, EOF)}, want: "x\r\x04"},
		{name: "IP ends a pending CR", in: []string{"\r" + seq(IAC, IP) + "\n"}, want: "\r\x03\r"},
		{name: "AYT is answered", in: []string{seq(IAC, AYT) + "x"}, want: "x", sent: aytReply},
		{
			name: "NOP GA AO DM stray SE and unknown commands ignored",
			in:   []string{"a" + seq(IAC, NOP, IAC, GA, IAC, AO, IAC, DM, IAC, SE, IAC, 'A', IAC, 0) + "b"},
			want: "ab",
		},
		{
			name: "command split at every byte",
			in:   []string{"\xff", "\xfb", "\x2a", "x"},
			want: "x", sent: seq(IAC, DONT, 42),
		},

		// Negotiation.
		{name: "WILL unsupported refused", in: []string{seq(IAC, WILL, 42) + "x"}, want: "x", sent: seq(IAC, DONT, 42)},
		{name: "DO unsupported refused", in: []string{seq(IAC, DO, 42) + "x"}, want: "x", sent: seq(IAC, WONT, 42)},
		{
			name: "refused once, acknowledgements not answered",
			in:   []string{seq(IAC, WILL, 42, IAC, WONT, 42, IAC, DO, 42, IAC, DONT, 42) + "x"},
			want: "x", sent: seq(IAC, DONT, 42, IAC, WONT, 42),
		},
		{
			name: "peer's ECHO refused",
			in:   []string{seq(IAC, WILL, byte(Echo)) + "x"},
			want: "x", sent: seq(IAC, DONT, byte(Echo)),
		},
		{
			name: "we do not send NAWS",
			in:   []string{seq(IAC, DO, byte(NAWS)) + "x"},
			want: "x", sent: seq(IAC, WONT, byte(NAWS)),
		},
		{
			name: "peer's SGA accepted once",
			in:   []string{seq(IAC, WILL, byte(SGA), IAC, WILL, byte(SGA)) + "x"},
			want: "x", sent: seq(IAC, DO, byte(SGA)),
			check: func(t *testing.T, c *Conn) {
				if !c.Enabled(SGA, false) || c.Enabled(SGA, true) {
					t.Error("want SGA on for the peer only")
				}
			},
		},
		{
			name: "peer turns SGA on then off",
			in:   []string{seq(IAC, WILL, byte(SGA), IAC, WONT, byte(SGA)) + "x"},
			want: "x", sent: seq(IAC, DO, byte(SGA), IAC, DONT, byte(SGA)),
			check: func(t *testing.T, c *Conn) {
				if c.Enabled(SGA, false) {
					t.Error("SGA still on")
				}
			},
		},
		{
			name: "DO ECHO unasked is accepted and answers",
			in:   []string{seq(IAC, DO, byte(Echo)) + "x"},
			want: "x", sent: seq(IAC, WILL, byte(Echo)),
			check: func(t *testing.T, c *Conn) {
				if !answered(c) || !c.Enabled(Echo, true) {
					t.Error("want Answered closed and ECHO on")
				}
			},
		},
		{
			name: "DONT ECHO unasked answers nothing",
			in:   []string{seq(IAC, DONT, byte(Echo)) + "x"},
			want: "x",
			check: func(t *testing.T, c *Conn) {
				if answered(c) {
					t.Error("Answered closed without an offer")
				}
			},
		},
		{
			name:      "offers accepted",
			negotiate: true,
			in: []string{seq(IAC, DO, byte(Echo), IAC, DO, byte(SGA), IAC, WILL, byte(SGA),
				IAC, WILL, byte(NAWS), IAC, WILL, byte(TTYPE)) + "x"},
			want: "x", sent: seq(IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE),
			check: func(t *testing.T, c *Conn) {
				if !answered(c) {
					t.Error("Answered not closed")
				}
				for _, o := range []struct {
					opt   Option
					local bool
				}{{Echo, true}, {SGA, true}, {SGA, false}, {NAWS, false}, {TTYPE, false}} {
					if !c.Enabled(o.opt, o.local) {
						t.Errorf("Enabled(%v, %v) = false", o.opt, o.local)
					}
				}
			},
		},
		{
			name:      "offers refused",
			negotiate: true,
			in: []string{seq(IAC, DONT, byte(Echo), IAC, DONT, byte(SGA), IAC, WONT, byte(SGA),
				IAC, WONT, byte(NAWS), IAC, WONT, byte(TTYPE)) + "x"},
			want: "x",
			check: func(t *testing.T, c *Conn) {
				if !answered(c) {
					t.Error("Answered not closed")
				}
				if c.Enabled(Echo, true) || c.Enabled(SGA, true) || c.Enabled(NAWS, false) {
					t.Error("a refused option is on")
				}
			},
		},
		{
			name:      "offer unanswered",
			negotiate: true,
			in:        []string{"x"},
			want:      "x",
			check: func(t *testing.T, c *Conn) {
				if answered(c) || c.Enabled(Echo, true) {
					t.Error("ECHO answered or on without an answer")
				}
			},
		},
		{
			name:      "offers echoed back are not answered",
			negotiate: true,
			in:        []string{seq(IAC, WILL, byte(SGA), IAC, DO, byte(SGA)) + "x"},
			want:      "x",
		},

		// Subnegotiation.
		{
			name: "NAWS", in: []string{nawsSB(0, 80, 0, 24) + "x"}, want: "x",
			check: wantSize(80, 24),
		},
		{
			name: "NAWS with IAC IAC inside", in: []string{nawsSB(0, IAC, IAC, IAC, IAC, 0x18) + "x"}, want: "x",
			check: wantSize(255, 0xff18),
		},
		{
			name: "NAWS split across reads",
			in:   strings.Split(nawsSB(1, 0, IAC, IAC, 2)+"x", ""),
			want: "x", check: wantSize(256, 0xff02),
		},
		{name: "NAWS too short ignored", in: []string{nawsSB(0, 80, 0) + "x"}, want: "x", check: wantSize(0, 0)},
		{name: "NAWS too long ignored", in: []string{nawsSB(0, 80, 0, 24, 0) + "x"}, want: "x", check: wantSize(0, 0)},
		{
			name: "TTYPE asked for and received",
			in: []string{seq(IAC, WILL, byte(TTYPE)),
				seq(IAC, SB, byte(TTYPE), ttypeIS) + "xterm-256color" + seq(IAC, SE) + "x"},
			want: "x",
			sent: seq(IAC, DO, byte(TTYPE), IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE),
			check: func(t *testing.T, c *Conn) {
				if got := c.TerminalType(); got != "xterm-256color" {
					t.Errorf("TerminalType = %q", got)
				}
			},
		},
		{
			name: "TTYPE SEND from the peer ignored",
			in:   []string{seq(IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE) + "x"},
			want: "x",
		},
		{
			name: "oversized SB dropped",
			in:   []string{seq(IAC, SB, byte(TTYPE)) + strings.Repeat("x", 100000) + seq(IAC, SE) + "5\r\n"},
			want: "5\r",
			check: func(t *testing.T, c *Conn) {
				if got := c.TerminalType(); got != "" {
					t.Errorf("TerminalType = %q", got)
				}
			},
		},
		{
			name: "oversized NAWS dropped",
			in:   []string{nawsSB(append([]byte{0, 80, 0, 24}, make([]byte, maxSB)...)...) + "x"},
			want: "x", check: wantSize(0, 0),
		},
		{
			name: "endless SB stays bounded",
			in:   append([]string{seq(IAC, SB, byte(NAWS))}, strings.Split(strings.Repeat(strings.Repeat("y", 4096)+"\n", 256), "\n")...),
			check: func(t *testing.T, c *Conn) {
				if cap(c.dec.sb) > maxSB {
					t.Errorf("subnegotiation buffer grew to %d", cap(c.dec.sb))
				}
			},
		},
		{
			name: "command inside SB ends it",
			in:   []string{nawsSB(0, 80) + "x"}, // IAC SE is a command here
			want: "x",
		},
		{
			name: "negotiation inside SB ends it and is obeyed",
			in:   []string{seq(IAC, SB, byte(NAWS), 0, 80, IAC, WILL, byte(SGA)) + "x"},
			want: "x", sent: seq(IAC, DO, byte(SGA)), check: wantSize(0, 0),
		},
		{name: "empty SB ignored", in: []string{seq(IAC, SB, IAC, SE) + "x"}, want: "x"},
		{name: "SB of option 255 ignored", in: []string{seq(IAC, SB, IAC, IAC, 1, IAC, SE) + "x"}, want: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{}
			c := NewConn(sc)
			if tt.negotiate {
				if err := c.Negotiate(); err != nil {
					t.Fatal(err)
				}
				sc.take()
			}
			for _, s := range tt.in {
				sc.push([]byte(s))
			}
			got, err := readAll(t, c)
			if err != io.EOF {
				t.Errorf("Read failed with %v, want io.EOF", err)
			}
			if string(got) != tt.want {
				t.Errorf("data %q, want %q", got, tt.want)
			}
			if sent := sc.take(); string(sent) != tt.sent {
				t.Errorf("sent %q, want %q", sent, tt.sent)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func wantSize(w, h int) func(*testing.T, *Conn) {
	return func(t *testing.T, c *Conn) {
		t.Helper()
		if gw, gh := c.WindowSize(); gw != w || gh != h {
			t.Errorf("WindowSize = %d, %d, want %d, %d", gw, gh, w, h)
		}
	}
}

func TestNegotiateOffers(t *testing.T) {
	sc := &scriptConn{}
	c := NewConn(sc)
	if sent := sc.take(); len(sent) != 0 {
		t.Errorf("NewConn sent %q", sent)
	}
	for i := range 2 {
		if err := c.Negotiate(); err != nil {
			t.Fatal(err)
		}
		want := ""
		if i == 0 {
			want = seq(IAC, WILL, byte(Echo), IAC, WILL, byte(SGA), IAC, DO, byte(SGA),
				IAC, DO, byte(NAWS), IAC, DO, byte(TTYPE))
		}
		if sent := sc.take(); string(sent) != want {
			t.Errorf("Negotiate #%d sent %q, want %q", i+1, sent, want)
		}
	}
	for _, opt := range []Option{Echo, SGA} {
		if s := c.opts[opt].us.state; s != QWantYes {
			t.Errorf("our %v is %v, want WANTYES", opt, s)
		}
	}
	for _, opt := range []Option{SGA, NAWS, TTYPE} {
		if s := c.opts[opt].him.state; s != QWantYes {
			t.Errorf("peer's %v is %v, want WANTYES", opt, s)
		}
	}
}

// TestNegotiateAfterPeer: a peer that volunteers (BusyBox) is not asked
// again for what it already turned on.
func TestNegotiateAfterPeer(t *testing.T) {
	sc := &scriptConn{}
	c := NewConn(sc)
	sc.push([]byte(seq(IAC, WILL, byte(NAWS), IAC, DO, byte(Echo)) + "x"))
	if _, err := readAll(t, c); err != io.EOF {
		t.Fatal(err)
	}
	sc.take()
	if err := c.Negotiate(); err != nil {
		t.Fatal(err)
	}
	want := seq(IAC, WILL, byte(SGA), IAC, DO, byte(SGA), IAC, DO, byte(TTYPE))
	if sent := sc.take(); string(sent) != want {
		t.Errorf("Negotiate sent %q, want %q", sent, want)
	}
}

// TestNoLoop plays each exchange to its end: whatever the peer does with
// our offers, the conversation goes quiet within a few rounds.
func TestNoLoop(t *testing.T) {
	t.Run("mirror", func(t *testing.T) {
		// The peer sends back every byte it receives.
		sc := &scriptConn{}
		c := NewConn(sc)
		if err := c.Negotiate(); err != nil {
			t.Fatal(err)
		}
		quiesce(t, func() []byte { return sc.take() }, func(b []byte) {
			sc.push(b)
			readAll(t, c)
		})
		if !answered(c) || c.Enabled(Echo, true) {
			t.Error("a mirrored WILL ECHO should read as DONT ECHO")
		}
	})
	t.Run("twin", func(t *testing.T) {
		// Two of our servers talk to each other.
		a, b := &scriptConn{}, &scriptConn{}
		ca, cb := NewConn(a), NewConn(b)
		if err := ca.Negotiate(); err != nil {
			t.Fatal(err)
		}
		if err := cb.Negotiate(); err != nil {
			t.Fatal(err)
		}
		turn := 0
		quiesce(t, func() []byte {
			turn++
			if turn%2 == 1 {
				return a.take()
			}
			return b.take()
		}, func(p []byte) {
			if turn%2 == 1 {
				b.push(p)
				readAll(t, cb)
			} else {
				a.push(p)
				readAll(t, ca)
			}
		})
		// Each refuses the other's ECHO and NAWS; SGA is on both ways.
		if !ca.Enabled(SGA, true) || !ca.Enabled(SGA, false) || ca.Enabled(Echo, true) {
			t.Error("unexpected outcome")
		}
	})
}

// quiesce moves bytes with take and deliver until take has nothing, and
// fails if that takes more than a few rounds.
func quiesce(t *testing.T, take func() []byte, deliver func([]byte)) {
	t.Helper()
	quiet := 0
	for round := 0; quiet < 2; round++ {
		if round > 10 {
			t.Fatal("negotiation does not end")
		}
		b := take()
		if len(b) == 0 {
			quiet++
			continue
		}
		quiet = 0
		deliver(b)
	}
}

func TestOnResize(t *testing.T) {
	sc := &scriptConn{}
	c := NewConn(sc)
	var calls [][2]int
	c.OnResize(func(w, h int) {
		if gw, gh := c.WindowSize(); gw != w || gh != h {
			t.Errorf("WindowSize %d, %d in callback for %d, %d", gw, gh, w, h)
		}
		calls = append(calls, [2]int{w, h})
	})
	naws := func(w, h byte) string { return seq(IAC, SB, byte(NAWS), 0, w, 0, h, IAC, SE) }
	sc.push([]byte(naws(80, 24)+"a"), []byte(naws(100, 30)+naws(120, 40)+"b"))
	if _, err := readAll(t, c); err != io.EOF {
		t.Fatal(err)
	}
	want := [][2]int{{80, 24}, {120, 40}}
	if len(calls) != len(want) || calls[0] != want[0] || calls[1] != want[1] {
		t.Errorf("OnResize calls %v, want %v", calls, want)
	}
}

func TestWrite(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "hello\r\n", "hello\r\n"},
		{"IAC", "\xff", "\xff\xff"},
		{"IACs among data", "a\xff\xffb\xff", "a\xff\xff\xff\xffb\xff\xff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{}
			n, err := NewConn(sc).Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Errorf("Write = %d, %v, want %d, nil", n, err, len(tt.in))
			}
			if got := sc.take(); string(got) != tt.want {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriteShort: a failed write reports the data bytes that went out
// whole, not the escaped bytes.
func TestWriteShort(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		wantN int
	}{
		{in: "abcdef", limit: 3, wantN: 3},
		{in: "a\xffbc", limit: 2, wantN: 1}, // "a" and half of IAC IAC
		{in: "a\xffbc", limit: 3, wantN: 2},
		{in: "\xff\xff\xff", limit: 5, wantN: 2},
	} {
		sc := &scriptConn{writeOnly: tt.limit}
		n, err := NewConn(sc).Write([]byte(tt.in))
		if n != tt.wantN || !errors.Is(err, errShortWrite) {
			t.Errorf("Write(%q) with %d bytes accepted = %d, %v, want %d, %v", tt.in, tt.limit, n, err, tt.wantN, errShortWrite)
		}
	}
}

// TestConcurrentWrites: writes from several goroutines and the answers
// Read sends reach the wire each in one piece.
func TestConcurrentWrites(t *testing.T) {
	srv, cli := net.Pipe()
	c := NewConn(srv)
	received := make(chan []byte)
	go func() { // ends when srv is closed below
		b, _ := io.ReadAll(cli)
		received <- b
	}()
	peerErr := make(chan error, 1)
	go func() { // ends once the server has read it all
		var in []byte
		for i := range 100 {
			in = append(in, IAC, WILL, byte(100+i), IAC, AYT, 'x')
		}
		_, err := cli.Write(append(in, "END"...))
		peerErr <- err
	}()
	readErr := make(chan error, 1)
	go func() { // ends at END
		var data []byte
		buf := make([]byte, 7)
		for !bytes.HasSuffix(data, []byte("END")) {
			n, err := c.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			data = append(data, buf[:n]...)
		}
		readErr <- nil
	}()

	const writers, writes = 4, 50
	msg := []byte("0123456789\xff")
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range writes {
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	if err := <-peerErr; err != nil {
		t.Fatal(err)
	}
	// Answers go out on their own goroutine: wait until none is owed
	// before closing, or the last refusals would be cut off.
	for deadline := time.Now().Add(10 * time.Second); len(c.State().Unsent) > 0; {
		if time.Now().After(deadline) {
			t.Fatal("answers still unsent after 10s")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	out := <-received
	if got := bytes.Count(out, []byte("0123456789\xff\xff")); got != writers*writes {
		t.Errorf("%d whole writes on the wire, want %d", got, writers*writes)
	}
	// An AYT that arrives while the answer to an earlier one waits is
	// covered by that answer; every answer is whole, in order.
	if got := bytes.Count(out, []byte(aytReply)); got < 1 || got > 100 {
		t.Errorf("%d whole AYT answers on the wire, want 1 to 100", got)
	}
	rest := bytes.ReplaceAll(bytes.ReplaceAll(out, []byte("0123456789\xff\xff"), nil), []byte(aytReply), nil)
	var want []byte
	for i := range 100 {
		want = append(want, IAC, DONT, byte(100+i))
	}
	if !bytes.Equal(rest, want) {
		t.Errorf("besides whole writes and AYT answers, the wire has %q, want the refusals %q", rest, want)
	}
}

// TestReadDeadline: a deadline stops Read with its error and keeps the
// command the peer is halfway through.
func TestReadDeadline(t *testing.T) {
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	c := NewConn(srv)

	type result struct {
		data []byte
		err  error
	}
	read := func() <-chan result {
		ch := make(chan result, 1)
		go func() { // ends with the Read
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			ch <- result{buf[:n], err}
		}()
		return ch
	}

	r := read()
	// net.Pipe's Write returns once the reader has taken every byte.
	if _, err := cli.Write([]byte{IAC}); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now())
	if res := <-r; !errors.Is(res.err, os.ErrDeadlineExceeded) || len(res.data) != 0 {
		t.Fatalf("Read = %q, %v, want a deadline error", res.data, res.err)
	}
	if p := c.State().Pending; !bytes.Equal(p, []byte{IAC}) {
		t.Errorf("Pending = %q, want IAC", p)
	}

	srv.SetReadDeadline(time.Time{})
	r = read()
	if _, err := cli.Write([]byte("\xffA")); err != nil {
		t.Fatal(err)
	}
	if res := <-r; res.err != nil || string(res.data) != "\xffA" {
		t.Errorf("Read = %q, %v, want \"\\xffA\"", res.data, res.err)
	}
}

// TestReadAnswerFails: an answer that cannot be sent fails the next Read
// and Write; the read that called for it still delivers its data.
func TestReadAnswerFails(t *testing.T) {
	sc := &scriptConn{writeOnly: 1}
	c := NewConn(sc)
	sc.push([]byte("ab"+seq(IAC, DO, 42)), []byte("cd"))
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if string(buf[:n]) != "ab" || err != nil {
		t.Errorf("Read = %q, %v, want \"ab\", nil", buf[:n], err)
	}
	settle(t, c)
	if n, err := c.Read(buf); n != 0 || !errors.Is(err, errShortWrite) {
		t.Errorf("next Read = %q, %v, want %v", buf[:n], err, errShortWrite)
	}
	if n, err := c.Write([]byte("x")); n != 0 || !errors.Is(err, errShortWrite) {
		t.Errorf("Write = %d, %v, want %v", n, err, errShortWrite)
	}
}

// loopConn is a net.Conn whose peer sends the same bytes in every read,
// forever, and discards what it is sent.
type loopConn struct {
	net.Conn
	b []byte
}

func (l *loopConn) Read(p []byte) (int, error) { return copy(p, l.b), nil }

func (l *loopConn) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkRead(b *testing.B) {
	for _, bm := range []struct {
		name string
		unit string
	}{
		{"plain", "fmt.Println(\"hello, world\")\r\n"},
		// A window size, a refusal to answer, a NOP and an acknowledgement,
		// around every short line.
		{"negotiation", seq(IAC, SB, byte(NAWS), 0, 80, 0, 24, IAC, SE, IAC, WILL, 42, IAC, NOP, IAC, DO, byte(SGA)) + "x\r\n"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			in := []byte(strings.Repeat(bm.unit, 4096/len(bm.unit)))
			c := NewConn(&loopConn{b: in})
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnsent: what a peer that does not read is owed waits in the Conn, in
// order, an AYT adding nothing to an unsent AYT answer, and goes out at the
// first read once the peer reads again.
func TestUnsent(t *testing.T) {
	ayt := seq(IAC, AYT)
	tests := []struct {
		name string
		in   []string // what the peer sends, one read each
		want string   // State's Unsent, then what is sent once the peer reads
	}{
		{name: "AYT", in: []string{ayt + "x"}, want: aytReply},
		{name: "a thousand AYTs in one read", in: []string{strings.Repeat(ayt, 1000) + "x"}, want: aytReply},
		{name: "AYTs in reads of their own", in: []string{ayt + "x", ayt + "y", ayt + "z"}, want: aytReply},
		{
			name: "answers keep their order around AYTs",
			in:   []string{ayt + seq(IAC, WILL, 42) + ayt + seq(IAC, DO, 42) + "x"},
			want: aytReply + seq(IAC, DONT, 42, IAC, WONT, 42),
		},
		{
			name: "each refusal stays", // RFC 1143 refuses every request for an option that is off
			in:   []string{seq(IAC, WILL, 42, IAC, WILL, 42) + "x", seq(IAC, WILL, 42) + "y"},
			want: seq(IAC, DONT, 42, IAC, DONT, 42, IAC, DONT, 42),
		},
		{
			name: "TTYPE asked for after its DO",
			in:   []string{seq(IAC, WILL, byte(TTYPE)) + "x"},
			want: seq(IAC, DO, byte(TTYPE), IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{stuck: true}
			c := NewConn(sc)
			for _, s := range tt.in {
				sc.push([]byte(s))
			}
			if _, err := readAll(t, c); err != io.EOF {
				t.Fatalf("Read failed with %v, want io.EOF", err)
			}
			if got := c.State().Unsent; string(got) != tt.want {
				t.Errorf("Unsent %q, want %q", got, tt.want)
			}
			if sent := sc.take(); len(sent) != 0 {
				t.Errorf("sent %q to a peer taking nothing", sent)
			}
			sc.setStuck(false)
			sc.push([]byte("w"))
			if _, err := readAll(t, c); err != io.EOF {
				t.Fatalf("Read failed with %v, want io.EOF", err)
			}
			if sent := sc.take(); string(sent) != tt.want {
				t.Errorf("sent %q once the peer reads, want %q", sent, tt.want)
			}
			if got := c.State().Unsent; len(got) != 0 {
				t.Errorf("Unsent %q after it was sent", got)
			}
		})
	}
}

// TestAYTAnsweredAgain: an AYT after the last answer went out is answered
// again.
func TestAYTAnsweredAgain(t *testing.T) {
	sc := &scriptConn{}
	c := NewConn(sc)
	for _, s := range []string{"x", "y"} {
		sc.push([]byte(seq(IAC, AYT) + s))
		if _, err := readAll(t, c); err != io.EOF {
			t.Fatalf("Read failed with %v, want io.EOF", err)
		}
	}
	if sent := sc.take(); string(sent) != aytReply+aytReply {
		t.Errorf("sent %q, want two answers", sent)
	}
}

// TestUnsentBounded: past maxUnsent answers owed, Read reads no more
// until they are written. A write deadline that stops them stops Read too,
// and nothing is lost: once the peer reads, every command is answered, in
// order.
func TestUnsentBounded(t *testing.T) {
	const n = maxUnsent/3 + 2000 // each WILL 42 is refused with 3 bytes
	sc := &scriptConn{stuck: true}
	c := NewConn(sc)
	sc.push([]byte(strings.Repeat(seq(IAC, WILL, 42), n) + "x"))
	buf := make([]byte, 512)
	data, err := readWith(t, c, buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read failed with %v, want the write deadline", err)
	}
	if got := len(c.State().Unsent); got <= maxUnsent || got > maxUnsent+2*len(buf) {
		t.Errorf("%d bytes of answers unsent, want more than %d and not much more", got, maxUnsent)
	}
	for range 3 { // Read reads nothing more while the deadline stands
		if m, err := c.Read(buf); m != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %d, %v, want the write deadline", m, err)
		}
	}
	if got := len(c.State().Unsent); got > maxUnsent+2*len(buf) {
		t.Errorf("%d bytes of answers unsent after more reads", got)
	}
	if sc.isClosed() {
		t.Error("connection closed")
	}

	sc.setStuck(false)
	more, err := readWith(t, c, buf)
	if err != io.EOF {
		t.Fatalf("Read failed with %v, want io.EOF", err)
	}
	if got := string(append(data, more...)); got != "x" {
		t.Errorf("read %q, want \"x\"", got)
	}
	if sent, want := sc.take(), strings.Repeat(seq(IAC, DONT, 42), n); string(sent) != want {
		t.Errorf("sent %d bytes, want %d refusals", len(sent), n)
	}
}

// TestNegotiationFlood: a client that floods us with requests to refuse is
// slowed to the pace at which it reads the refusals, not taken for one
// that does not read; one that does not read is given up on at the stall
// timeout.
func TestNegotiationFlood(t *testing.T) {
	round := append(bytes.Repeat([]byte{IAC, WILL, 42}, 4000), '.')
	const rounds = 100 // 1.2 MB of requests, 70 times maxUnsent
	for _, reads := range []bool{true, false} {
		t.Run(map[bool]string{true: "reading", false: "not reading"}[reads], func(t *testing.T) {
			srv, cli := tcpPair(t)
			c := NewConn(srv)
			const stall = 200 * time.Millisecond
			c.SetStallTimeout(stall)
			refused := make(chan int64, 1)
			if reads {
				go func() { // ends when the connection is closed
					n, _ := io.Copy(io.Discard, cli)
					refused <- n
				}()
			}
			go func() { // ends once it has sent all, or the connection fails
				for range rounds {
					if _, err := cli.Write(round); err != nil {
						return
					}
				}
				cli.Write([]byte("END"))
			}()

			var got []byte
			buf := make([]byte, 4096)
			var err error
			start := time.Now()
			for !bytes.HasSuffix(got, []byte("END")) && err == nil {
				var n int
				n, err = c.Read(buf)
				got = append(got, buf[:n]...)
			}
			if !reads {
				if took := time.Since(start); !errors.Is(err, ErrNotReading) || took > stall+10*time.Second {
					t.Errorf("Read = %v after %v, want %v after about %v", err, took, ErrNotReading, stall)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read failed with %v after %d of %d rounds", err, bytes.Count(got, []byte(".")), rounds)
			}
			if _, err := c.Write(nil); err != nil { // sends what is still owed
				t.Fatal(err)
			}
			srv.Close()
			if n, want := <-refused, int64(rounds*4000*3); n != want {
				t.Errorf("client received %d bytes, want %d of refusals", n, want)
			}
		})
	}
}

// TestUnsentMoves: answers still owed when the connection moves are sent
// by the Conn that takes it over, first, and by it alone.
func TestUnsentMoves(t *testing.T) {
	want := aytReply + seq(IAC, WONT, 42)
	for _, tt := range []struct {
		name  string
		first func(t *testing.T, c *Conn, sc *scriptConn) // the restored Conn's first act
		then  string                                      // what it sends after what is owed
	}{
		{"first Read", func(t *testing.T, c *Conn, sc *scriptConn) {
			sc.push([]byte("y"))
			if data, err := readAll(t, c); string(data) != "y" || err != io.EOF {
				t.Errorf("Read = %q, %v, want \"y\", io.EOF", data, err)
			}
		}, ""},
		{"first Write", func(t *testing.T, c *Conn, sc *scriptConn) {
			if _, err := c.Write([]byte("z\xff")); err != nil {
				t.Error(err)
			}
		}, "z\xff\xff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{stuck: true}
			c := NewConn(sc)
			sc.push([]byte(seq(IAC, AYT, IAC, DO, 42) + "x"))
			if _, err := readAll(t, c); err != io.EOF {
				t.Fatalf("Read failed with %v, want io.EOF", err)
			}
			st := viaJSON(t, c.State())
			if string(st.Unsent) != want {
				t.Fatalf("Unsent %q, want %q", st.Unsent, want)
			}

			sc2 := &scriptConn{}
			c2 := Restore(sc2, st)
			if sent := sc2.take(); len(sent) != 0 {
				t.Errorf("Restore sent %q", sent)
			}
			tt.first(t, c2, sc2)
			if sent := sc2.take(); string(sent) != want+tt.then {
				t.Errorf("restored Conn sent %q, want %q", sent, want+tt.then)
			}
			if sent := sc.take(); len(sent) != 0 {
				t.Errorf("the first Conn sent %q", sent)
			}
		})
	}
}

// TestWriteStall: a Write the client takes nothing of gives up within the
// stall timeout, closes the connection, and so does everything after it.
func TestWriteStall(t *testing.T) {
	srv, cli := net.Pipe() // a Write waits until the other end reads it all
	t.Cleanup(func() { srv.Close(); cli.Close() })
	c := NewConn(srv)
	const stall = 50 * time.Millisecond
	c.SetStallTimeout(stall)

	start := time.Now()
	n, err := c.Write([]byte("hello"))
	took := time.Since(start)
	if n != 0 || !errors.Is(err, ErrNotReading) {
		t.Fatalf("Write = %d, %v, want 0, %v", n, err, ErrNotReading)
	}
	if took < stall || took > stall+5*time.Second {
		t.Errorf("Write gave up after %v, with a stall timeout of %v", took, stall)
	}
	if _, err := cli.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client reads %v, want io.EOF: the connection should be closed", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrNotReading) {
		t.Errorf("Read = %v, want %v", err, ErrNotReading)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrNotReading) {
		t.Errorf("second Write = %v, want %v", err, ErrNotReading)
	}
	if err := c.Negotiate(); !errors.Is(err, ErrNotReading) {
		t.Errorf("Negotiate = %v, want %v", err, ErrNotReading)
	}
}

// TestWriteSlowReader: a client that reads slowly but steadily is not
// taken for one that does not read, however long the whole Write takes.
func TestWriteSlowReader(t *testing.T) {
	srv, cli := net.Pipe()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	c := NewConn(srv)
	const stall = time.Second
	c.SetStallTimeout(stall)
	const size = 5 * writePiece // the reader takes a piece every stall/4: 1.25 stalls in all

	received := make(chan int, 1)
	go func() { // ends once it has read size bytes, or the connection closes
		buf := make([]byte, writePiece)
		total := 0
		for total < size {
			time.Sleep(stall / 4) // pacing the reader, not waiting for anything
			n, err := cli.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		received <- total
	}()
	if n, err := c.Write(bytes.Repeat([]byte("a"), size)); n != size || err != nil {
		t.Errorf("Write = %d, %v, want %d, nil", n, err, size)
	}
	if got := <-received; got != size {
		t.Errorf("client received %d bytes, want %d", got, size)
	}
}

// tcpPair returns the two ends of a loopback TCP connection. The server's
// send buffer is as small as the kernel allows, so that a client that does
// not read soon blocks the server's writes. The client's receive buffer is
// left alone: at its smallest too, the client's flood crawls, its
// acknowledgements lost while its receive queue is full.
func tcpPair(t testing.TB) (srv, cli *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() { // ends with the dial below, or the listener's close
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		dialed.Close()
		t.Fatal(r.err)
	}
	srv, cli = r.c.(*net.TCPConn), dialed.(*net.TCPConn)
	t.Cleanup(func() { srv.Close(); cli.Close() })
	if err := srv.SetWriteBuffer(1); err != nil { // rounded up to the minimum
		t.Fatal(err)
	}
	return srv, cli
}

// TestFloodNotReading is issue 12: a client sends IAC AYT millions of
// times and never reads. The reader must keep up with it, before and while
// a Write waits on the client; State must answer at once meanwhile; a
// write deadline stops the waiting writes, as a migration would; and a
// Write then gives up on the client within the stall timeout.
func TestFloodNotReading(t *testing.T) {
	srv, cli := tcpPair(t)
	c := NewConn(srv)
	// Until the last step nothing may depend on the stall timeout.
	c.SetStallTimeout(time.Hour)

	// flood has the client send rounds of many AYTs, each round ending in
	// a dot, then mark, and reports how that went on the channel it
	// returns.
	flood := func(rounds int, mark string) <-chan error {
		done := make(chan error, 1)
		go func() { // ends once it has sent all, or the connection fails
			round := append(bytes.Repeat([]byte{IAC, AYT}, 4096), '.')
			for range rounds {
				if _, err := cli.Write(round); err != nil {
					done <- err
					return
				}
			}
			_, err := cli.Write([]byte(mark))
			done <- err
		}()
		return done
	}

	data := make(chan []byte, 1<<12) // every read brings at least a byte: never full
	readErr := make(chan error, 1)
	go func() { // ends when Read fails, once the Conn gives up on the client
		for {
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if n > 0 {
				data <- buf[:n]
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var got []byte
	readUntil := func(mark string) {
		t.Helper()
		timeout := time.After(time.Minute)
		for !bytes.HasSuffix(got, []byte(mark)) {
			select {
			case b := <-data:
				got = append(got, b...)
			case err := <-readErr:
				t.Fatalf("Read failed with %v during the flood", err)
			case <-timeout:
				t.Fatalf("the reader is stuck: %d bytes of data read, waiting for %q", len(got), mark)
			}
		}
	}
	// promptly runs f, failing the test if it waits.
	promptly := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { // ends with f
			defer close(done)
			f()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s waits on the client", what)
		}
	}
	// wantCovered checks that State answers at once, and that the AYTs were
	// covered by answers the client had not taken: at most one waits, and
	// those written are what the client's buffers hold, not one per AYT.
	wantCovered := func() {
		t.Helper()
		var st State
		promptly("State", func() { st = c.State() })
		if len(st.Unsent) > len(aytReply) {
			t.Errorf("%d bytes of answers unsent, want one answer's %d at most", len(st.Unsent), len(aytReply))
		}
		c.mu.Lock()
		sent := c.sent
		c.mu.Unlock()
		if sent > 1<<20 {
			t.Errorf("%d bytes of answers written to a client that reads nothing", sent)
		}
	}

	// The flood alone: the answers stop going out once the client's
	// buffers are full, and the reader must not stop with them.
	const rounds = 512 // 2M AYTs
	flooded := flood(rounds, "END")
	readUntil("END")
	if err := <-flooded; err != nil {
		t.Fatal(err)
	}
	if dots := bytes.Count(got, []byte(".")); dots != rounds {
		t.Fatalf("%d rounds read, want %d", dots, rounds)
	}
	wantCovered()

	// A Write now waits on the client too; the reader goes on. However
	// the client's kernel packs what it holds, it cannot hold this much.
	const big = 8 << 20
	written := make(chan error, 1)
	go func() { // ends at the write deadline below
		_, err := c.Write(make([]byte, big))
		written <- err
	}()
	flooded = flood(rounds/8, "MORE")
	readUntil("MORE")
	if err := <-flooded; err != nil {
		t.Fatal(err)
	}
	wantCovered()
	select {
	case err := <-written:
		t.Fatalf("a Write of %d bytes to a client that reads nothing returned %v", big, err)
	default:
	}

	// A write deadline stops the waiting writes.
	if err := srv.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-written:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write failed with %v, want the deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write goes on past its deadline")
	}
	settle(t, c)
	wantCovered()

	// Past the stall timeout, a Write gives up on the client, and the
	// reader learns why.
	if err := srv.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	const stall = 100 * time.Millisecond
	c.SetStallTimeout(stall)
	start := time.Now()
	_, err := c.Write(make([]byte, big))
	if took := time.Since(start); !errors.Is(err, ErrNotReading) || took > stall+5*time.Second {
		t.Errorf("Write = %v after %v, want %v after about %v", err, took, ErrNotReading, stall)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, ErrNotReading) {
			t.Errorf("Read failed with %v, want %v", err, ErrNotReading)
		}
	case <-time.After(5 * time.Second):
		t.Error("Read goes on after the Conn gave up on the client")
	}
}
