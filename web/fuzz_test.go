package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// FuzzDecoder feeds the decoder anything, in any chunks: it never panics,
// never returns more than it was given, and decodes the same whether or
// not it is carried to "another process" whenever it waits for bytes.
func FuzzDecoder(f *testing.F) {
	f.Add(clientFrame(opBinary, true, testKey, []byte("hello")), uint8(3), uint8(2))
	f.Add(cat(clientFrame(opText, false, testKey, []byte("ab")), clientFrame(opPing, true, testKey, []byte("p")), clientFrame(opContinuation, true, testKey, []byte("cd"))), uint8(1), uint8(1))
	f.Add(clientFrame(opClose, true, testKey, closePayload(1000, "")), uint8(5), uint8(9))
	f.Add([]byte{0x82, 0x01, 'x'}, uint8(1), uint8(1))
	f.Add(append([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, testKey[:]...), uint8(4), uint8(4))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint8(7), uint8(100))
	f.Fuzz(func(t *testing.T, in []byte, chunk, bufLen uint8) {
		c, b := int(chunk)+1, int(bufLen)+1
		data, events, err := decodeAll(in, c, b)
		if len(data) > len(in) {
			t.Fatalf("%d bytes of data from %d bytes", len(data), len(in))
		}
		data2, events2, err2 := decodeMigrating(t, in, c, b)
		if !bytes.Equal(data, data2) || strings.Join(events, "|") != strings.Join(events2, "|") || (err == nil) != (err2 == nil) {
			t.Fatalf("carried: %q %q %v; not carried: %q %q %v", trim(data2), events2, err2, trim(data), events, err)
		}
	})
}

// FuzzState decodes anything as a carried state: it never panics, and a
// state it accepts makes a decoder that decodes frames without panicking
// and encodes again to a state it accepts.
func FuzzState(f *testing.F) {
	d := newDecoder()
	in := clientFrame(opBinary, false, testKey, []byte("hello"))
	d.wrote(copy(d.space(), in[:9]))
	d.next(make([]byte, 2))
	seed, _ := encodeState(d, []byte("ping"))
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0xa1, 0x67, 'V', 'e', 'r', 's', 'i', 'o', 'n', 0x01})
	ctl, _ := cbor.Marshal(state{Version: 1, InFrame: true, Op: opPing, Fin: true, Key: []byte{1, 2, 3, 4}, Remain: 3, Control: []byte("ab")})
	f.Add(ctl)
	f.Fuzz(func(t *testing.T, st []byte) {
		d, pong, err := decodeState(st)
		if err != nil {
			return
		}
		again, err := encodeState(d, pong)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := decodeState(again); err != nil {
			t.Fatalf("an accepted state encodes to one refused: %v", err)
		}
		more := cat(clientFrame(opContinuation, true, testKey, []byte("xyz")), clientFrame(opBinary, true, testKey, []byte("abc")))
		p := make([]byte, 16)
		for i := 0; i < 100; i++ {
			_, ev, err := d.next(p)
			if err != nil {
				return
			}
			if ev == evNeedMore {
				if len(more) == 0 {
					return
				}
				m := copy(d.space(), more)
				d.wrote(m)
				more = more[m:]
			}
		}
	})
}
