package sshrelay

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"translucent/telnet"
)

const (
	iac  = telnet.IAC
	will = telnet.WILL
	do   = telnet.DO
	wont = telnet.WONT
	sb   = telnet.SB
	se   = telnet.SE
	naws = byte(telnet.NAWS)
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"1 + 1\r", "1 + 1\r"},
		{"\xff", "\xff\xff"},
		{"a\xff\xffb", "a\xff\xff\xff\xffb"},
		{"\x03\x04\x1b[A", "\x03\x04\x1b[A"},
	} {
		if got := escape(nil, []byte(tt.in)); string(got) != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNAWSCommand(t *testing.T) {
	for _, tt := range []struct {
		w, h int
		want []byte
	}{
		{100, 30, []byte{iac, sb, naws, 0, 100, 0, 30, iac, se}},
		{255, 255, []byte{iac, sb, naws, 0, 255, 255, 0, 255, 255, iac, se}},
		{0xffff + 1, -1, []byte{iac, sb, naws, 255, 255, 255, 255, 0, 0, iac, se}},
	} {
		if got := nawsCommand(tt.w, tt.h); !bytes.Equal(got, tt.want) {
			t.Errorf("nawsCommand(%d, %d) = %v, want %v", tt.w, tt.h, got, tt.want)
		}
	}
}

// frontEnd is the front's side of a pump under test: what the pump sent
// it, collected.
type frontEnd struct {
	conn net.Conn
	got  chan []byte
}

func newFrontEnd(t *testing.T) (*frontEnd, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	f := &frontEnd{conn: a, got: make(chan []byte, 100)}
	go func() { // ends when the pipe closes
		buf := make([]byte, 4096)
		for {
			n, err := a.Read(buf)
			if n > 0 {
				f.got <- bytes.Clone(buf[:n])
			}
			if err != nil {
				close(f.got)
				return
			}
		}
	}()
	return f, b
}

// expect waits for the pump to have sent want, in order.
func (f *frontEnd) expect(t *testing.T, want []byte) {
	t.Helper()
	var got []byte
	timeout := time.After(10 * time.Second)
	for !bytes.Contains(got, want) {
		select {
		case b, ok := <-f.got:
			if !ok {
				t.Fatalf("front connection closed; got %v, want %v", got, want)
			}
			got = append(got, b...)
		case <-timeout:
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// TestPumpFromFront: the front's offers are answered as a terminal's
// telnet does, its window size follows WILL NAWS and every resize, and
// the SSH client sees the data alone, an escaped 255 once.
func TestPumpFromFront(t *testing.T) {
	front, conn := newFrontEnd(t)
	p := newPump(conn, true, 100, 30)
	var shown bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- p.fromFront(&shown) }()

	// Resized before the front asked: only remembered.
	if err := p.resize(90, 25); err != nil {
		t.Fatal(err)
	}
	front.conn.Write([]byte{iac, will, 1, iac, will, 3, iac, do, 3, iac, do, naws, iac, do, 24})
	front.expect(t, []byte{iac, do, 1, iac, do, 3, iac, wont, 3, iac, will, naws, iac, wont, 24, iac, sb, naws, 0, 90, 0, 25, iac, se})
	front.conn.Write([]byte("username? no: hello\r\n\xff\xff>>> "))
	// Resized after: told at once.
	p.resize(120, 40)
	front.expect(t, []byte{iac, sb, naws, 0, 120, 0, 40, iac, se})
	front.conn.Close()
	if err := <-done; err != io.EOF {
		t.Errorf("fromFront ended with %v, want io.EOF", err)
	}
	if got := shown.String(); got != "username? no: hello\r\n\xff>>> " {
		t.Errorf("the SSH client saw %q", got)
	}
}

func TestPumpToFront(t *testing.T) {
	front, conn := newFrontEnd(t)
	p := newPump(conn, true, 0, 0)
	done := make(chan error, 1)
	go func() { done <- p.toFront(strings.NewReader("x := \"\xff\"\r")) }()
	front.expect(t, []byte("x := \"\xff\xff\"\r\xff\xec"))
	if err := <-done; err != io.EOF {
		t.Errorf("toFront ended with %v, want io.EOF", err)
	}
}

// TestPumpEndOfInput: the end of the client's input ends its last line,
// if it has no newline, then says IAC EOF.
func TestPumpEndOfInput(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"x := 1\n", "x := 1\n\xff\xec"},
		{"x := 1", "x := 1\r\n\xff\xec"},
		{"", "\xff\xec"},
	} {
		front, conn := newFrontEnd(t)
		p := newPump(conn, false, 0, 0)
		done := make(chan error, 1)
		go func() { done <- p.toFront(strings.NewReader(tc.typed)) }()
		front.expect(t, []byte(tc.want))
		if err := <-done; err != io.EOF {
			t.Errorf("%q: toFront ended with %v, want io.EOF", tc.typed, err)
		}
	}
}

// TestPumpWithoutTerminal: an SSH client without a pty (ssh -T, a script)
// refuses every option, so the front serves it in line mode.
func TestPumpWithoutTerminal(t *testing.T) {
	front, conn := newFrontEnd(t)
	p := newPump(conn, false, 0, 0)
	go p.fromFront(io.Discard) // ends when the pipe closes
	front.conn.Write([]byte{iac, will, 1, iac, do, naws})
	front.expect(t, []byte{iac, telnet.DONT, 1, iac, wont, naws})
}
