package repl

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// chunkedReader returns its data in the given pieces, one per Read.
type chunkedReader struct{ pieces []string }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if c.pieces[0] == "" {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}

// readAllRecall reads r through a recallReader in small reads.
func readAllRecall(t testing.TB, r io.Reader) string {
	t.Helper()
	rr := &recallReader{r: r}
	var out bytes.Buffer
	buf := make([]byte, 7)
	for range 10000 {
		n, err := rr.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String() + string(rr.held)
		}
	}
	t.Fatal("recallReader never ended")
	return ""
}

// TestRecallReader: Up and Down become the editor's keys however the reads
// cut them; everything else passes unchanged.
func TestRecallReader(t *testing.T) {
	up, down := string(keyRecallUp), string(keyRecallDown)
	for _, tt := range []struct {
		name   string
		pieces []string
		want   string
	}{
		{"plain", []string{"x + 1\r"}, "x + 1\r"},
		{"up", []string{"\x1b[A\r"}, up + "\r"},
		{"up down", []string{"a\x1b[A\x1b[Bb"}, "a" + up + down + "b"},
		{"cut after ESC", []string{"a\x1b", "[A"}, "a" + up},
		{"cut after ESC [", []string{"\x1b[", "B\r"}, down + "\r"},
		{"ESC alone", []string{"\x1b"}, "\x1b"},
		{"other keys", []string{"\x1b[C\x1b[D\x1b[H\x1b[3~"}, "\x1b[C\x1b[D\x1b[H\x1b[3~"},
		{"cut other key", []string{"\x1b[", "C"}, "\x1b[C"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := readAllRecall(t, &chunkedReader{pieces: append([]string(nil), tt.pieces...)}); got != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzRecallReader: however the input is cut, the editor reads what it
// would read whole, with Up and Down translated.
func FuzzRecallReader(f *testing.F) {
	f.Add("x\x1b[A\x1b[B\r", uint8(1))
	f.Add("\x1b\x1b[\x1b[A", uint8(2))
	f.Add("for {\r\x1b[A}", uint8(5))
	f.Fuzz(func(t *testing.T, s string, cut uint8) {
		want := strings.NewReplacer("\x1b[A", string(keyRecallUp), "\x1b[B", string(keyRecallDown)).Replace(s)
		step := int(cut%16) + 1
		var pieces []string
		for k := 0; k < len(s); k += step {
			pieces = append(pieces, s[k:min(len(s), k+step)])
		}
		if got := readAllRecall(t, &chunkedReader{pieces: pieces}); got != want {
			t.Errorf("%q cut every %d: read %q, want %q", s, step, got, want)
		}
	})
}
