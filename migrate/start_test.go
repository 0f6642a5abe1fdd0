package migrate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// nopService is a Service with nothing to move.
type nopService struct{}

func (nopService) Pause(context.Context) error { return nil }
func (nopService) Export() ([]*os.File, []Record, []string, error) {
	return nil, nil, nil, nil
}
func (nopService) Resume() {}

// TestStartDeadline: a successor whose process does not start (its child
// stopped before its exec holds exec.Cmd.Start) makes the handoff fail at
// its deadline, rather than hang; the process, once it starts, is killed
// and reaped.
func TestStartDeadline(t *testing.T) {
	release := make(chan struct{})
	pids := make(chan int, 1)
	startProcess = func(cmd *exec.Cmd) error {
		<-release // as a child stopped before its exec, until SIGCONT
		err := cmd.Start()
		if err == nil {
			pids <- cmd.Process.Pid
		}
		return err
	}
	t.Cleanup(func() { startProcess = (*exec.Cmd).Start })
	before := openFDs(t)

	done := make(chan error, 1)
	go func() { // ends when Handoff returns, which the test waits for
		_, err := Handoff(context.Background(), nopService{}, Options{
			Binary: testBinary(t), Args: []string{childArg, "hello"}, Timeout: 300 * time.Millisecond,
		})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("handoff: %v, want %v", err, ErrTimeout)
		}
		t.Logf("handoff: %v", err)
	case <-time.After(time.Minute):
		close(release)
		t.Fatal("the handoff did not end while its successor's process could not start")
	}

	close(release) // SIGCONT: the process starts, too late
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(time.Minute):
		t.Fatal("the late process never started")
	}
	deadline := time.Now().Add(time.Minute)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the late successor %d is still there", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for openFDs(t) != before {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open before, %d after", before, openFDs(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommitDeadline: a successor stopped (SIGSTOP) after READY, before
// it read COMMIT, is killed once commitWait has passed, and the handoff
// fails with the sessions still here, instead of waiting for it forever.
func TestCommitDeadline(t *testing.T) {
	commitWait = 300 * time.Millisecond
	t.Cleanup(func() { commitWait = 30 * time.Second })
	s := startChild(t, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Send(ctx, Header{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Commit() }() // ends at commitWait, or the test fails
	select {
	case err := <-done:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("Commit: %v, want %v", err, ErrTimeout)
		}
		t.Logf("Commit: %v", err)
	case <-time.After(time.Minute):
		syscall.Kill(s.Pid(), syscall.SIGKILL)
		t.Fatal("Commit waited on a stopped successor")
	}
	s.Abort()
	checkReaped(t, s.Pid())
}
