package repl

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// chunks is a reader that returns its chunks one per Read, then io.EOF.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

// reads drains in, one Read at a time, naming each result.
func reads(in *input) []string {
	var out []string
	b := make([]byte, 64)
	for {
		n, err := in.Read(b)
		switch {
		case errors.Is(err, errInterrupt):
			out = append(out, "<intr>")
		case err != nil:
			return out
		default:
			out = append(out, string(b[:n]))
		}
	}
}

func TestInputRead(t *testing.T) {
	tests := []struct {
		name string
		in   chunks
		want []string
	}{
		{"one line at a time", chunks{"a\rb\rc"}, []string{"a\r", "b\r", "c"}},
		{"ctrl-c alone", chunks{"ab\x03cd\r"}, []string{"ab", "<intr>", "cd\r"}},
		{"invalid utf-8 dropped", chunks{"a\xffb\xc3\x28\r"}, []string{"ab(\r"}},
		{"utf-8 split across reads", chunks{"\xc3", "\xa9\r"}, []string{"é\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(&tt.in)
			in.pump()
			got := reads(in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// A line longer than the pump's buffer (a paste) arrives whole, over
// several reads, UTF-8 split across them included.
func TestInputLongLine(t *testing.T) {
	line := strings.Repeat("x", pumpBuffer-1) + "é" + strings.Repeat("ü", 2*pumpBuffer) + "\r"
	src := chunks{line}
	in := newInput(&src)
	in.pump()
	if got := strings.Join(reads(in), ""); got != line {
		t.Fatalf("read %d bytes, want the %d of the line", len(got), len(line))
	}
}

func TestInputInterruptsEvaluation(t *testing.T) {
	// A Ctrl-C typed ahead, before the evaluation starts, still cancels it
	// and is consumed.
	src := chunks{"x\r\x03y\r"}
	in := newInput(&src)
	in.pump()
	ctx, done := in.evaluating(context.Background())
	defer done()
	if ctx.Err() == nil {
		t.Fatal("evaluation not cancelled by a typed-ahead Ctrl-C")
	}
	if got := string(in.Pending()); got != "x\ry\r" {
		t.Errorf("pending %q, want %q", got, "x\ry\r")
	}

	// While evaluating, Ctrl-C arriving from the client cancels.
	pr, pw := io.Pipe()
	in = newInput(pr)
	go in.pump() // ends when pw is closed
	defer pw.Close()
	ctx, done = in.evaluating(context.Background())
	defer done()
	pw.Write([]byte("ab\x03"))
	<-ctx.Done()
}
