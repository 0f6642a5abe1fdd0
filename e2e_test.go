package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"translucent/serverproc"
	"translucent/telnet"
)

// The end-to-end tests build the real binary and drive it over loopback with
// real clients: a Go client for the protocol's corners, and inetutils
// telnet, BusyBox telnet and nc under a pseudo-terminal or pipes.

const (
	testVersion  = "e2e-test"
	testUser     = "alice"
	testPassword = "wonder land"
	waitFor      = 20 * time.Second // deadline for any expected output; a failure, not a pace
)

var (
	binary   string // built by TestMain, version testVersion
	binaryV2 string // the same source, version testVersionV2: a migration's target
)

const testVersionV2 = "e2e-test-v2"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "translucent-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "translucent")
	binaryV2 = filepath.Join(dir, "translucent-v2")
	for _, b := range []struct{ path, version string }{{binary, testVersion}, {binaryV2, testVersionV2}} {
		args := []string{"build", "-o", b.path, "-ldflags", "-X main.version=" + b.version}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building translucent:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `translucent serve`, and the successors its
// migrations start, as the tests see it.
type server struct {
	chain   *serverproc.Chain
	addr    string
	control string          // the control socket
	exited  <-chan struct{} // closed when the first process has exited
}

// startServer writes a users file with testUser, starts the binary on a free
// loopback port and waits until it logs its address. It is stopped when the
// test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv is startServer with extra environment variables.
func startServerEnv(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users")
	add := exec.Command(binary, "adduser", "--users", users, testUser)
	add.Stdin = strings.NewReader(testPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("adduser: %v\n%s", err, out)
	}
	return launchServer(t, env, append([]string{"--users", users}, args...)...)
}

// launchServer starts `translucent serve` on a free loopback port and a
// control socket of its own, with args and no users file of its own, and
// waits until it logs its address. It is stopped when the test ends, with
// every successor still running; the test fails if the log reports a data
// race, and shows the log if it failed.
func launchServer(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	control := filepath.Join(t.TempDir(), "control.sock")
	c, err := serverproc.Start(serverproc.Config{
		Binary: binary,
		Args:   append([]string{"--listen", "127.0.0.1:0", "--login-delay", "10ms", "--control", control, "--home", t.TempDir()}, args...),
		// Race-enabled children sleep a second at exit by default.
		Env: append([]string{"GORACE=atexit_sleep_ms=0"}, env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{chain: c, control: control, exited: c.Exited()}
	t.Cleanup(func() {
		if err := c.Stop(waitFor); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
		// A race-enabled server reports races on stderr and goes on.
		if strings.Contains(s.log(), "WARNING: DATA RACE") {
			t.Errorf("the server reported a data race")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	l, err := c.WaitListening(ctx, c.First())
	if err != nil {
		t.Fatal(err) // the cleanup shows the log
	}
	s.addr = l.Addr
	return s
}

// pid is the first process's, the one the test started.
func (s *server) pid() int { return s.chain.First() }

func (s *server) host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

func (s *server) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

// log is the servers' log so far.
func (s *server) log() string { return s.chain.Log() }

// waitLog waits until s's log has a line that matches re, and returns the
// line's submatches.
func waitLog(t testing.TB, s *server, re string) []string {
	t.Helper()
	r := regexp.MustCompile(re)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	l, err := s.chain.Wait(ctx, func(l serverproc.Line) bool { return r.MatchString(l.Text) })
	if err != nil {
		t.Fatalf("the server did not log %s: %v", re, err)
	}
	return r.FindStringSubmatch(l.Text)
}

// transcript collects what a client receives, so a test can wait for text
// with a deadline.
type transcript struct {
	mu    sync.Mutex
	cond  *sync.Cond
	data  []byte // everything received, IAC sequences removed when filtered
	seen  int    // data before seen has been matched by expect
	err   error  // the read error that ended the stream
	clean func([]byte) []byte
}

func newTranscript(r io.Reader, clean func([]byte) []byte) *transcript {
	tr := &transcript{clean: clean}
	tr.cond = sync.NewCond(&tr.mu)
	go func() { // ends when r fails (the connection or pty closes)
		b := make([]byte, 8192)
		for {
			n, err := r.Read(b)
			tr.mu.Lock()
			if n > 0 {
				tr.data = append(tr.data, b[:n]...)
			}
			if err != nil {
				tr.err = err
			}
			tr.cond.Broadcast()
			tr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return tr
}

// wait blocks until cond holds for the text received after the last match,
// the stream ends, or the deadline passes; it reports the text and whether
// cond held.
func (tr *transcript) wait(cond func(text string) int) (string, bool) {
	timer := time.AfterFunc(waitFor, func() {
		tr.mu.Lock()
		tr.cond.Broadcast()
		tr.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(waitFor)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for {
		text := tr.text()
		if end := cond(text); end >= 0 {
			tr.seen += end
			return text[:end], true
		}
		if tr.err != nil || time.Now().After(deadline) {
			return text, false
		}
		tr.cond.Wait()
	}
}

// all returns everything received so far.
func (tr *transcript) all() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	d := tr.data
	if tr.clean != nil {
		d = tr.clean(d)
	}
	return string(d)
}

func (tr *transcript) text() string {
	d := tr.data
	if tr.clean != nil {
		d = tr.clean(d)
	}
	if tr.seen > len(d) {
		return ""
	}
	return string(d[tr.seen:])
}

// expect waits for want to appear and moves past it.
func (tr *transcript) expect(t testing.TB, want string) string {
	t.Helper()
	got, ok := tr.wait(func(text string) int {
		if i := strings.Index(text, want); i >= 0 {
			return i + len(want)
		}
		return -1
	})
	if !ok {
		tr.mu.Lock()
		err := tr.err
		tr.mu.Unlock()
		t.Fatalf("waiting for %q; got %q (err %v)", want, got, err)
	}
	return got
}

// expectClosed waits for the stream to end.
func (tr *transcript) expectClosed(t testing.TB) string {
	t.Helper()
	got, _ := tr.wait(func(string) int { return -1 })
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.err == nil {
		t.Fatalf("connection still open; got %q", got)
	}
	return got
}

// stripIAC removes telnet commands and negotiation from b.
func stripIAC(b []byte) []byte {
	var d telnet.ClientDecoder
	data, _ := d.Feed(make([]byte, 0, len(b)), nil, b)
	return data
}

// client is a Go telnet client on a raw TCP connection. Unless raw, it
// answers the server's offers as inetutils telnet does.
type client struct {
	t    testing.TB
	conn net.Conn
	*transcript
}

func dial(t testing.TB, s *server, raw bool) *client {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var r io.Reader = conn
	if !raw {
		r = &negotiator{conn: conn}
	}
	return &client{t: t, conn: conn, transcript: newTranscript(r, stripIAC)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// login answers the username and password prompts.
func (c *client) login(user, password string) {
	c.t.Helper()
	c.expect(c.t, "username: ")
	c.send(user + "\r\n")
	c.expect(c.t, "password: ")
	c.send(password + "\r\n")
}

// loggedIn dials s as a negotiating client and logs in as testUser.
// serverPid is the pid of the process that serves the session (sys.Pid);
// os.Getpid() is its worker's.
func (c *client) serverPid() string {
	c.t.Helper()
	c.eval(`import "sys"`)
	return c.eval("sys.Pid")
}

func loggedIn(t testing.TB, s *server) *client {
	t.Helper()
	c := dial(t, s, false)
	c.login(testUser, testPassword)
	c.expect(t, ">>> ")
	return c
}

// loginLineMode logs in as a client that does not negotiate, and waits for
// the prompt.
func (c *client) loginLineMode(user, password string) {
	c.t.Helper()
	c.expect(c.t, "username: ")
	c.send(user + "\n")
	c.expect(c.t, "password: ")
	c.send(password + "\n")
	c.expect(c.t, ">>> ")
}

// eval sends line and returns the output up to the next primary prompt.
func (c *client) eval(line string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	out := c.expect(c.t, "\n>>> ")
	out = strings.TrimSuffix(out, "\n>>> ")
	out = strings.ReplaceAll(out, "\r", "")
	// The echo of the line itself comes first.
	_, out, _ = strings.Cut(out, "\n")
	return out
}

// negotiator passes the stream through and answers negotiation the way a
// character-mode telnet client does (DO ECHO, WILL NAWS with 100x30,
// TTYPE XTERM).
type negotiator struct {
	conn net.Conn
	prev []byte
}

func (n *negotiator) Read(p []byte) (int, error) {
	k, err := n.conn.Read(p)
	data := append(n.prev, p[:k]...)
	n.prev = nil
	for i := 0; i < len(data); i++ {
		if data[i] != 255 {
			continue
		}
		if i+2 >= len(data) {
			n.prev = append([]byte(nil), data[i:]...)
			break
		}
		cmd, opt := data[i+1], data[i+2]
		var reply []byte
		switch {
		case cmd == 251 && (opt == 1 || opt == 3): // WILL ECHO/SGA
			reply = []byte{255, 253, opt}
		case cmd == 253 && opt == 3: // DO SGA
			reply = []byte{255, 251, 3}
		case cmd == 253 && opt == 31: // DO NAWS
			reply = []byte{255, 251, 31, 255, 250, 31, 0, 100, 0, 30, 255, 240}
		case cmd == 253 && opt == 24: // DO TTYPE
			reply = []byte{255, 251, 24}
		case cmd == 250 && opt == 24: // SB TTYPE SEND
			reply = append([]byte{255, 250, 24, 0}, []byte("XTERM")...)
			reply = append(reply, 255, 240)
		case cmd == 253:
			reply = []byte{255, 252, opt}
		}
		if reply != nil {
			n.conn.Write(reply)
		}
	}
	return k, err
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "translucent "+testVersion+" (go") {
		t.Errorf("version printed %q", out)
	}
}

// TestHelp: -h and --help print a command's usage on stdout and exit 0; a
// wrong flag prints it on stderr, then the error, and exits 2.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "migrate", "status", "snapshot", "verify", "inspect", "adduser", "demo", "bench", "ssh-relay"} {
		for _, h := range []string{"-h", "--help"} {
			var stdout, stderr bytes.Buffer
			c := exec.Command(binary, cmd, h)
			c.Stdout, c.Stderr = &stdout, &stderr
			if err := c.Run(); err != nil || !strings.HasPrefix(stdout.String(), "Usage of "+cmd) || stderr.Len() > 0 {
				t.Errorf("%s %s: %v; stdout %q, stderr %q", cmd, h, err, stdout.String(), stderr.String())
			}
		}
		var stdout, stderr bytes.Buffer
		c := exec.Command(binary, cmd, "--no-such-flag")
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		if c.ProcessState.ExitCode() != 2 || stdout.Len() > 0 || !strings.HasSuffix(stderr.String(), "translucent: flag provided but not defined: -no-such-flag\n") {
			t.Errorf("%s --no-such-flag: %v; stdout %q, stderr %q", cmd, err, stdout.String(), stderr.String())
		}
	}
}

func TestSession(t *testing.T) {
	s := startServer(t)
	c := dial(t, s, false)
	c.login(testUser, testPassword)
	c.expect(t, "pid "+strconv.Itoa(s.pid()))
	c.expect(t, ">>> ")

	steps := []struct{ in, want string }{
		{"1 + 1", "2"},
		{"x := 41", ""},
		{"x + 1", "42"},
		{`"hi" + "!"`, `"hi!"`},
		{`import "sys"`, ""},
		{"sys.Version", `"` + testVersion},
		{`import "os"`, ""},
		{"sys.Pid", strconv.Itoa(s.pid())},
		{"os.Getppid()", strconv.Itoa(s.pid())}, // the session's worker is the server's child
		{`import "fmt"`, ""},
		{`fmt.Println("to me")`, "to me"},
		{`os.Stdout.WriteString("also to me\n")`, "also to me"},
		{"type Point struct{ X, Y int }", ""},
		{"p := Point{1, 2}", ""},
		{"p", "{X:1, Y:2}"},
		{"undefinedThing", "undefined"},
		{`panic("boom")`, "boom"},
		{`os.Exit(3)`, ""}, // an error, not an exit: checked below by evaluating on
		{"x", "41"},
		{":imports", "\"sys\"\n\"os\"\n\"fmt\""},
		{":nosuch", "unknown command :nosuch"},
		{":migrate", "only admins may migrate"},
	}
	for _, st := range steps {
		got := c.eval(st.in)
		if !strings.Contains(got, st.want) {
			t.Errorf("%s: got %q, want it to contain %q", st.in, got, st.want)
		}
	}
	if got := c.eval("os.Getpid()"); got == strconv.Itoa(s.pid()) {
		t.Errorf("os.Getpid() = %s: the session's code runs in the serving process", got)
	}
	vars := c.eval(":vars")
	for _, want := range []string{"x", "int", "p"} {
		if !strings.Contains(vars, want) {
			t.Errorf(":vars = %q, missing %q", vars, want)
		}
	}

	// Multi-line input continues on a "... " prompt.
	c.send("func add(a, b int) int {\r\n")
	c.expect(t, "... ")
	c.send("return a + b\r\n")
	c.expect(t, "... ")
	c.send("}\r\n")
	c.expect(t, ">>> ")
	if got := c.eval("add(2, 3)"); got != "5" {
		t.Errorf("add(2, 3) = %q", got)
	}

	// A panic in a goroutine reaches its owner and kills nothing.
	c.send("go func() { panic(\"in a goroutine\") }()\r\n")
	c.expect(t, "panic in goroutine: ")
	c.expect(t, "in a goroutine")
	c.expect(t, ">>> ") // the prompt, redrawn below the message
	if got := c.eval("x * 2"); got != "82" {
		t.Errorf("after a goroutine panic: x * 2 = %q", got)
	}

	// Ctrl-C interrupts a running evaluation; IAC IP does too.
	for _, intr := range []string{"\x03", "\xff\xf4"} {
		c.send("for {}\r\n")
		c.expect(t, "for {}")
		c.send(intr)
		c.expect(t, "interrupted")
		c.expect(t, ">>> ")
	}
	// Ctrl-C abandons a half-typed line and pending continuation lines.
	c.send("y := []int{\r\n")
	c.expect(t, "... ")
	c.send("1, 2\x03")
	c.expect(t, "^C")
	c.expect(t, ">>> ")
	if got := c.eval("x"); got != "41" {
		t.Errorf("after Ctrl-C: x = %q", got)
	}

	// Another session has its own namespace.
	c2 := loggedIn(t, s)
	if got := c2.eval("x"); !strings.Contains(got, "undefined") {
		t.Errorf("second session sees x: %q", got)
	}
	who := c2.eval(":who")
	if strings.Count(who, testUser) != 2 {
		t.Errorf(":who = %q, want two sessions of %s", who, testUser)
	}

	// Ctrl-D on an empty line logs out, and "bye" is the last word: no
	// prompt drawn again under it.
	c.send("\x04")
	if got := c.expect(t, "bye\r\n"); got != "\r\nbye\r\n" { // the prompt before it was matched by eval
		t.Errorf("at logout, the client got %q", got)
	}
	if rest := c.expectClosed(t); rest != "" {
		t.Errorf("after bye, the client got %q", rest)
	}
	if strings.Contains(s.log(), testPassword) {
		t.Errorf("the password appears in the server log")
	}
}
