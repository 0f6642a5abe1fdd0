package repl

import (
	"bytes"
	"strings"
	"testing"
)

func TestWatchBuffer(t *testing.T) {
	tests := []struct {
		name        string
		puts        []int // sizes put, in order
		wantLen     int
		wantDropped int
	}{
		{"nothing", nil, 0, 0},
		{"fits", []int{10, 20}, 30, 0},
		{"exactly full", []int{watchBuffer}, watchBuffer, 0},
		{"one too many: all that waited goes", []int{watchBuffer, 1}, 0, watchBuffer + 1},
		{"goes on after a drop", []int{watchBuffer - 1, 2, 5}, 5, watchBuffer + 1},
		{"one write over the bound", []int{watchBuffer + 1}, 0, watchBuffer + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &watch{wake: make(chan struct{}, 1)}
			for _, n := range tt.puts {
				w.put(bytes.Repeat([]byte("x"), n)) // never blocks, however full
			}
			b, dropped := w.take()
			if len(b) != tt.wantLen || dropped != tt.wantDropped {
				t.Errorf("took %d bytes, %d dropped; want %d, %d", len(b), dropped, tt.wantLen, tt.wantDropped)
			}
			if b, dropped := w.take(); len(b) != 0 || dropped != 0 {
				t.Errorf("a second take: %d bytes, %d dropped", len(b), dropped)
			}
		})
	}
}

func TestRecap(t *testing.T) {
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString(strings.Repeat("y", 10) + "\r\n")
		}
		return b.String()
	}
	tests := []struct {
		name, shown string
		wantLines   int
		wantPrefix  string
	}{
		{"empty", "", 0, ""},
		{"a few lines and a prompt", "x := 1\r\n>>> ", 1, "x := 1"},
		{"more than a screen", lines(0, 100) + ">>> ", recapLines, "yyyy"},
		{"cut at the size: starts at a line", strings.Repeat("z", 100) + "\r\n" + strings.Repeat(lines(0, 1), recapSize/12), recapLines, "yyyy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{shared: true}
			for _, c := range []byte(tt.shown) { // output arrives in pieces
				s.tee([]byte{c})
			}
			s.mu.Lock()
			got := string(s.recapLocked())
			s.mu.Unlock()
			if n := strings.Count(got, "\n"); n != tt.wantLines || !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("recap of %d lines starting %.20q; want %d lines starting %q", n, got, tt.wantLines, tt.wantPrefix)
			}
			if len(s.recap) > recapSize {
				t.Errorf("kept %d bytes, bound %d", len(s.recap), recapSize)
			}
		})
	}
}
