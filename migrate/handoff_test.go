package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTimeout bounds waits that only a bug makes long.
const testTimeout = 30 * time.Second

// TestHandoffMovesConnections hands a live echo service to a child
// process: connections established before the handoff are answered by
// the child afterwards, bytes sent before and during the handoff are read
// by it, and a connection waiting in the backlog is accepted by it.
func TestHandoffMovesConnections(t *testing.T) {
	srv := startEchoServer(t)
	clients := make([]*echoClient, 3)
	for i := range clients {
		clients[i] = dialEcho(t, srv)
		clients[i].send(fmt.Sprintf("hello %d\n", i))
		clients[i].expect(os.Getpid(), fmt.Sprintf("hello %d", i))
	}
	// A line whose first half the server reads before the handoff: its
	// bytes travel in the record, the rest in the kernel.
	clients[0].send("first ")
	clients[0].send("line\nsplit ")
	clients[0].expect(os.Getpid(), "first line")

	srv.quiesce()
	clients[0].send("line\n")
	for i, c := range clients {
		c.send(fmt.Sprintf("during %d\n", i))
	}
	backlog := dialEcho(t, srv) // connected by the kernel, accepted by nobody yet
	backlog.send("from the backlog\n")

	lf, recs, closeDups := srv.handoff(t)
	defer closeDups()
	carried := 0
	for _, r := range recs {
		carried += len(r.Data)
	}
	t.Logf("%d sessions, %d unconsumed bytes carried in records", len(recs), carried)

	s := startChild(t, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Send(ctx, Header{Meta: []byte("meta")}, []*os.File{lf}, recs); err != nil {
		t.Fatal(err)
	}
	report, err := s.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("pid=%d listener=%s", s.Pid(), srv.ln.Addr()); !strings.HasPrefix(string(report), want) {
		t.Errorf("report %q, want prefix %q", report, want)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	closeDups()
	srv.close() // the parent lets go; the child's copies keep everything open

	child := s.Pid()
	clients[0].expect(child, "split line")
	for i, c := range clients {
		c.expect(child, fmt.Sprintf("during %d", i))
	}
	backlog.expect(child, "from the backlog")
	for i, c := range clients {
		c.send(fmt.Sprintf("after %d\n", i))
		c.expect(child, fmt.Sprintf("after %d", i))
	}
	late := dialEcho(t, srv)
	late.send("late\n")
	late.expect(child, "late")
}

// TestHandoffManySessions sends 600 sessions (three batches and more),
// records of 1 byte and of 1 MiB, some without a connection; the child
// answers on each record's own connection with the record's id, length
// and checksum, so a mismatch between descriptors and records shows.
func TestHandoffManySessions(t *testing.T) {
	const n = 600
	recs := make([]Record, n)
	ours := make([]*os.File, n) // our end of each session's connection
	for i := range recs {
		size := 1
		if i%100 == 7 {
			size = 1 << 20
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i*31 + j*7)
		}
		recs[i] = Record{ID: uint64(i)*7919 + 3, Data: data}
		if i%37 == 0 {
			continue // a session without a connection
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ours[i] = os.NewFile(uintptr(fds[0]), "ours")
		recs[i].Conn = os.NewFile(uintptr(fds[1]), "theirs")
		t.Cleanup(func() { ours[i].Close(); recs[i].Conn.Close() })
	}

	s := startChild(t, "count")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Send(ctx, Header{Meta: []byte("old pid 1")}, nil, recs); err != nil {
		t.Fatal(err)
	}
	report, err := s.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conns, total := 0, 0
	for _, r := range recs {
		total += len(r.Data)
		if r.Conn != nil {
			conns++
		}
	}
	want := fmt.Sprintf("version=%d sessions=%d records=%d conns=%d bytes=%d listeners=0 meta=%q", FormatVersion, n, n, conns, total, "old pid 1")
	if string(report) != want {
		t.Errorf("report:\n got %s\nwant %s", report, want)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Conn == nil {
			continue
		}
		r.Conn.Close() // ours to close once committed
		ours[i].SetReadDeadline(time.Now().Add(testTimeout))
		line, err := bufio.NewReader(ours[i]).ReadString('\n')
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if want := recordLine(r.ID, r.Data); line != want {
			t.Fatalf("session %d: child says %q, want %q", i, line, want)
		}
	}
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("child exited with status %d", code)
		}
	case <-time.After(testTimeout):
		t.Error("child did not exit")
	}
}

