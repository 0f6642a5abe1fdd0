package bench

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestServerMemory measures this test process and a child of its own, as
// serverMemory measures a front and its workers.
func TestServerMemory(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	self, child := os.Getpid(), cmd.Process.Pid

	kids, err := children(self)
	if err != nil || !slices.Contains(kids, child) {
		t.Fatalf("children = %v, %v; want %d among them", kids, err, child)
	}
	scanned, err := childrenByScan(self)
	if err != nil || !slices.Contains(scanned, child) {
		t.Errorf("childrenByScan = %v, %v; want %d among them", scanned, err, child)
	}
	if ppid, err := parentOf(child); err != nil || ppid != self {
		t.Errorf("parentOf(%d) = %d, %v; want %d", child, ppid, err, self)
	}

	m, err := serverMemory(self)
	if err != nil {
		t.Fatal(err)
	}
	if m.Procs != 1+len(kids) || m.FrontPSS <= 0 || m.PSS <= m.FrontPSS {
		t.Errorf("serverMemory = %+v with children %v", m, kids)
	}
	if _, err := pss(-1); err == nil {
		t.Error("pss of no process: no error")
	}
}

func TestCountSessions(t *testing.T) {
	const head = "pid 1\nversion v1 (go1.26.8)\nmigrate goes to /bin/translucent unless told --binary\nID  USER  ADDRESS  SINCE  STATE  WORKER\n"
	const row = "1   ann   127.0.0.1:1  2026-01-01 00:00:00  idle  2 (25 MiB)\n"
	for _, tt := range []struct {
		status string
		want   int
	}{
		{head, 0},
		{head + row, 1},
		{head + row + row + "\nalso serving, the older process (control c):\npid 2\nversion v0\nID  USER\n" + row, 2},
		{"pid 1\nversion v0 (go1.26.8)\nID  USER  ADDRESS  SINCE  STATE  WORKER\n" + row, 1}, // a build before "migrate goes to"
	} {
		if got, err := countSessions(tt.status); got != tt.want || err != nil {
			t.Errorf("countSessions(%q) = %d, %v; want %d", tt.status, got, err, tt.want)
		}
	}
}
