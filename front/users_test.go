package front

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedAdminShared: a second server started without --users keeps
// the admin the first one created, rather than rewrite the users file the
// first one's successors will load.
func TestGeneratedAdminShared(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pwFile := filepath.Join(rt, "translucent", "admin-password")
	password := func() string {
		t.Helper()
		b, err := os.ReadFile(pwFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	_, usersFile, err := loadOrCreateUsers("", log)
	if err != nil {
		t.Fatal(err)
	}
	first := password()
	for i := range 2 { // a second server, a third
		u, f, err := loadOrCreateUsers("", log)
		if err != nil {
			t.Fatal(err)
		}
		if f != usersFile || password() != first || !u.Check("admin", first) {
			t.Fatalf("server %d: users file %s, admin password changed: %v", i+2, f, password() != first)
		}
	}

	// A password file that is gone, or does not match, is made again.
	os.Remove(pwFile)
	u, _, err := loadOrCreateUsers("", log)
	if err != nil {
		t.Fatal(err)
	}
	if second := password(); second == first || !u.Check("admin", second) {
		t.Errorf("after the password file was removed: a new password %v, that works %v", second != first, u.Check("admin", second))
	}
}
