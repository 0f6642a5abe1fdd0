package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"translucent/serverproc"
)

// migrateTo runs `translucent migrate` against s and returns its output
// and error. A successor that took over is stopped when the test ends.
func migrateTo(t *testing.T, s *server, target string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"migrate", "--control", s.control, "--binary", target}, extra...)
	out, err := exec.Command(binary, args...).CombinedOutput()
	if m := regexp.MustCompile(`new pid (\d+)`).FindStringSubmatch(string(out)); m != nil && err == nil {
		pid, _ := strconv.Atoi(m[1])
		t.Cleanup(func() { stopPid(t, pid) })
	}
	return string(out), err
}

// stopPid ends a process that is not our child (a successor), waiting for
// it to go.
func stopPid(t *testing.T, pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("successor %d did not stop on SIGTERM", pid)
	}
}

// waitGone reports whether process pid, not our child, ended before the
// deadline.
func waitGone(pid int) bool {
	deadline := time.Now().Add(waitFor)
	for serverproc.Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond) // polling a process we cannot wait for
	}
	return true
}

func newPid(t testing.TB, out string) int {
	t.Helper()
	m := regexp.MustCompile(`new pid (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no new pid in the migrate output:\n%s", out)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// populate fills a namespace with one of everything.
func populate(t *testing.T, c *client) {
	t.Helper()
	for _, line := range []string{
		`import "os"`,
		`import "sys"`,
		`import "strings"`,
		"type Point struct{ X, Y int }",
		"func add(a, b int) int { return a + b }",
		"const greeting = \"hello\"",
		"x := 41",
		"p := Point{1, 2}",
		"pp := &p",
		"names := []string{\"ada\", \"grace\"}",
		"ages := map[string]int{\"ada\": 36}",
		`import "errors"`,
		`import "time"`,
		"type Celsius float64",
		"type Node struct{ Next *Node; N int }",
		"temp := Celsius(21.5)",
		"ratio := 2.5",
		`err := errors.New("boom")`,
		"when := time.Unix(1, 5)",
		"var shape any = Point{3, 4}",
		"ring := &Node{N: 1}",
		"ring.Next = &Node{N: 2, Next: ring}",
	} {
		if got := c.eval(line); strings.Contains(got, "error") || strings.Contains(got, "undefined") {
			t.Fatalf("%s: %s", line, got)
		}
	}
}

// checkNamespace checks, in the same connection, what populate made.
func checkNamespace(t *testing.T, c *client) {
	t.Helper()
	for _, st := range []struct{ in, want string }{
		{"x + 1", "42"},
		{"add(2, 3)", "5"},
		{"greeting", `"hello"`},
		{"p.X + p.Y", "3"},
		{"strings.Join(names, \"+\")", `"ada+grace"`},
		{"ages[\"ada\"]", "36"},
		{"err.Error()", `"boom"`},
		{"when.Nanosecond()", "5"},
		{"shape.(Point).Y", "4"},
		{"ring.Next.Next.N", "1"},
		{"ring.Next.Next == ring", "true"},
		{"func() Celsius { return temp }() + 0.5", "Celsius(22)"},
		{"func() float64 { return ratio }()", "2.5"},
	} {
		if got := c.eval(st.in); got != st.want {
			t.Errorf("after migration, %s = %q, want %q", st.in, got, st.want)
		}
	}
	// Aliasing survives: pp still points at p.
	c.eval("pp.X = 7")
	if got := c.eval("p.X"); got != "7" {
		t.Errorf("after migration, pp no longer points at p: p.X = %q", got)
	}
}

func TestMigrate(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	populate(t, c)
	if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
		t.Fatalf("sys.Pid = %q, want %d", got, s.pid())
	}
	// Half a line typed before the migration is finished after it.
	c.send("x + ")
	c.expect(t, "x + ")

	// --json reports a whole migration only; asking for one of a dry run
	// changes nothing.
	if out, err := migrateTo(t, s, binaryV2, "--json", "--dry-run"); err == nil || !strings.Contains(out, "--json reports a whole migration") {
		t.Errorf("migrate --json --dry-run: %v\n%s", err, out)
	}

	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	for _, want := range []string{"old pid " + strconv.Itoa(s.pid()), testVersionV2, "quiesce", "transfer", "restore", "commit", "longest pause"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not exit")
	}

	c.send("1\r\n")
	if got := c.expect(t, ">>> "); !strings.Contains(got, "42") {
		t.Errorf("the half-typed line x + 1 gave %q", got)
	}
	if got := c.serverPid(); got != strconv.Itoa(pid) {
		t.Errorf("after migration sys.Pid = %q, want the new pid %d", got, pid)
	}
	if got := c.eval("sys.Version"); !strings.Contains(got, testVersionV2) {
		t.Errorf("after migration sys.Version = %q, want %s", got, testVersionV2)
	}
	checkNamespace(t, c)

	// A new connection reaches the new process.
	c2 := dial(t, s, false)
	c2.login(testUser, testPassword)
	c2.expect(t, "pid "+strconv.Itoa(pid))
}

func TestMigrateRollback(t *testing.T) {
	for _, tt := range []struct {
		name   string
		env    []string
		binary string
		want   string
	}{
		{"missing binary", nil, "/nonexistent/translucent", "no such file"},
		{"not executable", nil, "notexec", "permission denied"},
		{"refuses the state", []string{"TRANSLUCENT_TEST_FAIL=refuse"}, "", "refused"},
		{"dies before receiving", []string{"TRANSLUCENT_TEST_FAIL=exit-before-receive"}, "", "exited"},
		{"dies before READY", []string{"TRANSLUCENT_TEST_FAIL=exit-before-ready"}, "", "exited"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServerEnv(t, tt.env)
			c := dial(t, s, false)
			c.login(testUser, testPassword)
			c.expect(t, ">>> ")
			populate(t, c)
			target := tt.binary
			switch target {
			case "":
				target = binaryV2
			case "notexec": // a copy of the new build without its x bits
				target = filepath.Join(t.TempDir(), "translucent")
				data, err := os.ReadFile(binaryV2)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(target, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, err := migrateTo(t, s, target)
			if err == nil {
				t.Fatalf("migration to a failing successor succeeded:\n%s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("migrate output lacks %q:\n%s", tt.want, out)
			}
			if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
				t.Errorf("after a failed migration sys.Pid = %q, want the same pid %d", got, s.pid())
			}
			checkNamespace(t, c)
		})
	}
}

// TestMigrateRollbackDuringUpdate: a new build that dies while it brings
// a namespace it built ahead up to date (an UPDATE, before anyone is
// paused) fails the migration; the session goes on in the old process,
// with the change that was being sent.
func TestMigrateRollbackDuringUpdate(t *testing.T) {
	s := startServerEnv(t, []string{"TRANSLUCENT_TEST_FAIL=exit-on-update"})
	c := loggedIn(t, s)
	populate(t, c)
	// The new build waits, once started (the precopy written), until the
	// namespace has changed: the recheck will then have an update to send.
	dir := t.TempDir()
	started, proceed := filepath.Join(dir, "started"), filepath.Join(dir, "proceed")
	wrapper := filepath.Join(dir, "translucent")
	script := fmt.Sprintf("#!/bin/sh\ntouch '%s'\nwhile [ ! -e '%s' ]; do sleep 0.01; done\nexec '%s' \"$@\"\n", started, proceed, binaryV2)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() { // ends when migrate does
		out, err := migrateTo(t, s, wrapper)
		done <- result{out, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(started); err != nil; _, err = os.Stat(started) {
		if time.Now().After(deadline) {
			t.Fatal("the new build did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.eval("later := x + 1; later"); got != "42" {
		t.Fatalf("later = %q", got)
	}
	if err := os.WriteFile(proceed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err == nil {
		t.Fatalf("migration to a build that dies on an update succeeded:\n%s", r.out)
	}
	if !strings.Contains(r.out, "recheck") || !strings.Contains(r.out, "UPDATE") {
		t.Errorf("migrate output does not say it failed on an update in the recheck:\n%s", r.out)
	}
	if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
		t.Errorf("after a failed migration sys.Pid = %q, want the same pid %d", got, s.pid())
	}
	if got := c.eval("later"); got != "42" {
		t.Errorf("after a failed migration, later = %q, want 42", got)
	}
	checkNamespace(t, c)
}

// fdCount counts the open descriptors of process pid.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestMigrateChain moves the same sessions back and forth between two
// builds twenty times; the serving process's descriptors stay flat.
func TestMigrateChain(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	populate(t, c)
	c2 := dial(t, s, true) // a second, line-mode session
	c2.loginLineMode(testUser, testPassword)

	const rounds = 20
	var fds []int
	var pauses []time.Duration
	var lastOut string
	pids := map[int]bool{s.pid(): true}
	for i := 1; i <= rounds; i++ {
		target, version := binaryV2, testVersionV2
		if i%2 == 0 {
			target, version = binary, testVersion
		}
		out, err := migrateTo(t, s, target)
		if err != nil {
			t.Fatalf("migration %d: %v\n%s", i, err, out)
		}
		pid := newPid(t, out)
		lastOut = out
		if m := regexp.MustCompile(`longest pause a session saw: (\S+)`).FindStringSubmatch(out); m != nil {
			d, _ := time.ParseDuration(m[1])
			pauses = append(pauses, d)
		}
		if pids[pid] {
			t.Fatalf("migration %d: pid %d seen before", i, pid)
		}
		pids[pid] = true
		if got := c.eval("sys.Version"); !strings.Contains(got, `"`+version+" ") {
			t.Fatalf("migration %d: sys.Version = %q, want %s", i, got, version)
		}
		if got := c.serverPid(); got != strconv.Itoa(pid) {
			t.Fatalf("migration %d: sys.Pid = %q, want %d", i, got, pid)
		}
		if got := c.eval("add(i, 1)"); !strings.Contains(got, "undefined: i") {
			// i is not defined in the session: a sanity check that
			// evaluation still compiles against the namespace.
			t.Fatalf("migration %d: add(i, 1) = %q", i, got)
		}
		c2.send("40 + 2\n")
		c2.expect(t, "42\r\n>>> ")
		fds = append(fds, fdCount(t, pid))
	}
	slices.Sort(pauses)
	t.Logf("last report:\n%s", lastOut)
	t.Logf("pause over %d migrations of 2 sessions: median %v, max %v; descriptors %v", len(pauses), pauses[len(pauses)/2], pauses[len(pauses)-1], fds)
	// A descriptor or two of the handoff may still be closing when a count
	// is taken; a leak would grow with every migration.
	if slices.Max(fds[rounds-5:]) > slices.Max(fds[:5]) {
		t.Errorf("descriptors of the serving process grew over %d migrations: %v", rounds, fds)
	}
}

