package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"translucent/migrate"
)

// TestNoServer: a command run with no server names itself, not the
// package that found no server, and says how to go on.
func TestNoServer(t *testing.T) {
	control := filepath.Join(t.TempDir(), "control.sock")
	for _, args := range [][]string{{"status"}, {"migrate"}, {"snapshot", "-o", filepath.Join(t.TempDir(), "s.cbor")}} {
		err := run(t.Context(), append(args, "--control", control), nil, io.Discard, io.Discard)
		want := args[0] + ": no server is running at " + control + " (no such file or directory). Start one with 'translucent serve'"
		if !errors.Is(err, migrate.ErrNoServer) || !strings.HasPrefix(fmt.Sprint(err), want) {
			t.Errorf("%s: %v; want an error starting %q", args[0], err, want)
		}
	}
}
