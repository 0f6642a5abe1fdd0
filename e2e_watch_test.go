package main

import (
	"bufio"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServerUsers starts a server whose users file holds each of users,
// all with testPassword.
func startServerUsers(t *testing.T, users []string, args ...string) *server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "users")
	for _, u := range users {
		add := exec.Command(binary, "adduser", "--users", file, u)
		add.Stdin = strings.NewReader(testPassword + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("adduser %s: %v\n%s", u, err, out)
		}
	}
	return launchServer(t, nil, append([]string{"--users", file}, args...)...)
}

func loggedInAs(t *testing.T, s *server, user string) *client {
	t.Helper()
	c := dial(t, s, false)
	c.login(user, testPassword)
	c.expect(t, ">>> ")
	return c
}

// TestWatch: bob watches alice's session once she shares it, sees what she
// types and what it prints, his keys reach nobody, and the watch goes on
// across a migration.
func TestWatch(t *testing.T) {
	s := startServerUsers(t, []string{"alice", "bob", "carol"}, "--admins", "carol")
	a := loggedInAs(t, s, "alice") // session 1
	b := loggedInAs(t, s, "bob")   // session 2

	if got := b.eval(":watch 1"); !strings.Contains(got, "error: session 1 (alice) is not shared; its user may allow watching with :share") {
		t.Fatalf("watching an unshared session: %q", got)
	}
	if got := b.eval(":watch 9"); !strings.Contains(got, "error: no session 9 here") {
		t.Errorf(":watch 9: %q", got)
	}
	if got := a.eval(":share"); !strings.Contains(got, "session 1 is shared") {
		t.Fatalf(":share: %q", got)
	}
	a.eval("before := 1") // in the recap bob gets

	b.send(":watch 1\r\n")
	b.expect(t, "watching session 1 (alice), read only")
	b.expect(t, "before := 1")
	a.expect(t, "[bob is watching]")
	a.expect(t, ">>> ") // redrawn below the notice
	if got := a.eval(":who"); !strings.Contains(got, "shared") || !strings.Contains(got, "watching 1") {
		t.Errorf(":who does not show who shares and who watches:\n%s", got)
	}

	a.send("x := 41\r\n")
	a.expect(t, ">>> ")
	b.expect(t, "x := 41")
	if got := a.eval("x+1"); got != "42" {
		t.Fatalf("x+1 = %q", got)
	}
	b.expect(t, "x+1")
	b.expect(t, "42")

	// bob's keys go nowhere: not to alice, not to his own namespace.
	b.send("zzz := 7")
	if got := a.eval(":vars"); strings.Contains(got, "zzz") {
		t.Errorf("the watcher's keys reached the watched session:\n%s", got)
	}
	if strings.Contains(a.all(), "zzz") {
		t.Errorf("the watched session's client saw the watcher's keys")
	}

	// A whole migration carries the watch.
	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if got := a.eval("x+2"); got != "43" {
		t.Fatalf("after the migration x+2 = %q", got)
	}
	b.expect(t, "x+2")
	b.expect(t, "43")

	b.send("\x03") // Ctrl-C
	b.expect(t, "[stopped watching]")
	b.expect(t, ">>> ")
	if got := b.eval(":vars"); got != "no variables" {
		t.Errorf("the watcher's own namespace after watching: %q", got)
	}

	// Unshared again: bob may not start watching, carol (an admin) may.
	a.eval(":share off")
	if got := b.eval(":watch 1"); !strings.Contains(got, "is not shared") {
		t.Errorf("watching after :share off: %q", got)
	}
	c := loggedInAs(t, s, "carol")
	c.send(":watch 1\r\n")
	c.expect(t, "watching session 1 (alice)")
	a.expect(t, "[carol is watching]")
	a.expect(t, ">>> ")
	a.eval("x+3")
	c.expect(t, "44")
	// alice logs out: carol's watch ends with a line saying why.
	a.send(":quit\r\n")
	c.expect(t, "[session 1 has ended]")
	c.expect(t, ">>> ")
}

// TestWatchSlowWatcher: a watcher that does not read never delays the
// watched session; it is told, when it reads again, what it missed.
func TestWatchSlowWatcher(t *testing.T) {
	s := startServerUsers(t, []string{"alice", "bob"})
	a := loggedInAs(t, s, "alice") // session 1
	a.eval(":share")
	a.eval(`import "fmt"`)
	a.eval(`import "strings"`)

	// bob: a line-mode client that types everything ahead, then stops
	// reading altogether.
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "bob\n"+testPassword+"\n:watch 1\n")
	a.expect(t, "[bob is watching]")
	a.expect(t, ">>> ") // redrawn below the notice

	// Megabytes of output: far beyond the watcher's buffer and the
	// kernel's socket buffers. alice gets all of it and her prompt back
	// while bob reads nothing.
	a.send(`for i := 0; i < 40000; i++ { fmt.Println(i, strings.Repeat("x", 100)) }` + "\r\n")
	a.expect(t, "39999 "+strings.Repeat("x", 100))
	a.expect(t, ">>> ")
	if got := a.eval("1+1"); got != "2" {
		t.Fatalf("after the output: %q", got)
	}

	// Now bob reads: he is told he fell behind, and by how much.
	conn.SetReadDeadline(time.Now().Add(waitFor))
	r := bufio.NewReader(conn)
	found := false
	for !found {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the slow watcher: %v", err)
		}
		found = strings.Contains(line, "[translucent: you fell behind;") && strings.Contains(line, "bytes of session 1 were not shown]")
	}
}
