package telnet

import (
	"bytes"
	"testing"
)

// serverStream is what a server sends a new client, and more: offers,
// a subnegotiation with an escaped 255 inside, an escaped 255 in the
// data, a two-byte command, and answers that need none.
var serverStream = []byte{
	IAC, WILL, 1, IAC, WILL, 3, IAC, DO, 3, IAC, DO, 31, IAC, DO, 24,
	'u', 's', 'e', 'r', ':', ' ',
	IAC, SB, 31, 0, 80, IAC, IAC, 0, 24, IAC, SE,
	'a', '\r', '\n', 'b', '\r', 0, IAC, IAC,
	IAC, NOP,
	IAC, WONT, 1, IAC, DONT, 3,
	'c',
}

func TestClientDecoder(t *testing.T) {
	wantData := []byte("user: a\r\nb\r\x00\xffc")
	wantReply := []byte{IAC, DONT, 1, IAC, DONT, 3, IAC, WONT, 3, IAC, WONT, 31, IAC, WONT, 24}
	// Every split of the stream into two reads gives the same result.
	for cut := 0; cut <= len(serverStream); cut++ {
		var d ClientDecoder
		data, reply := d.Feed(nil, nil, serverStream[:cut])
		data, reply = d.Feed(data, reply, serverStream[cut:])
		if !bytes.Equal(data, wantData) || !bytes.Equal(reply, wantReply) {
			t.Errorf("cut at %d: data %q reply %v; want %q %v", cut, data, reply, wantData, wantReply)
		}
	}
}

// FuzzClientDecoder: any stream decodes the same whole or in two reads,
// and never yields more data than it holds.
func FuzzClientDecoder(f *testing.F) {
	f.Add(serverStream, 7)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		cut = min(max(cut, 0), len(b))
		var whole, split ClientDecoder
		data, reply := whole.Feed(nil, nil, b)
		d2, r2 := split.Feed(nil, nil, b[:cut])
		d2, r2 = split.Feed(d2, r2, b[cut:])
		if !bytes.Equal(data, d2) || !bytes.Equal(reply, r2) {
			t.Fatalf("whole %q %v, split at %d %q %v", data, reply, cut, d2, r2)
		}
		if len(data) > len(b) {
			t.Fatalf("%d bytes of data from %d", len(data), len(b))
		}
	})
}

// TestClientDecoderAccept: a client that performs NAWS and lets the server
// echo and suppress go-ahead (an SSH relay) agrees to those, refuses the rest.
func TestClientDecoderAccept(t *testing.T) {
	d := ClientDecoder{Accept: func(verb byte, opt Option) bool {
		return verb == DO && opt == NAWS || verb == WILL && (opt == Echo || opt == SGA)
	}}
	_, reply := d.Feed(nil, nil, serverStream)
	want := []byte{IAC, DO, 1, IAC, DO, 3, IAC, WONT, 3, IAC, WILL, 31, IAC, WONT, 24}
	if !bytes.Equal(reply, want) {
		t.Errorf("reply %v, want %v", reply, want)
	}
}
