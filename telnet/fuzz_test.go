package telnet

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzRead checks the decoder two ways. Taken as the peer's raw bytes,
// wire must give the same data, answers and state however it is split,
// with the connection moved to a new Conn at every split, and with the
// peer reading nothing meanwhile, so that the answers move unsent; only
// how many AYTs one answer covers may differ (see sameAnswers). Taken as
// application data, wire framed with the well-formed commands noise
// describes must come back exactly, line ends normalised: nothing inside
// a command leaks into the data.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, wire, noise, cuts []byte) {
		if len(wire) > 1<<12 || len(noise) > 64 {
			return // larger inputs find nothing more, only slower
		}
		data, sent, st := feed(t, [][]byte{wire}, false, false)
		if len(data) > len(wire) {
			t.Fatalf("%d bytes of data from %d bytes", len(data), len(wire))
		}
		for _, split := range []struct {
			name           string
			chunks         [][]byte
			migrate, stuck bool
		}{
			{"byte by byte", chunk(wire, []byte{0}), false, false},
			{"at cuts, moving at each", chunk(wire, cuts), true, false},
			{"at cuts, moving at each, the peer not reading", chunk(wire, cuts), true, true},
		} {
			d, s, st2 := feed(t, split.chunks, split.migrate, split.stuck)
			if !bytes.Equal(d, data) || !sameAnswers(s, sent) || !reflect.DeepEqual(st2, st) {
				t.Fatalf("%s: data %q, sent %q, state %+v; whole: %q, %q, %+v", split.name, d, s, st2, data, sent, st)
			}
		}

		// Not moved at each cut: framing makes many more cuts, and moving
		// is checked above.
		framed := frame(wire, noise)
		d, _, _ := feed(t, chunk(framed, cuts), false, false)
		if want := normalize(wire); !bytes.Equal(d, want) {
			t.Fatalf("framed data came back as %q, want %q (framed: %q)", d, want, framed)
		}
	})
}

// sameAnswers reports whether a and b answer the same commands. An AYT
// that arrives while the answer to an earlier one is unsent is covered by
// that answer, so how many AYT answers there are depends on when the
// writes happened: apart from them the answers must be the same, and
// there must be one if there is any.
func sameAnswers(a, b []byte) bool {
	ayt := []byte(aytReply)
	return bytes.Equal(bytes.ReplaceAll(a, ayt, nil), bytes.ReplaceAll(b, ayt, nil)) &&
		bytes.Contains(a, ayt) == bytes.Contains(b, ayt)
}

// chunk splits b into pieces whose lengths, 1 to 256, cuts gives in turn.
func chunk(b, cuts []byte) [][]byte {
	if len(cuts) == 0 {
		return [][]byte{b}
	}
	var out [][]byte
	for i := 0; len(b) > 0; i++ {
		n := min(int(cuts[i%len(cuts)])+1, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// frame escapes data as the peer would send it and puts a command after
// each few bytes: each byte of noise says how many bytes and which
// command. None of the commands stands for data.
func frame(data, noise []byte) []byte {
	var w []byte
	escape := func(b []byte) {
		for _, x := range b {
			w = append(w, x)
			if x == IAC {
				w = append(w, IAC)
			}
		}
	}
	for _, n := range noise {
		k := min(int(n%8), len(data))
		escape(data[:k])
		data = data[k:]
		switch n / 8 % 8 {
		case 0:
			w = append(w, IAC, NOP)
		case 1:
			w = append(w, IAC, AYT)
		case 2:
			w = append(w, IAC, WILL, n)
		case 3:
			w = append(w, IAC, DO, n)
		case 4:
			w = append(w, IAC, WONT, n)
		case 5:
			w = append(w, IAC, DONT, n)
		case 6: // up to 741 bytes: some outgrow maxSB
			w = append(w, IAC, SB)
			escape(bytes.Repeat([]byte{n}, 1+3*int(n)))
			w = append(w, IAC, SE)
		case 7:
			w = append(w, IAC, n%32) // undefined
		}
	}
	escape(data)
	return w
}

// normalize is what Read makes of data: every end of line one '\r'.
func normalize(data []byte) []byte {
	var out []byte
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\r':
			out = append(out, '\r')
			if i+1 < len(data) && (data[i+1] == '\n' || data[i+1] == 0) {
				i++
			}
		case '\n':
			out = append(out, '\r')
		default:
			out = append(out, data[i])
		}
	}
	return out
}