// TestMigrateConnectLoop connects in a loop while the port moves: no
// connection is refused, each gets a login prompt.
func TestMigrateConnectLoop(t *testing.T) {
	s := startServer(t)
	stop := make(chan struct{})
	type result struct{ ok, failed int }
	done := make(chan result)
	go func() { // ends when stop is closed
		var r result
		for {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				r.failed++
				continue
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			b := make([]byte, 0, 256)
			tmp := make([]byte, 256)
			for !strings.Contains(string(stripIAC(b)), "username: ") {
				n, err := conn.Read(tmp)
				if err != nil {
					break
				}
				b = append(b, tmp[:n]...)
			}
			if strings.Contains(string(stripIAC(b)), "username: ") {
				r.ok++
			} else {
				r.failed++
			}
			conn.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		target := binaryV2
		if i%2 == 1 {
			target = binary
		}
		if out, err := migrateTo(t, s, target); err != nil {
			close(stop)
			<-done
			t.Fatalf("migration %d: %v\n%s", i, err, out)
		}
	}
	close(stop)
	r := <-done
	t.Logf("%d connections during 3 migrations, %d failed", r.ok+r.failed, r.failed)
	if r.failed > 0 || r.ok == 0 {
		t.Errorf("%d of %d connections failed during the migrations", r.failed, r.ok+r.failed)
	}
}

// TestMigrateGrace: an evaluation still running after the grace period is
// interrupted, its owner told why, and the session migrates.
func TestMigrateGrace(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	populate(t, c)
	c.send("for {}\r\n")
	c.expect(t, "for {}")
	out, err := migrateTo(t, s, binaryV2, "--grace", "200ms")
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	c.expect(t, "interrupted: the server is migrating")
	c.expect(t, ">>> ")
	if got := c.serverPid(); got != strconv.Itoa(newPid(t, out)) {
		t.Errorf("after migration sys.Pid = %q", got)
	}
	if got := c.eval("add(2, 3)"); got != "5" {
		t.Errorf("after migration add(2, 3) = %q", got)
	}
}

// TestMigrateTypedAhead sends lines without waiting while the migration
// runs: each is answered exactly once, by one process or the other.
func TestMigrateTypedAhead(t *testing.T) {
	s := startServer(t)
	c := dial(t, s, true)
	c.loginLineMode(testUser, testPassword)

	type migrated struct {
		out string
		err error
	}
	mc := make(chan migrated, 1)
	go func() {
		out, err := exec.Command(binary, "migrate", "--control", s.control, "--binary", binaryV2).CombinedOutput()
		mc <- migrated{string(out), err}
	}()
	const lines = 200
	for k := 0; k < lines; k++ {
		c.send(fmt.Sprintf("%d + 0\n", 100000+k))
		if k%10 == 0 {
			time.Sleep(time.Millisecond) // spread the lines over the migration
		}
	}
	m := <-mc
	if m.err != nil {
		t.Fatalf("migrate: %v\n%s", m.err, m.out)
	}
	t.Cleanup(func() { stopPid(t, newPid(t, m.out)) })
	c.expect(t, strconv.Itoa(100000+lines-1)+"\r\n>>> ")
	got := c.all()
	for k := 0; k < lines; k++ {
		if n := strings.Count(got, strconv.Itoa(100000+k)+"\r\n"); n != 1 {
			t.Errorf("line %d answered %d times", k, n)
		}
	}
}

// TestMigrateOldDiesAfterReady: the new process holds everything once it
// says READY, so the old one dying then loses nothing.
//
// The precopy file, which holds users' namespaces, is not left behind: the
// old process cannot remove it, so the new one does once it has read it.
func TestMigrateOldDiesAfterReady(t *testing.T) {
	runtime := t.TempDir() // the private directory, where the precopy goes
	s := startServerEnv(t, []string{"TRANSLUCENT_TEST_FAIL=die-after-ready", "XDG_RUNTIME_DIR=" + runtime})
	c := loggedIn(t, s)
	populate(t, c)
	out, err := migrateTo(t, s, binaryV2)
	if err == nil {
		t.Fatalf("migrate succeeded although the old process died:\n%s", out)
	}
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not die")
	}
	got := c.serverPid()
	pid, _ := strconv.Atoi(got)
	if pid == 0 || pid == s.pid() {
		t.Fatalf("after the old process died, sys.Pid = %q", got)
	}
	t.Cleanup(func() { stopPid(t, pid) })
	if got := c.eval("add(2, 3)"); got != "5" {
		t.Errorf("add(2, 3) = %q", got)
	}
	if !strings.Contains(s.log(), "namespaces restored ahead of the handoff") {
		t.Errorf("no precopy was restored: nothing to check")
	}
	if left, _ := filepath.Glob(filepath.Join(runtime, "translucent", "*precopy*")); len(left) > 0 {
		t.Errorf("left in the private directory: %v", left)
	}
}

