package main

import (
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// TestWatchSlowWatcher: a watcher that reads far slower than the watched
// session prints never delays it; it is told what it missed.
func TestWatchSlowWatcher(t *testing.T) {
	s := startServerUsers(t, []string{"alice", "bob"})
	// Both are line-mode clients on raw connections: alice reads all she
	// is sent without keeping it; bob, once watching, reads a trickle
	// (4 KiB a quarter second: progress enough for the server's stall
	// timeout, which disconnects a client that reads nothing at all for
	// 10 s) through a small receive buffer.
	a, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	io.WriteString(a, "alice\n"+testPassword+"\n:share\nimport \"fmt\"\nimport \"strings\"\n")
	readUntil(t, a, "session 1 is shared")

	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	b, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	io.WriteString(b, "bob\n"+testPassword+"\n:watch 1\n")
	readUntil(t, a, "[bob is watching]")

	aliceDone := make(chan struct{})
	told := make(chan error, 1)
	go func() { // ends when bob has been told, or his connection fails
		const notice = "bytes of session 1 were not shown]"
		var tail []byte
		buf := make([]byte, 4<<10)
		for {
			select {
			case <-aliceDone: // from now on bob reads at full speed
			default:
				time.Sleep(250 * time.Millisecond) // the pace of a slow reader
			}
			b.SetReadDeadline(time.Now().Add(waitFor))
			n, err := b.Read(buf)
			tail = append(tail[max(0, len(tail)-len(notice)):], buf[:n]...)
			if bytes.Contains(tail, []byte(notice)) {
				told <- nil
				return
			}
			if err != nil {
				told <- err
				return
			}
		}
	}()

	// 8 MiB, in pieces smaller than a watcher's buffer: more than the
	// kernel holds for bob (a 4 MiB send buffer at most, and his 4 KiB),
	// so his view falls behind and what he cannot take is thrown away.
	// alice gets all of it and the line after it, whatever bob does.
	io.WriteString(a, `for i := 0; i < 512; i++ { fmt.Println(strings.Repeat("x", 16<<10)) }; fmt.Println("all", "printed")`+"\n")
	readUntil(t, a, "all printed")
	close(aliceDone)
	if err := <-told; err != nil {
		t.Fatalf("bob was not told he fell behind: %v", err)
	}
}

// readUntil reads c, keeping none of it but the last bytes, until want
// has been read.
func readUntil(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	defer c.SetReadDeadline(time.Time{})
	var tail []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		tail = append(tail, buf[:n]...)
		if bytes.Contains(tail, []byte(want)) {
			return
		}
		if err != nil {
			t.Fatalf("waiting for %q: %v; last read %q", want, err, tail[max(0, len(tail)-300):])
		}
		tail = tail[max(0, len(tail)-len(want)):]
	}
}
