package worker

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
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

// Yield puts a process that is about to be killed in the idle scheduling
// class (or at nice 19 where that is refused), every thread of it.
func TestYield(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("1", "1")
	pid := s.pid()
	Yield(pid)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of worker %d: %v", pid, err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // ended meanwhile
		}
		if attr.Policy == unix.SCHED_IDLE {
			continue
		}
		p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			continue
		}
		if n := 20 - p; n != 19 {
			t.Errorf("worker %d thread %d in scheduling class %d at nice %d after Yield, want SCHED_IDLE or nice 19", pid, tid, attr.Policy, n)
		}
	}
}