// TestMigrateStrict: a value that cannot be carried aborts a --strict
// migration and changes nothing.
func TestMigrateStrict(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	populate(t, c)
	c.eval("ch := make(chan int)")
	out, err := migrateTo(t, s, binaryV2, "--strict")
	if err == nil || !strings.Contains(out, "ch (chan int)") {
		t.Fatalf("strict migration with a channel: err %v\n%s", err, out)
	}
	if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
		t.Errorf("sys.Pid = %q, want the same pid %d", got, s.pid())
	}
	checkNamespace(t, c)

	// Without --strict the migration goes on and the owner is told.
	out, err = migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	c.expect(t, "not carried by the migration: ch (chan int)")
	c.expect(t, ">>> ")
	if got := c.eval("ch == nil"); got != "true" {
		t.Errorf("a channel that was not carried: ch == nil is %q", got)
	}
}

// TestMigrateSystemd: with NOTIFY_SOCKET set, each serving process tells
// systemd its pid and READY; the pidfile follows the migration; --announce
// shows the session a notice.
func TestMigrateSystemd(t *testing.T) {
	dir := t.TempDir()
	notify := filepath.Join(dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	next := func() string {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(waitFor))
		b := make([]byte, 512)
		n, err := nc.Read(b)
		if err != nil {
			t.Fatalf("no message on NOTIFY_SOCKET: %v", err)
		}
		return string(b[:n])
	}
	pidfile := filepath.Join(dir, "translucent.pid")
	s := startServerEnv(t, []string{"NOTIFY_SOCKET=" + notify}, "--pidfile", pidfile, "--announce")
	if got, want := next(), fmt.Sprintf("MAINPID=%d\nREADY=1", s.pid()); got != want {
		t.Errorf("first notification %q, want %q", got, want)
	}
	c := loggedIn(t, s)
	c.send("40 +")
	c.expect(t, "40 +")
	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	if got, want := next(), fmt.Sprintf("MAINPID=%d\nREADY=1", pid); got != want {
		t.Errorf("notification after the migration %q, want %q", got, want)
	}
	data, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(pid) {
		t.Errorf("pidfile holds %q (%v), want %d", data, err, pid)
	}
	c.expect(t, fmt.Sprintf("moved from pid %d", s.pid()))
	c.expect(t, ">>> 40 +") // the prompt and the half-typed line, drawn again
	c.send(" 2\r\n")
	c.expect(t, "42\r\n>>> ")
}

