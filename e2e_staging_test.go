package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests of migrations that can be tested first and taken
// one session at a time: dry runs, snapshot files, a staging server, and
// incremental migration.

// ctl runs a translucent command against s's control socket.
func ctl(t *testing.T, s *server, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(binary, append([]string{args[0], "--control", s.control}, args[1:]...)...).CombinedOutput()
	return string(out), err
}

// sessionID is the id the server gave c's session (:who marks it).
func sessionID(t *testing.T, c *client) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(\d+) .*\(you\)`).FindStringSubmatch(c.eval(":who"))
	if m == nil {
		t.Fatal(":who does not show this session")
	}
	return m[1]
}

// waitPid evaluates sys.Pid until the session answers from pid: a
// session moves once it is back at its prompt.
func waitPid(t *testing.T, c *client, pid int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := c.serverPid()
		if got == strconv.Itoa(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sys.Pid = %s, want %d", got, pid)
		}
	}
}

func TestDryRun(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		extra   []string
		ok      bool
		wantOut string
	}{
		{"restores", nil, nil, true, "re-encoded identically"},
		// What a migration with --drop would carry; production keeps it.
		{"with --drop", nil, []string{"--drop", "names"}, true, "left out of every namespace, as --drop asks: names"},
		{"staging process crashes", []string{"TRANSLUCENT_TEST_FAIL=verify-crash"}, nil, false, "production untouched"},
		{"staging process hangs", []string{"TRANSLUCENT_TEST_FAIL=verify-hang"}, []string{"--timeout", "2s"}, false, "did not finish within 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServerEnv(t, tt.env)
			c := loggedIn(t, s)
			populate(t, c)
			c.eval("ch := make(chan int)")
			out, err := ctl(t, s, append([]string{"migrate", "--dry-run", "--binary", binaryV2}, tt.extra...)...)
			if (err == nil) != tt.ok || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("dry run: err %v, want ok=%v and %q in:\n%s", err, tt.ok, tt.wantOut, out)
			}
			if tt.ok {
				for _, want := range []string{"staging pid", testVersionV2, "not carried: ch (chan int)", "every session would migrate (1)"} {
					if !strings.Contains(out, want) {
						t.Errorf("dry run output lacks %q:\n%s", want, out)
					}
				}
				if dropped := strings.Contains(out, "names ([]string): dropped by request"); dropped != slices.Contains(tt.extra, "--drop") {
					t.Errorf("dry run output says names is dropped: %v, want %v:\n%s", dropped, !dropped, out)
				}
			}
			// Production is untouched: same process, same namespace.
			if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
				t.Errorf("after a dry run sys.Pid = %s, want %d", got, s.pid())
			}
			checkNamespace(t, c)
		})
	}
}

func TestSnapshotStaging(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)
	populate(t, c)
	id := sessionID(t, c)
	file := filepath.Join(t.TempDir(), "state.cbor")
	if out, err := ctl(t, s, "snapshot", "-o", file); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	c.eval("x = 1000") // the file keeps the state of when it was taken

	if out, err := exec.Command(binary, "verify", file).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err := exec.Command(binary, "inspect", file).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	for _, want := range []string{"session " + id + ": " + testUser, "type Point struct", "Point{X: 1, Y: 2}", "&p", `"ada"`, "<cycle: #", `errors.New("boom")`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	dot, err := exec.Command(binary, "inspect", "--dot", file).Output()
	if err != nil || !strings.HasPrefix(string(dot), "digraph") || !strings.Contains(string(dot), "->") {
		t.Errorf("inspect --dot: %v\n%s", err, dot)
	}
	// A staging server offers the file's namespaces to :attach.
	st := startServer(t, "--restore", file)
	sc := loggedIn(t, st)
	if got := sc.eval(":attach"); !strings.Contains(got, id+"   "+testUser) && !strings.Contains(got, id+"  "+testUser) {
		t.Errorf(":attach does not list session %s:\n%s", id, got)
	}
	if got := sc.eval(":attach " + id); !strings.Contains(got, "attached to a copy of session "+id) {
		t.Fatalf(":attach %s: %s", id, got)
	}
	sc.eval(`import "strings"`) // imports are per file in yaegi: the session's own
	checkNamespace(t, sc)
	if got := sc.eval(":attach 999"); !strings.Contains(got, "no session") {
		t.Errorf(":attach 999: %s", got)
	}
	// Production did not notice.
	if got := c.eval("x"); got != "1000" {
		t.Errorf("production x = %s after the snapshot, want 1000", got)
	}

	// A damaged file is refused with a reason, at start.
	bad := filepath.Join(t.TempDir(), "bad.cbor")
	data, _ := os.ReadFile(file)
	os.WriteFile(bad, data[:len(data)/2], 0o600)
	out, err = exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--control", filepath.Join(t.TempDir(), "c.sock"), "--restore", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "corrupt or truncated") {
		t.Errorf("serve --restore of a truncated file: %v\n%s", err, out)
	}
}

func TestIncrementalMigration(t *testing.T) {
	s := startServer(t)
	a := loggedIn(t, s)
	populate(t, a)
	a.eval("tmp := 99")
	if got := a.eval(":drop tmp"); !strings.Contains(got, "tmp stays here") {
		t.Fatalf(":drop tmp right after declaring it: %q", got)
	}
	b := loggedIn(t, s)
	b.eval(`import "os"`)
	b.eval("y := 7")
	b.eval("secret := \"hunter2\"")
	idB := sessionID(t, b)

	out, err := ctl(t, s, "migrate", "--incremental", "--binary", binaryV2)
	if err != nil {
		t.Fatalf("migrate --incremental: %v\n%s", err, out)
	}
	newPid := newPid(t, out)
	t.Cleanup(func() { stopPid(t, newPid) })

	// New logins reach the new build; the sessions stay where they were.
	c := loggedIn(t, s)
	c.eval(`import "sys"`)
	if got := c.eval("sys.Version"); !strings.Contains(got, testVersionV2) {
		t.Errorf("a new login got %s, want %s", got, testVersionV2)
	}
	if got := a.serverPid(); got != strconv.Itoa(s.pid()) {
		t.Errorf("before moving, session A answers from %s, want %d", got, s.pid())
	}
	status, err := ctl(t, s, "status")
	if err != nil || !strings.Contains(status, "pid "+strconv.Itoa(newPid)) || !strings.Contains(status, "pid "+strconv.Itoa(s.pid())) {
		t.Errorf("status does not show both processes: %v\n%s", err, status)
	}

	// One session at a time: A by its user, B by the operator.
	a.eval(":upgrade")
	// What was not carried is told on arrival, with a fresh prompt.
	a.expect(t, "not carried by the migration: tmp (int): dropped by request")
	a.expect(t, ">>> ")
	waitPid(t, a, newPid)
	checkNamespace(t, a)
	if got := a.eval("tmp"); got != "0" {
		t.Errorf("tmp, dropped by :drop, came back as %s", got)
	}
	select {
	case <-s.exited:
		t.Fatal("the old process exited with a session left")
	default:
	}
	if out, err := ctl(t, s, "migrate", "--session", idB, "--drop", "secret"); err != nil {
		t.Fatalf("migrate --session %s: %v\n%s", idB, err, out)
	}
	b.expect(t, "not carried by the migration: secret (string): dropped by request")
	b.expect(t, ">>> ")
	waitPid(t, b, newPid)
	if got := b.eval("y"); got != "7" {
		t.Errorf("B's y = %s after its move", got)
	}
	if got := b.eval("secret"); got != `""` {
		t.Errorf("B's secret, dropped by --drop, = %s", got)
	}
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not exit after its last session left")
	}
	if status, _ := ctl(t, s, "status"); strings.Contains(status, "also serving") {
		t.Errorf("status still shows the old process:\n%s", status)
	}
	// With the old process gone, the new one migrates as usual.
	if out, err := migrateTo(t, s, binary); err != nil {
		t.Fatalf("a full migration after the incremental one: %v\n%s", err, out)
	}
}

func TestIncrementalMoveBack(t *testing.T) {
	s := startServer(t)
	a := loggedIn(t, s)
	populate(t, a)
	id := sessionID(t, a)
	// B keeps the old process alive while A moves back and forth: the old
	// process exits with its last session.
	b := loggedIn(t, s)
	idB := sessionID(t, b)
	out, err := ctl(t, s, "migrate", "--incremental", "--binary", binaryV2)
	if err != nil {
		t.Fatalf("migrate --incremental: %v\n%s", err, out)
	}
	newPid := newPid(t, out)
	t.Cleanup(func() { stopPid(t, newPid) })
	// A second migration waits for this one to finish.
	if out, err := migrateTo(t, s, binary); err == nil || !strings.Contains(out, "incremental migration is under way") {
		t.Errorf("a full migration during an incremental one: %v\n%s", err, out)
	}

	for i, want := range []int{newPid, s.pid(), newPid} {
		if out, err := ctl(t, s, "migrate", "--session", id); err != nil {
			t.Fatalf("move %d: %v\n%s", i+1, err, out)
		}
		waitPid(t, a, want)
		checkNamespace(t, a)
		a.eval("p.X = 1") // checkNamespace sets it to 7 through pp
	}
	if out, err := ctl(t, s, "migrate", "--session", idB); err != nil {
		t.Fatalf("moving B: %v\n%s", err, out)
	}
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not exit after its last session left")
	}
	if _, err := os.Stat(s.control); err != nil {
		t.Errorf("the control socket went with the old process: %v", err)
	}
}

// TestMigrateDefaultBinary: after migrations to another build (--binary),
// incremental or not, a plain migrate goes back to the build the server was
// first started from, and says so.
func TestMigrateDefaultBinary(t *testing.T) {
	s := startServer(t)
	for _, how := range [][]string{{"--incremental"}, nil} {
		out, err := ctl(t, s, append([]string{"migrate", "--binary", binaryV2}, how...)...)
		if err != nil {
			t.Fatalf("migrate %q --binary v2: %v\n%s", how, err, out)
		}
		t.Cleanup(func() { stopPid(t, newPid(t, out)) })
		if how != nil { // the old process leaves with its last session: it has none
			select {
			case <-s.exited:
			case <-time.After(waitFor):
				t.Fatal("the old process of an incremental migration did not exit with no sessions")
			}
		}
		status, err := ctl(t, s, "status")
		if want := "migrate goes to " + binary + " unless told --binary"; err != nil || !strings.Contains(status, want) {
			t.Errorf("after migrate %q --binary v2, status does not say %q: %v\n%s", how, want, err, status)
		}
		out, err = ctl(t, s, "migrate")
		if err != nil {
			t.Fatalf("plain migrate after migrate %q --binary v2: %v\n%s", how, err, out)
		}
		t.Cleanup(func() { stopPid(t, newPid(t, out)) })
		if !strings.Contains(out, ") to "+binary+"\n") || !strings.Contains(out, "("+testVersion+" (") {
			t.Errorf("plain migrate after migrate %q --binary v2 did not go to %s:\n%s", how, binary, out)
		}
	}
}
