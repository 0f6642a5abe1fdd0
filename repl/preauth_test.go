package repl

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoggedIn: a session started LoggedIn (the SSH relay's) asks for no
// name or password, greets, and counts as its user's from the address
// the way in gave.
func TestLoggedIn(t *testing.T) {
	srv, _ := lineServer(t, Config{NegotiationWait: 10 * time.Millisecond})
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := srv.ServeConn(b, LoggedIn("alice", "192.0.2.1:2222")); err != nil {
		t.Fatal(err)
	}
	lc := &lineClient{t: t, c: a, r: bufio.NewReader(a)}
	if got := lc.expect(">>> "); strings.Contains(got, "username") || !strings.Contains(got, "Type Go") {
		t.Errorf("a session logged in by its way in began with %q", got)
	}
	lc.send(":who\r\n")
	if got := lc.expect(">>> "); !strings.Contains(got, "alice") || !strings.Contains(got, "192.0.2.1:2222") {
		t.Errorf(":who = %q", got)
	}
	if info := srv.Sessions(); len(info) != 1 || info[0].User != "alice" || info[0].State == "logging in" {
		t.Errorf("sessions: %+v", info)
	}
}

// TestCheckPassword: the relay's password check is a login's: right, or
// wrong with the log line (no password in it) and the delay, which ends
// when the asker leaves.
func TestCheckPassword(t *testing.T) {
	var log syncBuffer
	srv, _ := lineServer(t, Config{LoginDelay: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if ok, err := srv.CheckPassword(context.Background(), "192.0.2.1:1", "ssh", "alice", "secret"); !ok || err != nil {
		t.Errorf("the right password: %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		ok, err := srv.CheckPassword(ctx, "192.0.2.1:1", "ssh", "alice", "hunter2")
		if ok {
			err = errors.New("accepted")
		}
		done <- err
	}()
	waitFor(t, "the wrong password logged", func() bool { return strings.Contains(log.String(), "wrong password") })
	select {
	case err := <-done:
		t.Fatalf("a wrong password answered before the delay: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a wrong password, asker gone: %v", err)
	}
	if strings.Contains(log.String(), "hunter2") || !strings.Contains(log.String(), "user=alice") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestAuthorizedKeys(t *testing.T) {
	home := t.TempDir()
	srv, _ := lineServer(t, Config{Home: home})
	if _, err := srv.AuthorizedKeys("alice"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("no file: %v", err)
	}
	const keys = "ssh-ed25519 AAAA alice@laptop\n"
	if err := os.WriteFile(filepath.Join(home, "alice", "authorized_keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.AuthorizedKeys("alice"); string(got) != keys || err != nil {
		t.Errorf("alice's keys: %q, %v", got, err)
	}
	// A name not in the users file has none, whatever is on disk.
	os.MkdirAll(filepath.Join(home, "bob"), 0o700)
	os.WriteFile(filepath.Join(home, "bob", "authorized_keys"), []byte(keys), 0o600)
	if _, err := srv.AuthorizedKeys("bob"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("bob, who is no user: %v", err)
	}
	// A link out of the home is not followed.
	os.Remove(filepath.Join(home, "alice", "authorized_keys"))
	os.Symlink(filepath.Join(home, "bob", "authorized_keys"), filepath.Join(home, "alice", "authorized_keys"))
	if _, err := srv.AuthorizedKeys("alice"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("a link out of the home: %v", err)
	}
}
