package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIsolation types, over telnet, each line that ended the whole server
// and every session before sessions ran in workers. Each is rolled back
// for its author alone, who is told why; a second, innocent session keeps
// its namespace and its answers, and the server keeps its pid. (A pool is
// tried with two of them here: package worker tries each in both modes.)
func TestIsolation(t *testing.T) {
	for _, mode := range []string{"session", "pool"} {
		t.Run(mode, func(t *testing.T) {
			// A smaller memory limit ends runaway recursions sooner in a
			// race-enabled build, whose stacks cost more.
			s := startServer(t, "--isolate", mode, "--pool-size", "4", "--session-memory", "256")
			innocent := loggedIn(t, s)
			innocent.eval(`names := []string{"ada", "grace"}`)
			c := loggedIn(t, s)
			c.eval("x := 41")
			c.eval(`import "fmt"`)
			// In a pool, the innocent shares the culprit's worker: it is
			// restored too, and told between prompts.
			shared := func() {
				if mode == "pool" {
					innocent.expect(t, "[translucent] this session's worker process ended")
					innocent.expect(t, ">>> ")
				}
			}
			for _, tc := range []struct {
				setup, line, reason string
			}{
				{"m := map[int]int{}",
					"done := make(chan bool); for i := 0; i < 8; i++ { go func() { for j := 0; j < 1000000; j++ { m[j] = j }; done <- true }() }; for i := 0; i < 8; i++ { <-done }",
					"concurrent map writes"},
				// A race-enabled build spends its memory limit before its
				// stack's: either is the reason, named.
				{"func f(n int) int { return f(n+1) + 1 }", "f(0)", "(stack overflow|memory limit)"},
				{`import "runtime"`, "runtime.Breakpoint()", "SIGTRAP"},
				{`import "runtime/debug"`, "debug.SetMaxThreads(2)", "thread exhaustion"},
				{"", "b := make([]byte, 1<<40)", "out of memory"},
				{`mm := map[string]any{}; mm["m"] = mm`, "fmt.Println(mm)", "(stack overflow|memory limit)"},
			} {
				if mode == "pool" && !strings.Contains(tc.line, "<-done") && !strings.Contains(tc.line, "Breakpoint") {
					continue
				}
				if tc.setup != "" {
					c.eval(tc.setup)
				}
				got := c.eval(tc.line)
				if !strings.Contains(got, "the worker process running this line ended") || !regexp.MustCompile(tc.reason).MatchString(got) {
					t.Errorf("%s: %q, want it rolled back, naming %q", tc.line, got, tc.reason)
				}
				shared()
				if got := c.eval("x + 1"); got != "42" {
					t.Errorf("after %s: x + 1 = %q", tc.line, got)
				}
				if got := innocent.eval("names[1]"); got != `"grace"` {
					t.Errorf("after %s, the innocent session: names[1] = %q", tc.line, got)
				}
			}
			if got := innocent.serverPid(); got != strconv.Itoa(s.pid()) {
				t.Errorf("the server's pid changed to %s", got)
			}
			if log := s.log(); !strings.Contains(log, "a line ended its worker") || strings.Contains(log, "names") {
				t.Errorf("the log should name each crash, without the lines' text (no --log-lines):\n%s", log)
			}
		})
	}
}

