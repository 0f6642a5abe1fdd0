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
		whole       bool // shown in one write, not byte by byte
	}{
		{"empty", "", 0, "", false},
		{"a few lines and a prompt", "x := 1\r\n>>> ", 1, "x := 1", false},
		{"more than a screen", lines(0, 100) + ">>> ", recapLines, "yyyy", false},
		{"cut at the size: starts at a line", strings.Repeat("z", 100) + "\r\n" + strings.Repeat(lines(0, 1), recapSize/12), recapLines, "yyyy", false},
		{"one write over the size", strings.Repeat("z", 3*recapSize) + "\r\n" + lines(0, 3), 3, "yyyy", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Session{shared: true}
			if tt.whole {
				s.tee([]byte(tt.shown))
			} else {
				for _, c := range []byte(tt.shown) { // output arrives in pieces
					s.tee([]byte{c})
				}
			}
			s.mu.Lock()
			got := string(s.recapLocked())
			s.mu.Unlock()
			if n := strings.Count(got, "\n"); n != tt.wantLines || !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("recap of %d lines starting %.20q; want %d lines starting %q", n, got, tt.wantLines, tt.wantPrefix)
			}
			if len(s.recap) > 2*recapSize {
				t.Errorf("kept %d bytes, bound %d", len(s.recap), recapSize)
			}
		})
	}
}

// BenchmarkTee is what a session's output pays for watching: nothing
// shared and nobody watching, shared (the recap kept), and one watcher
// whose buffer is emptied as it goes.
func BenchmarkTee(b *testing.B) {
	line := []byte(strings.Repeat("x", 79) + "\n")
	for _, bb := range []struct {
		name     string
		shared   bool
		watchers int
	}{{"alone", false, 0}, {"shared", true, 0}, {"watched", true, 1}} {
		b.Run(bb.name, func(b *testing.B) {
			s := &Session{shared: bb.shared}
			var w *watch
			if bb.watchers > 0 {
				w = &watch{wake: make(chan struct{}, 1)}
				s.watchers = []*watch{w}
			}
			b.SetBytes(int64(len(line)))
			for i := 0; b.Loop(); i++ {
				s.tee(line)
				if w != nil && i%64 == 0 {
					w.take()
				}
			}
		})
	}
}
