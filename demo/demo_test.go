package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"translucent/serverproc"
)

// waitFor bounds every wait in these tests: a failure, not a pace.
// runFor bounds the whole walk-through, which starts with two cold builds
// on a busy CI machine.
const (
	waitFor = 2 * time.Minute
	runFor  = 6 * time.Minute
)

// TestDemo runs the whole walk-through against real builds of the
// repository, as a presenter would: --pause, with an audience session
// connected during the pause after part 1, and --keep. It checks the
// demo's own checks held, that the audience session migrated too, and that
// the kept server answers a new session.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH to build the two versions:", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	out := &syncBuffer{}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { // ends with Run, which ctx bounds
		errc <- Run(ctx, Options{Out: out, In: pr, Pause: true, Keep: true, Source: ".."})
	}()
	ran := false
	t.Cleanup(func() {
		if !ran { // a failure below: stop Run, which then stops the servers
			cancel()
			pw.CloseWithError(io.EOF)
			<-errc
		}
		if t.Failed() {
			t.Logf("transcript:\n%s", out.String())
		}
	})
	enter := func() {
		t.Helper()
		if _, err := io.WriteString(pw, "\n"); err != nil {
			t.Fatal(err)
		}
	}

	out.waitFor(t, "[press Enter]", runFor) // after the builds
	enter()                                 // part 1: the server starts and says how to connect
	m := out.waitMatch(t, regexp.MustCompile(`\| +telnet 127\.0\.0\.1 (\d+) .*\|(?s:.*)username demo +password (\S+) +\|`))
	port, password := m[1], m[2]
	audience, err := dial(ctx, "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer audience.Close()
	login(t, ctx, audience, password)
	oldPid := eval(t, ctx, audience, `import "sys"`, "sys.Pid")
	eval(t, ctx, audience, "mine := []string{\"in\", \"the\", \"audience\"}")

	// Parts 2 to 6, without stopping: Run reads the lines as it goes.
	if _, err := io.WriteString(pw, "\n\n\n\n\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-errc:
		ran = true
	case <-time.After(runFor):
		t.Fatal("the demo did not end")
	}
	pw.Close()
	text := out.String()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	keptPid := 0
	if m := regexp.MustCompile(`keeps running \(--keep\), pid (\d+)`).FindStringSubmatch(text); m != nil {
		keptPid, _ = strconv.Atoi(m[1])
	} else {
		t.Fatal("no kept server in the transcript")
	}
	t.Cleanup(func() { stopKept(t, keptPid, text) })

	for _, want := range []string{
		"Preparation: two builds",
		"Migration walk-through - part 1: the server starts",
		"Migration walk-through - part 2: a client logs in",
		"Migration walk-through - part 3: the migration, from the server's side",
		"Migration walk-through - part 4: the migration, from the clients' side",
		"Migration walk-through - part 5: the old server shuts down",
		"Migration walk-through - part 6: the client's experience",
		">>> sys.Version\n    \"v1 (go",
		">>> sys.Version\n    \"v2 (go",
		"new pid " + strconv.Itoa(keptPid) + ", 2 sessions", // ours and the audience's
		"longest pause a session saw: ",
		"exited (exit status 0)",
		"0 failed.",
		"All 7 checks held",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the transcript lacks %q", want)
		}
	}
	if n := strings.Count(text, "[press Enter]"); n != 6 {
		t.Errorf("%d pauses, want one before each of the 6 parts", n)
	}

	// The audience's session moved too, namespace and all.
	if got := eval(t, ctx, audience, "sys.Pid"); got != strconv.Itoa(keptPid) || got == oldPid {
		t.Errorf("audience: sys.Pid = %s after the migration; was %s, want %d", got, oldPid, keptPid)
	}
	if got := eval(t, ctx, audience, "mine"); got != `[]string{"in", "the", "audience"}` {
		t.Errorf("audience: mine = %s after the migration", got)
	}

	// The kept server takes new sessions.
	late, err := dial(ctx, "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	banner := login(t, ctx, late, password)
	if !strings.Contains(banner, "translucent v2 (go") || !strings.Contains(banner, "pid "+strconv.Itoa(keptPid)) {
		t.Errorf("the kept server greets a new session with %q", banner)
	}
}

// TestRunFailsClearly checks the errors a user meets first.
func TestRunFailsClearly(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Out: &out, Source: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "not translucent's source") {
		t.Errorf("Run in a directory without the source: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	err = Run(context.Background(), Options{Out: &out, Source: ".."})
	if err == nil || !strings.Contains(err.Error(), "no Go toolchain on PATH") || !strings.Contains(err.Error(), "--binary OLD --new-binary NEW") {
		t.Errorf("Run without go: %v", err)
	}
}

// stopKept ends the server --keep left running, and removes its files.
func stopKept(t *testing.T, pid int, text string) {
	syscall.Kill(pid, syscall.SIGTERM)
	if err := poll(context.Background(), waitFor, func() (bool, error) { return !serverproc.Alive(pid), nil }); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the kept server %d did not stop on SIGTERM", pid)
	}
	if m := regexp.MustCompile(`rm -r (/\S+)`).FindStringSubmatch(text); m != nil && strings.Contains(m[1], "tdemo") {
		os.RemoveAll(m[1])
	}
}

// login logs c in as demoUser and returns the banner.
func login(t *testing.T, ctx context.Context, c *client, password string) string {
	t.Helper()
	for _, step := range []struct{ want, send string }{{"username: ", demoUser}, {"password: ", password}} {
		if _, err := c.expect(ctx, step.want, waitFor); err != nil {
			t.Fatal(err)
		}
		if err := c.send(step.send); err != nil {
			t.Fatal(err)
		}
	}
	banner, err := c.expect(ctx, ">>> ", waitFor)
	if err != nil {
		t.Fatal(err)
	}
	return banner
}

// eval types lines and returns the answer to the last.
func eval(t *testing.T, ctx context.Context, c *client, lines ...string) string {
	t.Helper()
	var got string
	for _, l := range lines {
		if err := c.send(l); err != nil {
			t.Fatal(err)
		}
		var err error
		if got, err = c.expect(ctx, ">>> ", waitFor); err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimSpace(strings.TrimSuffix(got, ">>> "))
}

// syncBuffer is the transcript, written by Run's goroutine and read by
// the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	if err := poll(context.Background(), d, func() (bool, error) { return strings.Contains(b.String(), s), nil }); err != nil {
		t.Fatalf("waiting for %q in the transcript: %v", s, err)
	}
}

func (b *syncBuffer) waitMatch(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	if err := poll(context.Background(), waitFor, func() (bool, error) {
		m = re.FindStringSubmatch(b.String())
		return m != nil, nil
	}); err != nil {
		t.Fatalf("waiting for %v in the transcript: %v", re, err)
	}
	return m
}