// TestIsolationInterrupt: Ctrl-C always wins, even over a call that cannot
// be interrupted; a client that leaves mid-loop stops its worker; and a
// session stuck so does not hold up a migration. With a worker each, so
// that ending a worker is seen in the worker's own end (in a pool the
// innocent session would share it: TestIsolation covers that).
func TestIsolationInterrupt(t *testing.T) {
	s := startServer(t, "--isolate", "session")
	innocent := loggedIn(t, s)
	innocent.eval("y := 1")
	c := loggedIn(t, s)
	c.eval(`import "time"`)
	c.eval(`import "sync"`)
	c.eval(`import "fmt"`)
	c.eval("var mu sync.Mutex")
	c.eval("x := 41")
	// Each line says when it runs (its echo never contains "stuck"), from
	// a goroutine a moment after the blocking call began: a Ctrl-C that
	// came before that call would be yaegi's to honour between statements.
	// A sleep cannot be interrupted: its worker is ended. A deadlock on the
	// mutex restored by that rollback sometimes is (yaegi's own interrupt,
	// as package worker's TestInterruptWins allows); either way the
	// session is back at its prompt, as before the line.
	for _, tc := range []struct{ line, want string }{
		{`go func() { time.Sleep(300 * time.Millisecond); fmt.Println("st" + "uck") }(); time.Sleep(time.Hour)`, "did not stop"},
		{`fmt.Println("st" + "uck"); mu.Lock(); mu.Lock()`, "(did not stop|interrupted)"},
	} {
		line := tc.line
		c.send(line + "\r\n")
		c.expect(t, "stuck")
		c.send("\x03")
		if got := c.expect(t, ">>> "); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("%s, then Ctrl-C: %q, want %q", line, got, tc.want)
		}
		if got := c.eval("x"); got != "41" {
			t.Errorf("after %s and Ctrl-C: x = %q", line, got)
		}
	}

	// :who shows each session's worker and state.
	c.send(`fmt.Println("loo" + "ping"); for {}` + "\r\n")
	c.expect(t, "looping")
	who := innocent.eval(":who")
	if !strings.Contains(who, "WORKER") || !strings.Contains(who, "evaluating") || !strings.Contains(who, "MiB") {
		t.Errorf(":who = %q, want the workers, their memory and state", who)
	}
	status, err := ctl(t, s, "status")
	if err != nil || !strings.Contains(status, "evaluating") || !strings.Contains(status, "MiB") {
		t.Errorf("status = %q, %v", status, err)
	}

	// A client gone mid-loop: its worker ends.
	c.send("\x03")
	c.expect(t, "interrupted")
	c.expect(t, ">>> ")
	c.eval(`import "os"`)
	worker, _ := strconv.Atoi(c.eval("os.Getpid()"))
	c.send(`fmt.Println("loo" + "ping"); for {}` + "\r\n")
	c.expect(t, "looping")
	c.conn.Close()
	if !waitGone(worker) {
		out, _ := exec.Command("ps", "-o", "pid,ppid,stat,pcpu,args", "-p", strconv.Itoa(worker)).CombinedOutput()
		t.Errorf("worker %d still runs after its client left:\n%s", worker, out)
	}

	// A session stuck in time.Sleep does not hold up a migration: it moves
	// as it was before the line, and is told so.
	d := loggedIn(t, s)
	d.eval(`import "time"`)
	d.eval(`import "fmt"`)
	d.eval("z := 3")
	d.send(`go func() { time.Sleep(300 * time.Millisecond); fmt.Println("st" + "uck") }(); time.Sleep(time.Hour)` + "\r\n")
	d.expect(t, "stuck")
	out, err := migrateTo(t, s, binaryV2, "--grace", "100ms")
	if err != nil {
		t.Fatalf("migrate with a session stuck in time.Sleep: %v\n%s", err, out)
	}
	d.expect(t, "did not stop")
	d.expect(t, ">>> ")
	if got := d.eval("z"); got != "3" {
		t.Errorf("after the migration z = %q", got)
	}
	if got := d.serverPid(); got != strconv.Itoa(newPid(t, out)) {
		t.Errorf("sys.Pid = %s, want the new server", got)
	}
	if got := innocent.eval("y"); got != "1" {
		t.Errorf("the innocent session after the migration: y = %q", got)
	}
	// The session's worker is a child of the new server, of the new build.
	d.eval(`import "os"`)
	if got := d.eval("os.Getppid()"); got != strconv.Itoa(newPid(t, out)) {
		t.Errorf("os.Getppid() = %s, want the new server %d", got, newPid(t, out))
	}
	d.eval(`import "sys"`)
	if got := d.eval("sys.Version"); !strings.Contains(got, "v2") {
		t.Errorf("sys.Version = %s, want the new build's", got)
	}
}

// TestIsolationSignalReset: signal.Reset() in a session resets its
// worker's handlers, not the server's: SIGHUP still migrates.
func TestIsolationSignalReset(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	c.eval(`import "os/signal"`)
	c.eval("signal.Reset()")
	c.eval("x := 5")
	syscall.Kill(s.pid(), syscall.SIGHUP)
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("SIGHUP did not migrate the server")
	}
	pid, _ := strconv.Atoi(c.serverPid())
	if pid == 0 || pid == s.pid() {
		t.Fatalf("after SIGHUP sys.Pid = %d", pid)
	}
	t.Cleanup(func() { stopPid(t, pid) })
	if got := c.eval("x"); got != "5" {
		t.Errorf("after the migration x = %q", got)
	}
}

// TestMigrateWorkersKilled kills every worker, of the old server and of
// the new, again and again while a migration runs, in each of its phases:
// the migration commits or rolls back, and either way every session is
// served, by one server, with its namespace.
func TestMigrateWorkersKilled(t *testing.T) {
	s := startServer(t)
	var cs []*client
	for range 3 {
		c := loggedIn(t, s)
		populate(t, c)
		cs = append(cs, c)
	}
	stop := make(chan struct{})
	killed := make(chan int)
	go func() { // ends at stop
		n := 0
		defer func() { killed <- n }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// The server's children and grandchildren: its workers, a
			// successor's workers.
			for _, pid := range descendants(s.pid()) {
				if syscall.Kill(pid, 0) == nil && isWorker(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					n++
				}
			}
		}
	}()
	out, err := migrateTo(t, s, binaryV2)
	close(stop)
	t.Logf("%d workers killed during the migration; it said: %v\n%s", <-killed, err, out)
	want := strconv.Itoa(s.pid())
	if err == nil {
		want = strconv.Itoa(newPid(t, out))
	}
	for i, c := range cs {
		// Each worker's end is told between prompts: read past every
		// notice, up to the answer to a line of our own.
		for try := 1; ; try++ {
			marker := strconv.Itoa(1000 + try)
			c.send(marker + " + 0\r\n")
			_, ok := c.wait(func(text string) int {
				if j := strings.Index(text, "\n"+marker+"\r\n>>> "); j >= 0 {
					return j + len(marker) + 7
				}
				return -1
			})
			if ok {
				break
			}
			if try == 5 {
				t.Fatalf("session %d does not answer %s + 0", i, marker)
			}
		}
		if got := c.serverPid(); got != want {
			t.Errorf("session %d: sys.Pid = %s, want %s", i, got, want)
		}
		checkNamespace(t, c)
	}
}

// descendants lists the children of pid, and theirs.
func descendants(pid int) []int {
	var all []int
	kids := []int{pid}
	for len(kids) > 0 {
		p := kids[0]
		kids = kids[1:]
		// A child is listed under the thread that started it.
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					all = append(all, c)
					kids = append(kids, c)
				}
			}
		}
	}
	return all
}

// isWorker reports whether pid runs "translucent worker".
func isWorker(pid int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == "worker"
}