// TestHandoffFailures injects failures in the successor: in each case the
// parent gets an error saying what happened, Abort leaves no zombie, and
// the parent goes on serving every connection, including bytes sent
// during the failed handoff and a connection left in the backlog.
func TestHandoffFailures(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		timeout     time.Duration
		want        error
		msg         string // in the error
		exitedFirst bool   // wait for the child's death before Send
	}{
		{"exit3", testTimeout, ErrSuccessorExited, "successor exited with status 3 while receiving the state", true},
		{"exit3", testTimeout, ErrSuccessorExited, "successor exited with status 3", false},
		{"exit3-after-receive", testTimeout, ErrSuccessorExited, "successor exited with status 3 before READY", false},
		{"fail", testTimeout, ErrRefused, "successor refused the state: restore refused: test says no", false},
		{"hang", 300 * time.Millisecond, ErrTimeout, "waiting for READY", false},
	} {
		name := tc.mode
		if tc.exitedFirst {
			name += "-before-send"
		}
		t.Run(name, func(t *testing.T) {
			srv := startEchoServer(t)
			c := dialEcho(t, srv)
			c.send("before\n")
			c.expect(os.Getpid(), "before")
			srv.quiesce()
			c.send("during\n")
			backlog := dialEcho(t, srv)
			backlog.send("from the backlog\n")
			lf, recs, closeDups := srv.handoff(t)

			s := startChild(t, tc.mode)
			if tc.exitedFirst {
				<-s.exited
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			err := s.Send(ctx, Header{}, []*os.File{lf}, recs)
			if err == nil {
				_, err = s.WaitReady(ctx)
			}
			if err == nil {
				t.Fatal("handoff succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want %v containing %q", err, tc.want, tc.msg)
			}
			t.Logf("error: %v", err)
			s.Abort()
			s.Abort() // twice is fine
			checkReaped(t, s.Pid())
			if err := s.Commit(); !errors.Is(err, ErrAborted) {
				t.Errorf("Commit after Abort: %v", err)
			}

			closeDups()
			srv.start()
			c.expect(os.Getpid(), "during")
			backlog.expect(os.Getpid(), "from the backlog")
			c.send("after\n")
			c.expect(os.Getpid(), "after")
		})
	}
}

func TestStartBadBinary(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02 not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for _, tc := range []struct {
		binary string
		want   error
		msg    string
	}{
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "no such file"},
		{notExec, fs.ErrPermission, "permission denied"},
		{garbage, nil, "exec format error"},
		{dir, fs.ErrPermission, "permission denied"},
	} {
		s, err := Start(context.Background(), tc.binary, nil, nil, nil)
		if err == nil {
			s.Abort()
			t.Errorf("%s: started", tc.binary)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.binary) {
			t.Errorf("%s: error %q, want %v containing %q and the path", tc.binary, err, tc.want, tc.msg)
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after", before, after)
	}
}

// TestNoDescriptorLeaks runs handoffs to the end, both ways, and counts
// this process's descriptors.
func TestNoDescriptorLeaks(t *testing.T) {
	var recs []Record
	for i := range 10 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
		t.Cleanup(func() { a.Close(); b.Close() })
		recs = append(recs, Record{ID: uint64(i), Data: []byte("x"), Conn: b})
	}
	cycle := func(commit bool) {
		s, err := Start(context.Background(), testBinary(t), []string{childArg, "ready"}, os.Stderr, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Send(ctx, Header{}, nil, recs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := s.Commit(); err != nil {
				t.Fatal(err)
			}
			<-s.exited
		}
		s.Abort()
		checkReaped(t, s.Pid())
	}
	cycle(false) // warm up: the runtime opens some descriptors once
	before := openFDs(t)
	for i := range 20 {
		cycle(i%4 == 3)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after", before, after)
	}
}