// TestMigrateTriggers: SIGHUP, and :migrate typed by an admin, migrate too.
func TestMigrateTriggers(t *testing.T) {
	s := startServer(t, "--admins", testUser)
	c := loggedIn(t, s)
	populate(t, c)

	// :migrate, by an admin, to the binary the server started from.
	c.send(":migrate\r\n")
	c.expect(t, "migrating; your session will carry on")
	c.expect(t, ">>> ")
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal(":migrate: the old process did not exit")
	}
	pid, _ := strconv.Atoi(c.serverPid())
	if pid == 0 || pid == s.pid() {
		t.Fatalf(":migrate: still pid %d", pid)
	}
	t.Cleanup(func() { stopPid(t, pid) })

	// SIGHUP.
	syscall.Kill(pid, syscall.SIGHUP)
	if !waitGone(pid) {
		t.Fatal("SIGHUP: the old process did not exit")
	}
	pid2, _ := strconv.Atoi(c.serverPid())
	if pid2 == 0 || pid2 == pid {
		t.Fatalf("SIGHUP: still pid %d", pid2)
	}
	t.Cleanup(func() { stopPid(t, pid2) })
	if got := c.eval("add(2, 3)"); got != "5" {
		t.Errorf("after two migrations add(2, 3) = %q", got)
	}

}

