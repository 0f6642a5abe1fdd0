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
