package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeSquattedControlDir: a control socket directory someone else
// could have made is refused with the command's name and the way out.
func TestServeSquattedControlDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "translucent-0")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // past the umask
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--control", filepath.Join(dir, "control.sock")}, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started with a control socket directory anyone can write to")
	}
	for _, want := range []string{"serve: ", dir, "--control PATH", "XDG_RUNTIME_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
