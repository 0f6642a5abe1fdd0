package web

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// decodeMigrating is decodeAll, but the decoder is carried (encoded and
// decoded again, as a migration does) at every point where it waits for
// bytes.
func decodeMigrating(t testing.TB, in []byte, chunk, bufLen int) (data []byte, events []string, err error) {
	return decodeWith(in, chunk, bufLen, func(d *decoder) *decoder {
		st, err := encodeState(d, nil)
		if err != nil {
			t.Fatalf("encodeState: %v", err)
		}
		carried, _, err := decodeState(st)
		if err != nil {
			t.Fatalf("a state this build wrote does not decode: %v", err)
		}
		return carried
	})
}

func TestStateRoundTrip(t *testing.T) {
	in := cat(
		clientFrame(opText, false, testKey, []byte("hello, ")),
		clientFrame(opPing, true, testKey, []byte("are you there")),
		clientFrame(opContinuation, true, [4]byte{1, 2, 3, 4}, bytes.Repeat([]byte("world"), 100)),
		clientFrame(opBinary, true, testKey, []byte{0xff, 0, 0xff}),
	)
	want, wantEv, err := decodeAll(in, 4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 2, 7, 100} {
		for _, bufLen := range []int{1, 3, 64} {
			got, ev, err := decodeMigrating(t, in, chunk, bufLen)
			if err != nil || !bytes.Equal(got, want) || strings.Join(ev, "|") != strings.Join(wantEv, "|") {
				t.Errorf("chunks of %d, reads of %d: %q %q %v, want %q %q", chunk, bufLen, trim(got), ev, err, trim(want), wantEv)
			}
		}
	}
}

// A state from another process is hostile input: each of these is
// refused with a reason.
// A pong owed for an empty ping is carried, and none when none is owed.
func TestStatePong(t *testing.T) {
	for _, pong := range [][]byte{nil, {}, []byte("p")} {
		st, err := encodeState(newDecoder(), pong)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := decodeState(st)
		if err != nil || (got == nil) != (pong == nil) || string(got) != string(pong) {
			t.Errorf("pong %q carried as %q, %v", pong, got, err)
		}
	}
}

func TestStateRefused(t *testing.T) {
	ok := state{Version: stateVersion, InFrame: true, Op: opBinary, Fin: true, Key: []byte{1, 2, 3, 4}, KeyPos: 1, Remain: 10, MsgSize: 20}
	tests := []struct {
		name   string
		change func(*state)
		err    string
	}{
		{"version", func(s *state) { s.Version = 99 }, "version 99"},
		{"buffered", func(s *state) { s.Buffered = make([]byte, bufSize+1) }, "buffered"},
		{"key length", func(s *state) { s.Key = []byte{1} }, "malformed frame"},
		{"key position", func(s *state) { s.KeyPos = 4 }, "malformed frame"},
		{"negative remain", func(s *state) { s.Remain = -1 }, "malformed frame"},
		{"remain over the message", func(s *state) { s.Remain = 21 }, "malformed data frame"},
		{"message too big", func(s *state) { s.MsgSize = MaxMessage + 1 }, "message of"},
		{"fin and in a message", func(s *state) { s.InMessage = true }, "malformed data frame"},
		{"control too long", func(s *state) { s.Op, s.Control, s.Remain = opPing, make([]byte, 100), 26 }, "control frame"},
		{"opcode", func(s *state) { s.Op = 5 }, "opcode"},
		{"progress outside a frame", func(s *state) { s.InFrame = false }, "outside a frame"},
		{"pong", func(s *state) { s.Pong = make([]byte, 126) }, "ping"},
	}
	if b, _ := cbor.Marshal(ok); true {
		if _, _, err := decodeState(b); err != nil {
			t.Fatalf("the valid state: %v", err)
		}
	}
	for _, tt := range tests {
		st := ok
		tt.change(&st)
		b, _ := cbor.Marshal(st)
		if _, _, err := decodeState(b); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.err)
		}
	}
	for _, bad := range [][]byte{nil, {0xff}, []byte("garbage"), make([]byte, 3*bufSize)} {
		if _, _, err := decodeState(bad); err == nil {
			t.Errorf("decodeState(%q) accepted", trim(bad))
		}
	}
	unknown, _ := cbor.Marshal(map[string]any{"Version": 1, "Extra": 1})
	if _, _, err := decodeState(unknown); err == nil {
		t.Error("a state with an unknown field accepted")
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// A read deadline that passes mid-frame leaves the Conn at rest; its state
// rebuilds it on the same socket (as in the successor), which reads the
// rest of the frame.
func TestConnResumeMidFrame(t *testing.T) {
	sock, client := tcpPair(t)
	c := newConn(sock, newDecoder())
	frame := clientFrame(opBinary, true, testKey, []byte("hello, world"))
	client.Write(frame[:9]) // header and 3 bytes of payload
	p := make([]byte, 64)
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != "hel" {
		t.Fatalf("Read = %q, %v", p[:n], err)
	}
	c.SetReadDeadline(time.Now())
	if _, err := c.Read(p); !errors.Is(err, errTimeout(err)) {
		t.Fatalf("Read after the deadline = %v, want a timeout", err)
	}
	kind, st, err := c.Frame()
	if err != nil || kind != Kind {
		t.Fatalf("Frame = %q, %v", kind, err)
	}
	client.Write(frame[9:])
	nc, err := Resume(sock, st)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Time{})
	n, err = io.ReadAtLeast(nc, p, len("lo, world"))
	if err != nil || string(p[:n]) != "lo, world" {
		t.Fatalf("the resumed Read = %q, %v", p[:n], err)
	}

	// Ping: answered with a pong of its payload; close: echoed, then EOF.
	client.Write(clientFrame(opPing, true, testKey, []byte("p1")))
	client.Write(clientFrame(opClose, true, testKey, closePayload(1001, "going")))
	if _, err := nc.Read(p); err != io.EOF {
		t.Fatalf("Read after close = %v, want EOF", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 4+4)
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if want := "\x8a\x02p1\x88\x02\x03\xe9"; string(got) != want {
		t.Errorf("the client got %q, want %q", got, want)
	}
}

// errTimeout returns err if it is a timeout, for errors.Is above.
func errTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errors.New("not a timeout")
}