// TestPredecessorDeath covers the end of the handoff seen from the
// successor: a predecessor that dies after READY leaves the successor in
// charge; one that closes the handoff while alive has aborted it.
func TestPredecessorDeath(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"middle", "orphan: err=<nil> died=true"},
		{"middle-close", "orphan: err=migrate: handoff aborted: predecessor closed the handoff before COMMIT died=false"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(testBinary(t), childArg, tc.mode)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// EOF once both the middle process and its successor, which
			// shares the pipe, are done.
			b, err := io.ReadAll(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExitingStat reads the states of /proc/PID/stat that tell a
// predecessor that is exiting from one that is alive.
func TestExitingStat(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want bool
	}{
		{"42 (translucent) S 1 42 42 0 -1 4194560 120 0 0 0", false},
		{"42 (translucent) T 1 42 42 0 -1 4194560 120 0 0 0", false}, // stopped: it can come back
		{"42 (translucent) S 1 42 42 0 -1 4194564 120 0 0 0", true},  // PF_EXITING
		{"42 (translucent) Z 1 42 42 0 -1 4227084 120 0 0 0", true},
		{"42 (translucent) X 1 42 42 0 -1 4194560 120 0 0 0", true},
		{"42 (a) b) S 1 42 42 0 -1 4194564 120 0 0 0", true}, // a name with ") " in it
		{"42 (a) b) S 1 42 42 0 -1 4194560 120 0 0 0", false},
		{"42 (translucent) S 1", false},
		{"", false},
	} {
		if got := exitingStat([]byte(tc.stat)); got != tc.want {
			t.Errorf("exitingStat(%q) = %v, want %v", tc.stat, got, tc.want)
		}
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if exitingStat(self) {
		t.Errorf("this process is taken for exiting: %s", self)
	}
}

func TestInheritedWithoutHandoff(t *testing.T) {
	t.Setenv(EnvHandoffFD, "")
	os.Unsetenv(EnvHandoffFD)
	if p, err := Inherited(); p != nil || err != nil {
		t.Fatalf("Inherited() = %v, %v; want nil, nil", p, err)
	}
	for _, v := range []string{"x", "1", "999"} {
		t.Setenv(EnvHandoffFD, v)
		if p, err := Inherited(); p != nil || err == nil {
			t.Errorf("%s=%s: Inherited() = %v, %v; want an error", EnvHandoffFD, v, p, err)
		}
		if _, set := os.LookupEnv(EnvHandoffFD); set {
			t.Errorf("%s=%s: still set", EnvHandoffFD, v)
		}
	}
	// A descriptor that is open but not a SEQPACKET socket.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv(EnvHandoffFD, strconv.Itoa(int(f.Fd())))
	if _, err := Inherited(); err == nil || !strings.Contains(err.Error(), "not a SOCK_SEQPACKET socket") {
		t.Errorf("/dev/null: %v", err)
	}
}

// TestAbortUnblocksWaitReady aborts from another goroutine while the
// parent waits.
func TestAbortUnblocksWaitReady(t *testing.T) {
	s := startChild(t, "hang")
	if err := s.Send(context.Background(), Header{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.WaitReady(context.Background())
		errc <- err
	}()
	s.Abort()
	if err := <-errc; !errors.Is(err, ErrAborted) && !errors.Is(err, ErrSuccessorExited) {
		t.Errorf("WaitReady: %v", err)
	}
	checkReaped(t, s.Pid())
}

// TestSendTimesOut sends more than the socket holds to a successor that
// never reads: ctx ends Send.
func TestSendTimesOut(t *testing.T) {
	s := startChild(t, "deaf")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, Header{}, nil, []Record{{ID: 1, Data: make([]byte, 4<<20)}})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "sending sessions 0 to 0") {
		t.Errorf("Send: %v", err)
	}
	s.Abort()
	checkReaped(t, s.Pid())
}

// TestHelloReport: a successor's HELLO carries what it holds already to a
// predecessor that reads it (EnvHandoffHello), and nothing to one that
// predates it, which would refuse a HELLO that is not empty.
func TestHelloReport(t *testing.T) {
	s := startChild(t, "hello")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	report, err := s.WaitStarted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(report) != helloReport {
		t.Errorf("WaitStarted = %q, want %q", report, helloReport)
	}

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		defer c.Close()
	}
	old := newPredecessor(conns[0]) // no EnvHandoffHello: an older predecessor
	if err := old.Hello([]byte(helloReport)); err != nil {
		t.Fatal(err)
	}
	kind, payload, _, err := newChannel(conns[1]).readMessage()
	if err != nil || kind != kindHello || len(payload) != 0 {
		t.Errorf("an older predecessor got %q %q, %v; want an empty HELLO", kind, payload, err)
	}
}

// TestUpdate: before the header, a predecessor may send UPDATEs, each
// answered by the successor's handler, whatever their size; one over the
// limit is refused before it is sent, and a successor without a handler
// refuses the first with a protocol error, which ends the handoff.
func TestUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	s := startChild(t, "update")
	if _, err := s.Update(ctx, []byte("early")); err == nil {
		t.Error("Update before WaitStarted succeeded")
	}
	if _, err := s.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*maxPacket)/16+5) // four packets
	for _, data := range [][]byte{[]byte("a"), big, {}} {
		answer, err := s.Update(ctx, data)
		if err != nil {
			t.Fatalf("Update(%d bytes): %v", len(data), err)
		}
		if want := append([]byte("took "), data...); !bytes.Equal(answer, want) {
			t.Errorf("Update(%d bytes) answered %d bytes, want %d", len(data), len(answer), len(want))
		}
	}
	if _, err := s.Update(ctx, make([]byte, MaxUpdateSize+1)); err == nil {
		t.Error("an update over MaxUpdateSize was sent")
	}
	// The handoff goes on as usual after them.
	if err := s.Send(ctx, Header{Meta: []byte("m")}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}

	deaf := startChild(t, "update-unhandled")
	if _, err := deaf.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := deaf.Update(ctx, []byte("a"))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "kind 'U' before the header") {
		t.Errorf("Update to a successor without a handler: %v; want it refused with a protocol error", err)
	}
}
