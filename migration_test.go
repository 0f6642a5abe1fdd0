package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"translucent/migrate"
	"translucent/repl"
)

func TestTimeoutFor(t *testing.T) {
	users, err := repl.ParseUsers(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := repl.NewServer(repl.Config{Users: users, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer srv.Close()
	m := &migrator{srv: srv}
	if got := m.timeoutFor(5 * time.Second); got != 5*time.Second {
		t.Errorf("asked 5s: %v", got)
	}
	if got := m.timeoutFor(0); got != 30*time.Second {
		t.Errorf("default with no session: %v, want 30s", got)
	}
}

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
