package web

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// clientFrame is a client's frame: masked with key, fin as given.
func clientFrame(op byte, fin bool, key [4]byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

var testKey = [4]byte{0x12, 0x34, 0x56, 0x78}

// decodeAll feeds in to a decoder chunk bytes at a time, reading with p of
// size bufLen, and returns the data and the control events seen.
func decodeAll(in []byte, chunk, bufLen int) (data []byte, events []string, err error) {
	return decodeWith(in, chunk, bufLen, nil)
}

// decodeWith is decodeAll, with waiting (if not nil) given the decoder at
// every point where it waits for bytes, to go on with the one it returns.
func decodeWith(in []byte, chunk, bufLen int, waiting func(*decoder) *decoder) (data []byte, events []string, err error) {
	d := newDecoder()
	p := make([]byte, bufLen)
	for {
		n, ev, err := d.next(p)
		if err != nil {
			return data, events, err
		}
		switch ev {
		case evData:
			data = append(data, p[:n]...)
		case evPing:
			events = append(events, "ping:"+string(d.ctrl))
		case evPong:
			events = append(events, "pong:"+string(d.ctrl))
		case evClose:
			events = append(events, "close:"+string(d.ctrl))
		case evNeedMore:
			if waiting != nil {
				d = waiting(d)
			}
			if len(in) == 0 {
				return data, events, nil
			}
			m := copy(d.space(), in[:min(chunk, len(in))])
			d.wrote(m)
			in = in[m:]
		}
	}
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestDecoder(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000) // a 16-bit length
	tests := []struct {
		name   string
		in     []byte
		data   string
		events []string
		code   int // the close code of the error, 0 for none
	}{
		{"binary", clientFrame(opBinary, true, testKey, []byte("hello")), "hello", nil, 0},
		{"text", clientFrame(opText, true, testKey, []byte("héllo")), "héllo", nil, 0},
		{"empty", clientFrame(opBinary, true, testKey, nil), "", nil, 0},
		{"16-bit length", clientFrame(opBinary, true, testKey, big), string(big), nil, 0},
		{"two messages", cat(clientFrame(opBinary, true, testKey, []byte("ab")), clientFrame(opText, true, [4]byte{9, 8, 7, 6}, []byte("cd"))), "abcd", nil, 0},
		{"fragments", cat(clientFrame(opText, false, testKey, []byte("ab")), clientFrame(opContinuation, false, testKey, []byte("cd")), clientFrame(opContinuation, true, testKey, []byte("ef"))), "abcdef", nil, 0},
		{"ping inside a fragmented message", cat(clientFrame(opBinary, false, testKey, []byte("ab")), clientFrame(opPing, true, testKey, []byte("p")), clientFrame(opContinuation, true, testKey, []byte("cd"))), "abcd", []string{"ping:p"}, 0},
		{"pong ignored", clientFrame(opPong, true, testKey, []byte("x")), "", []string{"pong:x"}, 0},
		{"close", clientFrame(opClose, true, testKey, closePayload(1000, "bye")), "", []string{"close:\x03\xe8bye"}, 0},
		{"unmasked", []byte{0x82, 0x01, 'x'}, "", nil, closeProtocol},
		{"reserved bits", func() []byte { b := clientFrame(opBinary, true, testKey, []byte("x")); b[0] |= 0x40; return b }(), "", nil, closeProtocol},
		{"unknown opcode", clientFrame(0x3, true, testKey, nil), "", nil, closeProtocol},
		{"stray continuation", clientFrame(opContinuation, true, testKey, []byte("x")), "", nil, closeProtocol},
		{"new message mid-message", cat(clientFrame(opBinary, false, testKey, []byte("a")), clientFrame(opBinary, true, testKey, []byte("b"))), "a", nil, closeProtocol},
		{"fragmented ping", clientFrame(opPing, false, testKey, nil), "", nil, closeProtocol},
		{"long ping", clientFrame(opPing, true, testKey, make([]byte, 126)), "", nil, closeProtocol},
		{"oversized frame", clientFrame(opBinary, true, testKey, make([]byte, MaxMessage+1)), "", nil, closeTooBig},
		{"oversized message", cat(clientFrame(opBinary, false, testKey, make([]byte, MaxMessage)), clientFrame(opContinuation, true, testKey, []byte("x"))), string(make([]byte, MaxMessage)), nil, closeTooBig},
		{"64-bit length with high bit", append([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, testKey[:]...), "", nil, closeProtocol},
		{"64-bit length too big", append([]byte{0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}, testKey[:]...), "", nil, closeTooBig},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 4096} {
			for _, bufLen := range []int{1, 5, 1 << 17} {
				data, events, err := decodeAll(tt.in, chunk, bufLen)
				var pe *ProtocolError
				switch {
				case tt.code == 0 && err != nil:
					t.Errorf("%s (chunks of %d, reads of %d): %v", tt.name, chunk, bufLen, err)
				case tt.code != 0 && (!errors.As(err, &pe) || pe.Code != tt.code):
					t.Errorf("%s (chunks of %d, reads of %d): error %v, want close %d", tt.name, chunk, bufLen, err, tt.code)
				}
				if string(data) != tt.data {
					t.Errorf("%s (chunks of %d, reads of %d): data %q, want %q", tt.name, chunk, bufLen, trim(data), trim([]byte(tt.data)))
				}
				if len(events) != len(tt.events) || (len(events) > 0 && events[0] != tt.events[0]) {
					t.Errorf("%s (chunks of %d, reads of %d): events %q, want %q", tt.name, chunk, bufLen, events, tt.events)
				}
			}
		}
	}
}

func trim(b []byte) []byte { return b[:min(len(b), 40)] }

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		f := appendFrame(nil, opBinary, make([]byte, n))
		wantHeader := map[bool]int{true: 2, false: 4}[n <= 125]
		if n > 0xffff {
			wantHeader = 10
		}
		if len(f) != n+wantHeader || f[0] != 0x82 {
			t.Errorf("a %d-byte frame: %d bytes, first %#x", n, len(f), f[0])
		}
	}
}
