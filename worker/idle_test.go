package worker

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// nice returns the calling thread's nice value. It may be called from any
// goroutine.
func nice(t *testing.T) int {
	t.Helper()
	// The system call returns 20 - nice, so that it is never negative.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Error(err)
	}
	return 20 - p
}

// idle runs its work at nice 19 and leaves the caller's thread, and the
// threads that run later work, as they were.
func TestIdle(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := nice(t)
	var inside int
	idle(func() { inside = nice(t) })
	if inside != 19 {
		t.Errorf("idle work ran at nice %d, want 19", inside)
	}
	if after := nice(t); after != before {
		t.Errorf("the caller's thread is at nice %d after idle, was %d", after, before)
	}
	// Whatever thread runs the next goroutines is not the idle one.
	for range 50 {
		done := make(chan int)
		go func() { done <- nice(t) }()
		if got := <-done; got != before {
			t.Fatalf("a goroutine after idle ran at nice %d, want %d", got, before)
		}
	}
}
