package front

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestRemoveStalePrecopies: precopy files of processes that are gone are
// removed at start, with the temporary files they were written through;
// a live process's and anything else stay.
func TestRemoveStalePrecopies(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := gone.ProcessState.Pid()
	dir := t.TempDir()
	files := map[string]bool{ // name → kept
		fmt.Sprintf("precopy-%d.cbor", dead):         false,
		fmt.Sprintf(".precopy-%d.cbor.123456", dead): false,
		fmt.Sprintf("precopy-%d.cbor", os.Getpid()):  true,
		fmt.Sprintf("precopy-%d.cbor", os.Getppid()): true,
		"precopy-notapid.cbor":                       true,
		fmt.Sprintf("precopy-%d.json", dead):         true,
		"admin-password":                             true,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removeStalePrecopies(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, kept := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
}

// TestRemoveOwnPrecopy: a successor removes the precopy it read from the
// private directory, never a file elsewhere.
func TestRemoveOwnPrecopy(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	dir, err := privateDir()
	if err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "precopy-1.cbor")
	elsewhere := filepath.Join(rt, "precopy-1.cbor")
	for _, p := range []string{own, elsewhere} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		removeOwnPrecopy(p)
	}
	if _, err := os.Stat(own); err == nil {
		t.Errorf("%s stayed", own)
	}
	if _, err := os.Stat(elsewhere); err != nil {
		t.Errorf("%s, not in the private directory, was removed", elsewhere)
	}
}
