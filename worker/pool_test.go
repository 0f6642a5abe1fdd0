package worker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// testPool starts a pool whose workers are this test binary (TestMain).
func testPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Path = exe
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	pl := NewPool(cfg)
	t.Cleanup(func() { pl.Close() })
	return pl
}

// testLog writes the pool's log to the test's.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// syncBuffer is what a session's client receives.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type session struct {
	t   testing.TB
	ns  *Namespace
	out *syncBuffer
}

func openSession(t testing.TB, pl *Pool) *session {
	t.Helper()
	out := &syncBuffer{}
	ns, err := pl.New(namespace.Options{Stdout: out, Stderr: out, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	return &session{t: t, ns: ns, out: out}
}

// eval evaluates src and returns its value, or its error's text.
func (s *session) eval(src string) string {
	s.t.Helper()
	// A worker that never answers fails the test, with the state its
	// process was in, rather than hang the suite until its timeout (seen
	// once under a load of 10 on two cores: TestWorkerMisbehaves/stopped
	// sent its line before SIGSTOP had stopped the worker, which answered
	// it and then stopped, and the next line waited for good; see
	// stopWorker).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pid := s.pid()
	stop := context.AfterFunc(ctx, func() {
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		s.t.Errorf("%s: no answer within 2 minutes from worker %d (/proc/%d/stat: %q); interrupting it", src, pid, pid, stat)
	})
	defer stop()
	res, err := s.ns.Eval(ctx, src)
	if err != nil {
		return "error: " + err.Error()
	}
	return res.Value
}

func (s *session) mustEval(src, want string) {
	s.t.Helper()
	if got := s.eval(src); got != want {
		s.t.Fatalf("%s = %q, want %q", src, got, want)
	}
}

func (s *session) pid() int {
	pid, _ := s.ns.Worker()
	return pid
}

func TestEval(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("x := 41", "")
	s.mustEval("x + 1", "42")
	s.mustEval(`import "fmt"`, "")
	s.mustEval(`fmt.Println("hello")`, "")
	if got := s.out.String(); got != "hello\n" {
		t.Errorf("output %q, want %q", got, "hello\n")
	}
	if _, err := s.ns.Eval(context.Background(), "func f() {"); !errors.Is(err, namespace.ErrIncomplete) {
		t.Errorf("incomplete input: %v, want ErrIncomplete", err)
	}
	s.mustEval(`import "os"`, "")
	if got, want := s.eval("os.Getpid()"), s.pid(); got != strconv.Itoa(want) {
		t.Errorf("os.Getpid() = %s, want the worker's pid %d", got, want)
	}
	if os.Getpid() == s.pid() {
		t.Error("the namespace runs in the front's process")
	}
	vars := s.ns.Vars()
	if len(vars) != 1 || vars[0].Name != "x" || vars[0].Type != "int" {
		t.Errorf("Vars = %v, want [x int]", vars)
	}
	if got := strings.Join(s.ns.Imports(), " "); got != "fmt os" {
		t.Errorf("Imports = %q", got)
	}
	// x, not _ (the last value printed: not carried).
	snap, lost, err := s.ns.Snapshot()
	if err != nil || len(lost) != 0 || len(snap.Vars) != 1 || snap.Vars[0].Name != "x" {
		t.Fatalf("Snapshot = %+v, %v, %v; want x only", snap.Vars, lost, err)
	}
	rev1, settled := s.ns.Revision()
	s.mustEval("x++", "")
	rev2, _ := s.ns.Revision()
	if !settled || rev2 == rev1 {
		t.Errorf("Revision: %d settled=%v, then %d after an evaluation", rev1, settled, rev2)
	}
}

// TestOutputIsLarge prints more than the output window in one line: flow
// control must let it all through, in order.
func TestOutputIsLarge(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval(`import "strings"`, "")
	s.mustEval(`import "fmt"`, "")
	s.mustEval(`for i := 0; i < 4; i++ { fmt.Print(strings.Repeat(fmt.Sprint(i), 200000)) }`, "")
	var want strings.Builder
	for i := 0; i < 4; i++ {
		want.WriteString(strings.Repeat(strconv.Itoa(i), 200000))
	}
	if got := s.out.String(); got != want.String() {
		t.Fatalf("output of %d bytes differs from the %d printed", len(got), want.Len())
	}
}

// TestCrashRollsBack ends a worker with each kind of line that killed the
// whole server before isolation, with a second, innocent session beside
// it: the culprit is restored as before the line and told why; the
// innocent one notices nothing.
func TestCrashRollsBack(t *testing.T) {
	for _, mode := range []struct {
		name      string
		perWorker int
	}{{"session", 1}, {"pool", 4}} {
		t.Run(mode.name, func(t *testing.T) {
			pl := testPool(t, Config{PerWorker: mode.perWorker, Memory: 1 << 30})
			innocent := openSession(t, pl)
			innocent.mustEval("y := []string{\"safe\"}", "")
			for _, tc := range []struct {
				name, setup, line, reason string
			}{
				{"concurrent map writes", "m := map[int]int{}",
					`done := make(chan bool); for i := 0; i < 8; i++ { go func() { for j := 0; j < 1000000; j++ { m[j] = j }; done <- true }() }; for i := 0; i < 8; i++ { <-done }`,
					"fatal error: concurrent map writes"},
				{"stack overflow", "func f(n int) int { return f(n+1) + 1 }", "f(0)", "stack overflow"},
				{"breakpoint", `import "runtime"`, "runtime.Breakpoint()", "SIGTRAP"},
				{"max threads", `import "runtime/debug"`, "debug.SetMaxThreads(2)", "thread exhaustion"},
				{"out of memory", "", "b := make([]byte, 1<<40)", "out of memory"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					s := openSession(t, pl)
					s.mustEval("x := 41", "")
					if tc.setup != "" {
						s.mustEval(tc.setup, "")
					}
					before := s.pid()
					got := s.eval(tc.line)
					if !strings.Contains(got, "worker process running this line ended") || !strings.Contains(got, tc.reason) || !strings.Contains(got, "restored as it was before this line") {
						t.Fatalf("%s: %q, want a rollback naming %q", tc.line, got, tc.reason)
					}
					if s.pid() == before {
						t.Errorf("still in worker %d", before)
					}
					s.mustEval("x + 1", "42")
					innocent.mustEval("y[0]", `"safe"`)
				})
			}
			if mode.perWorker == 1 && strings.Contains(innocent.out.String(), "ended") {
				t.Errorf("the innocent session, in a worker of its own, was told: %q", innocent.out.String())
			}
		})
	}
}

// TestPoolCrashesInARow: a culprit that crashes its pool's worker again
// and again, as fast as it can type, while its neighbours are being
// restored: the neighbours keep their namespaces.
func TestPoolCrashesInARow(t *testing.T) {
	pl := testPool(t, Config{PerWorker: 4})
	var neighbours []*session
	for i := range 3 {
		s := openSession(t, pl)
		s.mustEval("n := "+strconv.Itoa(i), "")
		s.mustEval("n", strconv.Itoa(i)) // saved
		neighbours = append(neighbours, s)
	}
	culprit := openSession(t, pl)
	culprit.mustEval(`import "runtime"`, "")
	for range 5 {
		if got := culprit.eval("runtime.Breakpoint()"); !strings.Contains(got, "SIGTRAP") {
			t.Fatalf("runtime.Breakpoint() = %q", got)
		}
	}
	for i, s := range neighbours {
		// A line sent just as the last crash ended its worker, before the
		// front saw that worker end, is rolled back as any line that was
		// in it: what matters is the namespace after.
		if got := s.eval("n"); got != strconv.Itoa(i) && !strings.Contains(got, "SIGTRAP") {
			t.Errorf("n = %q, want %d", got, i)
		}
		s.mustEval("n", strconv.Itoa(i))
	}
}

// TestCrashInGoroutine: code a line left running ends the worker after
// the line returned. The session is told between prompts, restored as it
// was after its last line.
func TestCrashInGoroutine(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("x := 1", "")
	s.mustEval("m := map[int]int{}", "")
	before := s.pid()
	s.mustEval(`import "time"`, "")
	s.mustEval("for i := 0; i < 8; i++ { go func() { time.Sleep(200 * time.Millisecond); for j := 0; ; j++ { m[j%1000] = j } }() }", "")
	waitFor(t, "the notice", func() bool { return strings.Contains(s.out.String(), "worker process ended") })
	if got := s.out.String(); !strings.Contains(got, "concurrent map") || !strings.Contains(got, "after its last line") {
		t.Errorf("notice %q", got)
	}
	waitFor(t, "a new worker", func() bool { return s.pid() != before })
	s.mustEval("x", "1")
}

// The front's own notes between prompts go to Notes when it is set (the
// REPL folds them to the client's window), never mixed into the code's
// output.
func TestNoticeGoesToNotes(t *testing.T) {
	pl := testPool(t, Config{})
	out, notes := &syncBuffer{}, &syncBuffer{}
	ns, err := pl.New(namespace.Options{Stdout: out, Stderr: out, Notes: notes, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	s := &session{t: t, ns: ns, out: out}
	s.mustEval("m := map[int]int{}", "")
	s.mustEval(`import "time"`, "")
	s.mustEval("for i := 0; i < 8; i++ { go func() { time.Sleep(200 * time.Millisecond); for j := 0; ; j++ { m[j%1000] = j } }() }", "")
	waitFor(t, "the notice", func() bool { return strings.Contains(notes.String(), "worker process ended") })
	if got := out.String(); strings.Contains(got, "worker process ended") {
		t.Errorf("the notice went to the code's output too: %q", got)
	}
}

// TestInterruptWins: a line blocked where an interrupt cannot reach
// (time.Sleep, a deadlock) is ended with its worker within StopGrace, and
// the session goes on as before it.
func TestInterruptWins(t *testing.T) {
	pl := testPool(t, Config{StopGrace: 200 * time.Millisecond})
	s := openSession(t, pl)
	s.mustEval(`import "time"`, "")
	s.mustEval(`import "sync"`, "")
	s.mustEval("x := 7", "")
	s.mustEval("var mu sync.Mutex", "")
	for _, line := range []string{"time.Sleep(time.Hour)", "mu.Lock(); mu.Lock()", "for {}", "select {}"} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := s.ns.Eval(ctx, line)
		switch {
		case errors.Is(err, namespace.ErrRolledBack):
			if !strings.Contains(err.Error(), "did not stop") {
				t.Errorf("%s: %v", line, err)
			}
		case errors.Is(err, namespace.ErrInterrupted):
			if line == "time.Sleep(time.Hour)" || strings.Contains(line, "Lock") {
				t.Errorf("%s: interrupted without ending its worker", line)
			}
		default:
			t.Errorf("%s: %v, want it interrupted or rolled back", line, err)
		}
		s.mustEval("x", "7")
	}
}

func TestEvalTimeout(t *testing.T) {
	pl := testPool(t, Config{EvalTimeout: 200 * time.Millisecond})
	s := openSession(t, pl)
	s.mustEval("x := 7", "")
	got := s.eval("for { x = 8 }")
	if !strings.Contains(got, "--eval-timeout 200ms") {
		t.Errorf("for {}: %q, want the limit named", got)
	}
	s.mustEval(`import "time"`, "")
	got = s.eval("time.Sleep(time.Hour)")
	if !strings.Contains(got, "rolled back") && !strings.Contains(got, "restored as it was before this line") {
		t.Errorf("time.Sleep: %q, want a rollback", got)
	}
	if got := s.eval("x"); got != "7" && got != "8" {
		t.Errorf("x = %s", got)
	}
}

func TestMemoryLimit(t *testing.T) {
	pl := testPool(t, Config{Memory: 256 << 20})
	s := openSession(t, pl)
	s.mustEval("x := 7", "")
	got := s.eval("b := make([]byte, 2<<30); for i := 0; i < len(b); i += 4096 { b[i] = 1 }")
	if !strings.Contains(got, "memory limit") || !strings.Contains(got, "256 MiB") {
		t.Errorf("%q, want the memory limit named", got)
	}
	s.mustEval("x", "7")
}

// TestWorkerMisbehaves: a worker that writes garbage on its socket, or
// stops answering, is ended; its session is restored.
func TestWorkerMisbehaves(t *testing.T) {
	pl := testPool(t, Config{StopGrace: 200 * time.Millisecond})
	t.Run("garbage", func(t *testing.T) {
		s := openSession(t, pl)
		s.mustEval("x := 7", "")
		s.mustEval(`import "os"`, "")
		got := s.eval(`os.NewFile(3, "front").Write([]byte("garbage, not a frame at all"))`)
		if !strings.Contains(got, "protocol") {
			t.Errorf("%q, want the worker ended for breaking the protocol", got)
		}
		s.mustEval("x", "7")
	})
	t.Run("stopped", func(t *testing.T) {
		s := openSession(t, pl)
		s.mustEval("x := 7", "")
		s.mustEval("x", "7") // its worker saved the state after x := 7 first
		stopWorker(t, s.pid())
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.ns.Eval(ctx, "x + 1")
		if !errors.Is(err, namespace.ErrRolledBack) {
			t.Errorf("a stopped worker: %v, want a rollback", err)
		}
		s.mustEval("x", "7")
	})
	t.Run("killed", func(t *testing.T) {
		s := openSession(t, pl)
		s.mustEval("x := 7", "")
		s.mustEval("x", "7") // its worker saved the state after x := 7 first
		before := s.pid()
		syscall.Kill(before, syscall.SIGKILL)
		waitFor(t, "a new worker", func() bool { return s.pid() != before })
		s.mustEval("x", "7")
		if got := s.out.String(); !strings.Contains(got, "killed") {
			t.Errorf("notice %q", got)
		}
	})
}

// TestKilledWorkerIsNotAwaited: a session whose worker the front ends is
// restored without waiting for the worker to die, which can take as long
// as the machine makes it: the front puts it in the idle class (Yield),
// and under a load of 10 on two cores such a worker took up to 13 s to
// die, which each rollback waited for. Here its SIGKILL is held back
// until the session has gone on without it.
func TestKilledWorkerIsNotAwaited(t *testing.T) {
	pl := testPool(t, Config{StopGrace: 200 * time.Millisecond})
	var mu sync.Mutex
	dying, signalled := 0, false // the worker whose death is held back; guarded by mu
	pl.killProcess = func(pr *os.Process) error {
		mu.Lock()
		defer mu.Unlock()
		if pr.Pid == dying {
			signalled = true
			return nil // the death is under way, but not done
		}
		return pr.Kill()
	}
	s := openSession(t, pl)
	s.mustEval("x := 7", "")
	s.saved()
	s.ns.mu.Lock()
	old := s.ns.p
	s.ns.mu.Unlock()
	mu.Lock()
	dying = old.pid
	mu.Unlock()
	var once sync.Once
	die := func() { // lets the old worker die
		once.Do(func() {
			mu.Lock()
			dying = 0
			mu.Unlock()
			old.cmd.Process.Kill()
		})
	}
	t.Cleanup(die)
	stopWorker(t, old.pid)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted at once; it does not stop, so it is killed
	got := make(chan error, 1)
	go func() { // ends when Eval returns: at the latest once die is called below
		_, err := s.ns.Eval(ctx, "x + 1")
		got <- err
	}()
	var err error
	select {
	case err = <-got:
	case <-time.After(2 * time.Minute):
		die()
		t.Fatalf("no answer within 2 minutes: the session waits for its killed worker %d to die (it was let die now, %v)", old.pid, <-got)
	}
	if !errors.Is(err, namespace.ErrRolledBack) || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("the line in the stopped worker: %v, want a rollback for not stopping", err)
	}
	mu.Lock()
	if !signalled {
		t.Error("the front never signalled its worker")
	}
	mu.Unlock()
	select {
	case <-old.done:
		t.Fatal("the worker was reaped, though it was never let die")
	default:
	}
	s.mustEval("x", "7")
	if s.pid() == old.pid {
		t.Errorf("the session is still in worker %d", old.pid)
	}

	die()
	select {
	case <-old.done: // reaped once dead: it is in the idle class, so not soon on a busy machine
	case <-time.After(2 * time.Minute):
		t.Fatalf("worker %d, let die, was not reaped within 2 minutes", old.pid)
	}
}

// stopWorker stops process pid with SIGSTOP, and waits until every thread
// of it has stopped: the kernel wakes one thread to take the signal, which
// then stops the others, and until that thread runs the others go on (on
// a busy machine, long enough to answer a line).
func stopWorker(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fmt.Sprintf("worker %d to stop", pid), func() bool {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil || len(tasks) == 0 {
			return false
		}
		for _, task := range tasks {
			// The state follows the command's name, in parentheses.
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			i := bytes.LastIndexByte(b, ')')
			if err != nil || i < 0 || !bytes.HasPrefix(b[i+1:], []byte(" T")) {
				return false
			}
		}
		return true
	})
}