// TestGeneratedAdminAcrossMigrations: a server started without --users
// keeps its admin's password through migrations, also when a second server
// is started without --users meanwhile; each successor is given one
// --users, however many migrations came before; a clean stop leaves no
// control socket or lock file behind.
func TestGeneratedAdminAcrossMigrations(t *testing.T) {
	rt := t.TempDir()
	env := []string{"XDG_RUNTIME_DIR=" + rt}
	pwFile := filepath.Join(rt, "translucent", "admin-password")
	a := launchServer(t, env)
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(pw))
	b := launchServer(t, env)
	if now, _ := os.ReadFile(pwFile); string(now) != string(pw) {
		t.Errorf("a second server without --users rewrote %s", pwFile)
	}
	c := dial(t, b, false)
	c.login("admin", password)
	c.expect(t, ">>> ")

	var pid int
	for i, target := range []string{binaryV2, binary, binaryV2} {
		out, err := migrateTo(t, a, target)
		if err != nil {
			t.Fatalf("migration %d: %v\n%s", i+1, err, out)
		}
		pid = newPid(t, out)
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(cmdline), "\x00--users\x00"); n != 1 {
			t.Errorf("migration %d: the successor has %d --users: %q", i+1, n, cmdline)
		}
	}
	c = dial(t, a, false)
	c.login("admin", password)
	c.expect(t, ">>> ")
	c.conn.Close()

	// Clean stops: SIGTERM to the last successor of a, and to b.
	stopPid(t, pid)
	if err := b.chain.Stop(waitFor); err != nil {
		t.Error(err)
	}
	for _, s := range []*server{a, b} {
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(s.control), "*"))
		if len(left) > 0 {
			t.Errorf("after a clean stop, %s holds %q", filepath.Dir(s.control), left)
		}
	}
}
