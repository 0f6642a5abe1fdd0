package front

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"translucent/repl"
)

func TestTimeoutFor(t *testing.T) {
	users, err := repl.ParseUsers(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := newRegistry(repl.Config{Users: users, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer srv.close()
	m := &migrator{srv: srv}
	if got := m.timeoutFor(5 * time.Second); got != 5*time.Second {
		t.Errorf("asked 5s: %v", got)
	}
	if got := m.timeoutFor(0); got != 30*time.Second {
		t.Errorf("default with no session: %v, want 30s", got)
	}
}
