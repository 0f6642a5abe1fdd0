package repl

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAuthorizedKeys(t *testing.T) {
	home := t.TempDir()
	srv, _ := lineServer(t, Config{Home: home})
	if _, err := srv.cfg.AuthorizedKeys("alice"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("no file: %v", err)
	}
	const keys = "ssh-ed25519 AAAA alice@laptop\n"
	if err := os.WriteFile(filepath.Join(home, "alice", "authorized_keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.cfg.AuthorizedKeys("alice"); string(got) != keys || err != nil {
		t.Errorf("alice's keys: %q, %v", got, err)
	}
	// A name not in the users file has none, whatever is on disk.
	os.MkdirAll(filepath.Join(home, "bob"), 0o700)
	os.WriteFile(filepath.Join(home, "bob", "authorized_keys"), []byte(keys), 0o600)
	if _, err := srv.cfg.AuthorizedKeys("bob"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("bob, who is no user: %v", err)
	}
	// A link out of the home is not followed.
	os.Remove(filepath.Join(home, "alice", "authorized_keys"))
	os.Symlink(filepath.Join(home, "bob", "authorized_keys"), filepath.Join(home, "alice", "authorized_keys"))
	if _, err := srv.cfg.AuthorizedKeys("alice"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("a link out of the home: %v", err)
	}
}
