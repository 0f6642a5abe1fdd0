package namespace

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// output serialises the writes of one namespace's code, whichever
// goroutine makes them, and drops them once the namespace is closed.
type output struct {
	mu     sync.Mutex // held while writing
	closed atomic.Bool
}

// A sink is Options.Stdout or Options.Stderr as the namespace's code
// writes to it.
type sink struct {
	out *output
	w   io.Writer // nil: discard
}

func (s *sink) Write(p []byte) (int, error) {
	if s.out.closed.Load() {
		return 0, ErrClosed
	}
	if s.w == nil {
		return len(p), nil
	}
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.w.Write(p)
}

// A stdFile is os.Stdin, os.Stdout or os.Stderr for the namespace's code,
// in place of the process's *os.File; it has the methods code commonly
// calls on them.
type stdFile struct {
	name string
	r    io.Reader
	w    io.Writer
}

var errBadFileUse = errors.New("bad file descriptor")

func (f *stdFile) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, errBadFileUse
	}
	return f.r.Read(p)
}

func (f *stdFile) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, errBadFileUse
	}
	return f.w.Write(p)
}

func (f *stdFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *stdFile) Name() string { return f.name }

func (f *stdFile) Sync() error { return nil }

func (f *stdFile) Close() error { return nil }