// TestNotAWorker: a binary that does not speak the wire is refused with a
// reason, and nothing is left running.
func TestNotAWorker(t *testing.T) {
	for _, path := range []string{"/bin/true", "/nonexistent/translucent"} {
		pl := NewPool(Config{Path: path, Args: []string{"worker"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		_, err := pl.New(namespace.Options{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming it", path, err)
		}
		pl.Close()
	}
}

// TestRestore opens a namespace from a snapshot taken in another worker.
func TestRestore(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("type P struct{ X, Y int }", "")
	s.mustEval("p := &P{1, 2}", "")
	s.mustEval("q := p", "")
	snap, _, err := s.ns.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := pl.Restore(namespace.Options{}, b)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	r := &session{t: t, ns: ns}
	r.mustEval("q.X = 5", "")
	r.mustEval("p.X", "5")
	if _, err := pl.Restore(namespace.Options{}, []byte("not cbor")); err == nil {
		t.Error("a damaged snapshot was restored")
	}
}

// TestRecycle: an interpreter rebuilt from its snapshot every few lines
// keeps its namespace.
func TestRecycle(t *testing.T) {
	pl := testPool(t, Config{Recycle: 3})
	s := openSession(t, pl)
	s.mustEval("x := 0", "")
	s.mustEval("func inc() { x++ }", "")
	for i := 0; i < 10; i++ {
		s.mustEval("inc()", "")
	}
	s.mustEval("x", "10")
}

// TestCloseEndsWorkers: a closed session's worker exits, and Close ends
// the rest.
func TestCloseEndsWorkers(t *testing.T) {
	pl := testPool(t, Config{})
	a, b := openSession(t, pl), openSession(t, pl)
	pa, pb := a.pid(), b.pid()
	a.ns.Close()
	waitFor(t, "the closed session's worker to exit", func() bool { return syscall.Kill(pa, 0) != nil })
	pl.Close()
	if err := syscall.Kill(pb, 0); err == nil {
		t.Errorf("worker %d still runs after Close", pb)
	}
	if _, err := b.ns.Eval(context.Background(), "1"); err == nil {
		t.Error("Eval after Close succeeded")
	}
}

// saved waits until the front holds the checkpoint after the last line
// (it follows the line's outcome), then returns Checkpoint.
func (s *session) saved() (state, sum []byte, ok bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.ns.mu.Lock()
		arrived := s.ns.savedAt == s.ns.line || s.ns.stale != ""
		s.ns.mu.Unlock()
		if arrived {
			state, sum, _, ok = s.ns.Checkpoint()
			return state, sum, ok
		}
		if time.Now().After(deadline) {
			s.t.Fatal("no checkpoint after the last line")
		}
		time.Sleep(time.Millisecond)
	}
}

// The checkpoint stands for the namespace only while nothing can have
// changed it since; its digest is that of the snapshot it decodes to,
// re-encoded (what a new process digests to say which namespaces it holds).
func TestCheckpoint(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	if _, _, _, ok := s.ns.Checkpoint(); ok {
		t.Error("a new, empty namespace has a checkpoint")
	}
	s.mustEval("x := 41", "")
	state, sum, ok := s.saved()
	if !ok {
		t.Fatal("no checkpoint after x := 41")
	}
	var snap namespace.Snapshot
	if err := cbor.Unmarshal(state, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Vars) != 1 || snap.Vars[0].Name != "x" {
		t.Errorf("checkpoint's vars %+v, want x", snap.Vars)
	}
	again, err := cbor.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if d := sha256.Sum256(again); !bytes.Equal(d[:], sum) {
		t.Error("the checkpoint's digest is not that of its snapshot re-encoded")
	}

	// x + 1 makes 42 the last value, _; again, it changes nothing.
	s.mustEval("x + 1", "42")
	_, sum, ok = s.saved()
	if !ok {
		t.Fatal("no checkpoint after x + 1")
	}
	s.mustEval("x + 1", "42")
	if _, sum2, ok := s.saved(); !ok || !bytes.Equal(sum2, sum) {
		t.Errorf("after x + 1 again: checkpoint ok=%v, same digest %v; want the same", ok, bytes.Equal(sum2, sum))
	}
	s.mustEval("x = 7", "")
	if _, sum3, ok := s.saved(); !ok || bytes.Equal(sum3, sum) {
		t.Errorf("after x = 7: checkpoint ok=%v, same digest %v; want a new one", ok, bytes.Equal(sum3, sum))
	}

	// Dropped as soon as the line's outcome is in, before its checkpoint
	// arrives: that checkpoint may predate the drop.
	s.mustEval("x = 8", "")
	if err := s.ns.Drop("x"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := s.ns.Checkpoint(); ok {
		t.Error("a checkpoint stands for the namespace after Drop")
	}
	if _, _, ok := s.saved(); ok {
		t.Error("the checkpoint of the line before Drop stands for the namespace after it")
	}
	s.ns.Undrop("x")
	s.mustEval("x", "8")
	if _, _, ok := s.saved(); !ok {
		t.Error("no checkpoint after a line following Undrop")
	}

	// Code of its own still running: the namespace may change any time.
	s.mustEval(`import "time"`, "")
	s.mustEval("stop := make(chan bool)", "")
	s.mustEval("go func() { for { select { case <-stop: return; default: x++; time.Sleep(time.Millisecond) } } }()", "")
	s.mustEval("1", "1")
	if _, _, ok := s.saved(); ok {
		t.Error("a checkpoint stands for the namespace while its goroutine runs")
	}
	s.mustEval("close(stop)", "")
}

// state evaluates srcs in a namespace of their own and returns its
// snapshot's encoding.
func stateAfter(t *testing.T, pl *Pool, srcs ...string) []byte {
	t.Helper()
	s := openSession(t, pl)
	for _, src := range srcs {
		s.mustEval(src, "")
	}
	snap, _, err := s.ns.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Replace brings a namespace restored ahead to a later state of its
// session, in the same worker: by updating values when it can, by
// restoring otherwise; a state that does not restore is an error.
func TestReplace(t *testing.T) {
	pl := testPool(t, Config{PerWorker: 4})
	decls := []string{"type P struct{ X, Y int }", "p := &P{1, 2}", "q := p", "n := 1"}
	base := stateAfter(t, pl, decls...)
	tests := []struct {
		name  string
		first []string // evaluated after the restore, before Replace
		next  []string // after decls, the state Replace is given
		check string
		want  string
	}{
		{"values", nil, []string{"p.X = 9", "n = 2"}, "q.X + n", "11"},
		{"a new declaration", nil, []string{"m := map[string]int{\"a\": 3}"}, "m[\"a\"] + p.X", "4"},
		{"after an evaluation", []string{"n = 100"}, []string{"n = 5"}, "n", "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, err := pl.Restore(namespace.Options{}, base)
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Close()
			r := &session{t: t, ns: ns}
			for _, src := range tt.first {
				r.mustEval(src, "")
			}
			pid := r.pid()
			next := stateAfter(t, pl, append(decls, tt.next...)...)
			if err := ns.Replace(next); err != nil {
				t.Fatalf("Replace: %v", err)
			}
			r.mustEval(tt.check, tt.want)
			r.mustEval("q.X = 7", "")
			r.mustEval("p.X", "7") // p and q still share their value
			if r.pid() != pid {
				t.Errorf("Replace moved the namespace from worker %d to %d", pid, r.pid())
			}
			if _, sum, _, ok := ns.Checkpoint(); ok {
				if d := sha256.Sum256(next); bytes.Equal(sum, d[:]) {
					t.Error("the checkpoint after evaluations is still the replaced state")
				}
			}
		})
	}
	ns, err := pl.Restore(namespace.Options{}, base)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := ns.Replace([]byte("not cbor")); err == nil {
		t.Error("a damaged snapshot replaced a namespace")
	}
}

// In a pool, a line that was running beside the one that ended the worker
// is rolled back too, and each is told that another session's line ended
// with it: neither can know which one did it.
func TestPoolCrashBesideARunningLine(t *testing.T) {
	pl := testPool(t, Config{PerWorker: 4})
	busy, culprit := openSession(t, pl), openSession(t, pl)
	busy.mustEval("n := 1", "")
	if busy.pid() != culprit.pid() {
		t.Fatalf("sessions in workers %d and %d, want one", busy.pid(), culprit.pid())
	}
	culprit.mustEval(`import "runtime"`, "")
	got := make(chan string, 1)
	go func() { got <- busy.eval("for { n++ }") }() // ends when the worker does
	deadline := time.Now().Add(10 * time.Second)
	for { // until the loop runs in the worker
		busy.ns.mu.Lock()
		running := busy.ns.eval != nil
		busy.ns.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop never started")
		}
		time.Sleep(time.Millisecond)
	}
	if c := culprit.eval("runtime.Breakpoint()"); !strings.Contains(c, "and another session's, ended: SIGTRAP") {
		t.Errorf("the culprit was told %q", c)
	}
	if b := <-got; !strings.Contains(b, "and another session's, ended: SIGTRAP") || !strings.Contains(b, "before this line") {
		t.Errorf("the session whose loop ran beside it was told %q", b)
	}
	busy.mustEval("n", "1")
}

// TestDropRightAfterALine: :drop (and :vars) typed right after a
// declaration meets the worker taking its checkpoint of that line, which
// holds the interpreter: they wait for it rather than miss the variable.
func TestDropRightAfterALine(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	for k := range 30 {
		name := fmt.Sprintf("fresh%d", k)
		s.mustEval(name+" := 1", "")
		if err := s.ns.Drop(name); err != nil {
			t.Fatalf("Drop(%q) right after its declaration: %v", name, err)
		}
		s.mustEval("other"+name+" := 2", "")
		found := false
		for _, v := range s.ns.Vars() {
			found = found || v.Name == "other"+name
		}
		if !found {
			t.Fatalf("Vars right after declaring other%s: %v", name, s.ns.Vars())
		}
	}
}