// A protocol violation is answered with a close frame that says why.
func TestConnProtocolError(t *testing.T) {
	sock, client := tcpPair(t)
	c := newConn(sock, newDecoder())
	client.Write([]byte{0x82, 0x01, 'x'}) // unmasked
	var pe *ProtocolError
	if _, err := c.Read(make([]byte, 8)); !errors.As(err, &pe) || pe.Code != closeProtocol {
		t.Fatalf("Read = %v, want a 1002", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(client)
	if len(got) < 4 || got[0] != 0x88 || got[2] != 0x03 || got[3] != 0xea || !strings.Contains(string(got), "mask") {
		t.Errorf("the client got %q", got)
	}
}

func TestWrite(t *testing.T) {
	sock, client := tcpPair(t)
	c := newConn(sock, newDecoder())
	if n, err := c.Write([]byte("hi")); n != 2 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, 4)
	io.ReadFull(client, got)
	if string(got) != "\x82\x02hi" {
		t.Errorf("frame %q", got)
	}
}

// An empty ping gets an empty pong, before the next data frame.
func TestEmptyPing(t *testing.T) {
	sock, client := tcpPair(t)
	c := newConn(sock, newDecoder())
	client.Write(cat(clientFrame(opPing, true, testKey, nil), clientFrame(opBinary, true, testKey, []byte("x"))))
	p := make([]byte, 8)
	if n, err := c.Read(p); err != nil || string(p[:n]) != "x" {
		t.Fatalf("Read = %q, %v", p[:n], err)
	}
	c.Write([]byte("y"))
	got := make([]byte, 5)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "\x8a\x00\x82\x01y" {
		t.Errorf("the client got %q, %v", got, err)
	}
}

// A protocol violation read while a writer holds the socket (the prompt
// on its way) is still answered with its close frame, once the writer is
// done: skipped, the client saw the connection drop without a reason.
func TestConnProtocolErrorWhileWriting(t *testing.T) {
	sock, client := tcpPair(t)
	c := newConn(sock, newDecoder())
	c.lockWrite(-1)                       // a writer, mid-frame
	client.Write([]byte{0x82, 0x01, 'x'}) // unmasked
	read := make(chan error, 1)
	go func() { // ends when Read has answered the violation
		_, err := c.Read(make([]byte, 8))
		read <- err
	}()
	c.unlockWrite()
	var pe *ProtocolError
	if err := <-read; !errors.As(err, &pe) || pe.Code != closeProtocol {
		t.Fatalf("Read = %v, want a 1002", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(client)
	if len(got) < 4 || got[0] != 0x88 || got[2] != 0x03 || got[3] != 0xea {
		t.Errorf("the client got %q, want a close frame with 1002", got)
	}
}
