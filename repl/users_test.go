package repl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestParseUsers(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"blank and comments", "# users\n\n", ""},
		{"no colon", "alice\n", "line 1: want NAME:HASH"},
		{"empty hash", "alice:\n", "line 1: want NAME:HASH"},
		{"md5 hash", "bob:$apr1$abc$def\n", `line 1: user "bob": not a bcrypt hash`},
		{"sha hash", "# x\ncarol:{SHA}abcdef\n", `line 2: user "carol": not a bcrypt hash`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseUsers([]byte(tt.in))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("ParseUsers(%q) = %v, want error %q", tt.in, err, tt.err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	line, err := HashLine("alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseUsers([]byte(line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"right", "alice", "secret", true},
		{"wrong", "alice", "Secret", false},
		{"empty", "alice", "", false},
		{"unknown user", "bob", "secret", false},
	}
	for _, tt := range tests {
		if got := u.Check(tt.user, tt.password); got != tt.ok {
			t.Errorf("%s: Check(%q, %q) = %v", tt.name, tt.user, tt.password, got)
		}
	}
}

func TestHtpasswdPrefix(t *testing.T) {
	// htpasswd -B writes Apache's $2y$ prefix for the same algorithm that
	// Go writes as $2a$; both must log in.
	line, err := HashLine("alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	line = strings.Replace(line, "$2a$", "$2y$", 1)
	u, err := ParseUsers([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Check("alice", "secret") || u.Check("alice", "wrong") {
		t.Errorf("a $2y$ hash is not checked correctly: %s", line)
	}
}

func TestAddUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	for _, step := range []struct{ name, password string }{
		{"alice", "one"}, {"bob", "two"}, {"alice", "three"},
	} {
		if err := AddUser(path, step.name, step.password); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode %o, want 600", perm)
	}
	u, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 2 || !u.Check("alice", "three") || u.Check("alice", "one") || !u.Check("bob", "two") {
		t.Errorf("after adding alice, bob, alice again: %d users, wrong passwords", u.Len())
	}
	for _, bad := range []string{"", "a:b", "a b"} {
		if err := AddUser(path, bad, "x"); err == nil {
			t.Errorf("AddUser(%q) succeeded", bad)
		}
	}
	if err := AddUser(path, "dave", ""); err == nil {
		t.Error("empty password accepted")
	}
}

// The dummy hash must be a real bcrypt hash at the default cost, so that an
// unknown name costs what a known one does.
func TestDummyHash(t *testing.T) {
	if err := bcrypt.CompareHashAndPassword(dummyHash, []byte("translucent-dummy")); err != nil {
		t.Fatalf("dummyHash: %v", err)
	}
	if cost, err := bcrypt.Cost(dummyHash); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("dummyHash cost %d (%v), want %d", cost, err, bcrypt.DefaultCost)
	}
}
