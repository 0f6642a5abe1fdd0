package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"

	"translucent/serverproc"
)

// The SSH way in, driven with the real OpenSSH client: serve --ssh starts
// a relay process that terminates SSH and relays each session to the
// front over a Unix socket, which a migration hands over like a TCP one.

// sshServer is a server started with --ssh, with testUser's
// authorized_keys holding the key in key.
type sshServer struct {
	*server
	sshPort string
	key     string // the private key file of a key testUser may log in with
	home    string // --home
	relay   int    // the relay's pid
}

func startSSHServer(t testing.TB, args ...string) *sshServer {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skipf("ssh not installed (.ci/run installs openssh-client): %v", err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	key := newSSHKey(t, dir, "key")
	if err := os.MkdirAll(filepath.Join(home, testUser), 0o700); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, testUser, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	// A private directory of the test's own: the relay's socket and host
	// key go there.
	env := []string{"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run")}
	s := &sshServer{key: key, home: home}
	// Registered before the server's own cleanup, so run after it: the
	// server's clean stop (its last successor's) must have ended the relay.
	t.Cleanup(func() {
		if s.relay != 0 && !waitGone(s.relay) {
			syscall.Kill(s.relay, syscall.SIGKILL)
			t.Errorf("the ssh relay %d outlived the server", s.relay)
		}
	})
	s.server = startServerEnv(t, env, append([]string{"--ssh", "127.0.0.1:0", "--home", home}, args...)...)
	m := regexp.MustCompile(`msg="ssh listening" .*addr=127\.0\.0\.1:(\d+) .*relay=(\d+)`).FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("no ssh address in the log:\n%s", s.log())
	}
	s.sshPort = m[1]
	s.relay, _ = strconv.Atoi(m[2])
	return s
}

// newSSHKey makes an ed25519 key pair in dir, name and name.pub.
func newSSHKey(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return path
}

// sshArgs are the OpenSSH client's arguments to reach s as testUser with
// key ("": no key, passwords only), then extra.
func (s *sshServer) sshArgs(key string, extra ...string) []string {
	args := []string{"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-p", s.sshPort}
	if key != "" {
		args = append(args, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey")
	} else {
		args = append(args, "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no")
	}
	return append(append(args, extra...), testUser+"@127.0.0.1")
}

// askpass writes a script that answers ssh's password prompt with
// password, and sets the environment that makes ssh use it.
func askpass(t *testing.T, password string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' '"+password+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_ASKPASS", script)
	t.Setenv("SSH_ASKPASS_REQUIRE", "force")
}

// wide is a value of 110 characters: a 100-column window wraps it, a
// 120-column one does not.
const wide = `strings.Repeat("w", 108)`

func TestSSHMigrate(t *testing.T) {
	s := startSSHServer(t)
	tr, f := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr.expect(t, "pid "+strconv.Itoa(s.pid()))
	tr.expect(t, ">>> ")
	for _, line := range []string{"x := 41", `import "sys"`, `import "strings"`} {
		typeLine(t, f, line)
		tr.expect(t, ">>> ")
	}
	typeLine(t, f, "sys.Pid")
	tr.expect(t, "\n"+strconv.Itoa(s.pid())+"\r\n>>> ")
	typeLine(t, f, wide)
	if got := tr.expect(t, ">>> "); !strings.Contains(got, "w\r\nw") {
		t.Errorf("in a 100-column window, a 110-character value was not wrapped: %q", got)
	}

	out, err := migrateTo(t, s.server, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not exit")
	}
	// The same SSH connection, the new process, the same namespace.
	typeLine(t, f, "x + 1")
	tr.expect(t, "\n42\r\n>>> ")
	typeLine(t, f, "sys.Pid")
	tr.expect(t, "\n"+strconv.Itoa(pid)+"\r\n>>> ")
	typeLine(t, f, "sys.Version")
	tr.expect(t, testVersionV2)
	tr.expect(t, ">>> ")
	if !strings.Contains(s.log(), `msg="ssh relay: the predecessor's goes on" pid=`+strconv.Itoa(pid)+" relay="+strconv.Itoa(s.relay)) {
		t.Errorf("the successor did not take the relay over:\n%s", s.log())
	}
	if n := strings.Count(s.log(), `msg="ssh relay started"`); n != 1 {
		t.Errorf("%d relays started, want 1", n)
	}
	relayScheduledWith(t, s.relay, pid)
	if status, err := ctl(t, s.server, "status"); err != nil || !strings.Contains(status, "ssh relay pid "+strconv.Itoa(s.relay)+", ssh 127.0.0.1:"+s.sshPort) {
		t.Errorf("status does not name the relay: %v\n%s", err, status)
	}

	// A resize reaches the new process: the value fits on one line now.
	if err := pty.Setsize(f, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	wantOneLine := "\n\"" + strings.Repeat("w", 108) + "\"\r\n>>> "
	deadline := time.Now().Add(waitFor)
	for { // the client sends the new size when it notices SIGWINCH
		typeLine(t, f, wide)
		if got := tr.expect(t, ">>> "); strings.Contains(got+">>> ", wantOneLine) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("after a resize to 120 columns, the value is still wrapped: %q", got)
		}
	}

	// A new SSH connection reaches the new process.
	tr2, _ := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr2.expect(t, "pid "+strconv.Itoa(pid))
	tr2.expect(t, ">>> ")

	typeLine(t, f, ":quit")
	tr.expect(t, "bye")
	tr.expectClosed(t)
}

// TestSSHIncremental: an incremental migration leaves the SSH session in
// the old process, with the relay going on under the new one; moving the
// session (migrate --session) keeps the SSH connection.
func TestSSHIncremental(t *testing.T) {
	s := startSSHServer(t)
	tr, f := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr.expect(t, ">>> ")
	for _, line := range []string{"x := 41", `import "sys"`} {
		typeLine(t, f, line)
		tr.expect(t, ">>> ")
	}
	typeLine(t, f, ":who")
	m := regexp.MustCompile(`(?m)^(\d+) .*\(you\)`).FindStringSubmatch(tr.expect(t, ">>> "))
	if m == nil {
		t.Fatal(":who does not show this session")
	}
	out, err := ctl(t, s.server, "migrate", "--incremental", "--binary", binaryV2)
	if err != nil {
		t.Fatalf("migrate --incremental: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	t.Cleanup(func() { stopPid(t, pid) })
	typeLine(t, f, "sys.Pid")
	tr.expect(t, "\n"+strconv.Itoa(s.pid())+"\r\n>>> ")
	if out, err := ctl(t, s.server, "migrate", "--session", m[1]); err != nil {
		t.Fatalf("migrate --session %s: %v\n%s", m[1], err, out)
	}
	typeLine(t, f, "x + 1")
	tr.expect(t, "\n42\r\n>>> ")
	typeLine(t, f, "sys.Pid")
	tr.expect(t, "\n"+strconv.Itoa(pid)+"\r\n>>> ")
	select {
	case <-s.exited:
	case <-time.After(waitFor):
		t.Fatal("the old process did not exit after its last session left")
	}
	// New SSH logins reach the new process, through the same relay.
	tr2, _ := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr2.expect(t, "pid "+strconv.Itoa(pid))
	if n := strings.Count(s.log(), `msg="ssh relay started"`); n != 1 {
		t.Errorf("%d relays started, want 1", n)
	}
}

// TestSSHPassword: ssh asks for a password (SSH_ASKPASS here); the front
// checks it as a telnet login's, with the same log line for a wrong one.
func TestSSHPassword(t *testing.T) {
	s := startSSHServer(t)
	askpass(t, "not the password")
	out, err := exec.Command("ssh", s.sshArgs("", "-T", "-o", "NumberOfPasswordPrompts=2")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("a wrong password: %v\n%s", err, out)
	}
	if n := strings.Count(s.log(), `msg="wrong password" pid=`+strconv.Itoa(s.pid())+" via=ssh addr=127.0.0.1:"); n != 2 {
		t.Errorf("%d wrong passwords logged by the front, want 2:\n%s", n, s.log())
	}
	if strings.Contains(s.log(), "not the password") {
		t.Errorf("a password appears in the log")
	}

	askpass(t, testPassword)
	tr, f := ptyClient(t, "ssh", s.sshArgs("", "-tt")...)
	tr.expect(t, "pid "+strconv.Itoa(s.pid()))
	tr.expect(t, ">>> ")
	typeLine(t, f, ":who")
	tr.expect(t, testUser)
	tr.expect(t, ">>> ")
	typeLine(t, f, ":quit")
	tr.expect(t, "bye")
}

// TestSSHRefusals: a key that is not the user's, a command (exec), a
// channel other than a session, and a client that leaves mid-evaluation.
func TestSSHRefusals(t *testing.T) {
	s := startSSHServer(t)
	other := newSSHKey(t, t.TempDir(), "other")
	if out, err := exec.Command("ssh", s.sshArgs(other, "-T")...).CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("a key not in authorized_keys: %v\n%s", err, out)
	}
	out, err := exec.Command("ssh", append(s.sshArgs(s.key, "-T"), "ls /")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "runs no commands") {
		t.Errorf("exec: %v\n%s", err, out)
	}
	out, err = exec.Command("ssh", s.sshArgs(s.key, "-W", "127.0.0.1:"+s.port())...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "forwarding failed") {
		t.Errorf("a forwarding channel: %v\n%s", err, out)
	}

	// A client that leaves while its line runs: the session ends, its
	// evaluation with it, and others go on.
	cmd := exec.Command("ssh", s.sshArgs(s.key, "-tt")...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := newTranscript(f, nil)
	tr.expect(t, ">>> ")
	typeLine(t, f, "for {}")
	tr.expect(t, "for {}")
	cmd.Process.Kill()
	cmd.Wait()
	c := loggedIn(t, s.server)
	deadline := time.Now().Add(waitFor)
	for strings.Count(c.eval(":who"), testUser) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the session of the client that left is still there:\n%s", c.eval(":who"))
		}
		time.Sleep(50 * time.Millisecond) // polling :who, the only view a client has
	}
	if got := c.eval("2 + 2"); got != "4" {
		t.Errorf("after an SSH client left mid-evaluation: %q", got)
	}
}

// TestSSHNoTerminal: ssh -T, as a script runs it: no pty, so line mode,
// as nc gets (the server neither echoes nor edits).
func TestSSHNoTerminal(t *testing.T) {
	s := startSSHServer(t)
	cmd := exec.Command("ssh", s.sshArgs(s.key, "-T")...)
	stdin, tr := piped(t, cmd, nil)
	tr.expect(t, ">>> ")
	io.WriteString(stdin, "6 * 7\n")
	if got := tr.expect(t, ">>> "); got != "42\r\n>>> " {
		t.Errorf("6 * 7 in line mode gave %q", got)
	}
	io.WriteString(stdin, ":quit\n")
	tr.expect(t, "bye")
	stdin.Close()
	tr.expectClosed(t)
}

// TestSSHScript: a script piped into ssh -T runs to its end, the line
// running when the client's input ends included, and its last line even
// without a newline; then the session logs out and ssh exits 0.
func TestSSHScript(t *testing.T) {
	s := startSSHServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", s.sshArgs(s.key, "-T")...)
	cmd.Stdin = strings.NewReader("import \"time\"\ntime.Sleep(300 * time.Millisecond); x := 6\nx * 7\n\"last\" + \"line\"")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ssh -T < script: %v\n%s", err, out)
	}
	for _, want := range []string{"42", `"lastline"`, "bye"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ssh -T < script printed %q, want %s in it", out, want)
		}
	}
}

// TestSSHRelayRestart: a relay that dies is started again by the front,
// on the same port; its connections ended with it.
func TestSSHRelayRestart(t *testing.T) {
	s := startSSHServer(t)
	tr, _ := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr.expect(t, ">>> ")
	syscall.Kill(s.relay, syscall.SIGKILL)
	tr.expectClosed(t)
	re := regexp.MustCompile(`msg="ssh relay started" pid=\d+ relay=(\d+)`)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	started := 0
	again, err := s.chain.Wait(ctx, func(l serverproc.Line) bool {
		if re.MatchString(l.Text) {
			started++
		}
		return started == 2
	})
	if err != nil {
		t.Fatalf("the relay was not started again: %v", err)
	}
	s.relay, _ = strconv.Atoi(re.FindStringSubmatch(again.Text)[1])
	tr2, _ := ptyClient(t, "ssh", s.sshArgs(s.key, "-tt")...)
	tr2.expect(t, "pid "+strconv.Itoa(s.pid()))
	tr2.expect(t, ">>> ")
	relayScheduledWith(t, s.relay, s.pid())

	// The host key was made by the first relay (0600) and kept by the second.
	keys := regexp.MustCompile(`msg="ssh host key" ssh_relay=\d+ file=(\S+) created=(\w+) fingerprint=(\S+)`).FindAllStringSubmatch(s.log(), -1)
	if len(keys) != 2 || keys[0][2] != "true" || keys[1][2] != "false" || keys[0][3] != keys[1][3] {
		t.Fatalf("host keys logged: %q", keys)
	}
	if fi, err := os.Stat(keys[0][1]); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key file has mode %v, want 0600", fi.Mode())
	}
}

// relayScheduledWith checks that the relay is scheduled as the server's
// own processes are: in front's session, which the kernel schedules as one
// group (autogroup), not in a session of its own, where it waited far
// longer for a CPU than the front while a migration's new process started;
// and at nice 0 on every thread, not at the nice 19 of the front's idle
// work or of a front that has handed over.
func relayScheduledWith(t *testing.T, relay, front int) {
	t.Helper()
	// After the command name, in parentheses: state ppid pgrp session
	// tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
	// cstime priority nice …
	stat := func(pid, tid int) []string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
		if err != nil {
			return nil // a thread that has just ended
		}
		return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	}
	r, f := stat(relay, relay), stat(front, front)
	if r == nil || f == nil {
		t.Fatalf("the relay %d or the front %d is gone", relay, front)
	}
	pgrp, session, frontSession := r[2], r[3], f[3]
	if session != frontSession {
		t.Errorf("the relay %d is in session %s, the front %d in %s: the kernel schedules them apart", relay, session, front, frontSession)
	}
	if pgrp != strconv.Itoa(relay) {
		t.Errorf("the relay %d is in process group %s, not one of its own: a terminal's Ctrl-C would reach it", relay, pgrp)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", relay))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if f := stat(relay, tid); f != nil && f[16] != "0" {
			t.Errorf("the relay's thread %d is at nice %s, want 0", tid, f[16])
		}
	}
}

// echoes types b.N keystrokes (a character, a backspace, in turn) on w
// and waits for each one's echo on tr.
func echoes(b *testing.B, w io.Writer, tr *transcript) {
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		key, echo := "a", "a"
		if i%2 == 1 {
			key, echo = "\x7f", "\x1b[D \x1b[D" // x/term erases the character
		}
		start := time.Now()
		if _, err := io.WriteString(w, key); err != nil {
			b.Fatal(err)
		}
		tr.expect(b, echo)
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// sshShell opens an SSH session with a pty and a shell on s, logged in
// with s.key, and returns its input and output.
func sshShell(b *testing.B, s *sshServer) (io.Writer, io.Reader) {
	pem, err := os.ReadFile(s.key)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		b.Fatal(err)
	}
	client, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", s.sshPort), &ssh.ClientConfig{
		User:            testUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a server of the test's own
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	sess, err := client.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 30, 100, nil); err != nil {
		b.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		b.Fatal(fmt.Errorf("shell: %w", err))
	}
	return in, out
}

// BenchmarkMigrationPauseSeen types keystrokes through telnet and through
// SSH, one after the other's echo, while the server migrates (to the
// other build, each iteration), and reports the longest echo each client
// saw over the migrations: the pause as a user feels it. Run it with
// -benchtime=5x.
func BenchmarkMigrationPauseSeen(b *testing.B) {
	s := startSSHServer(b)
	c := loggedIn(b, s.server)
	in, out := sshShell(b, s)
	tr := newTranscript(out, nil)
	tr.expect(b, ">>> ")
	var telnetMax, sshMax time.Duration
	targets := []string{binaryV2, binary}
	for i := range b.N {
		stop := make(chan struct{})
		telnetSaw, sshSaw := make(chan time.Duration, 1), make(chan time.Duration, 1)
		go func() { telnetSaw <- typeUntil(stop, c.conn, c.transcript) }() // ends with stop
		go func() { sshSaw <- typeUntil(stop, in, tr) }()                  // ends with stop
		time.Sleep(100 * time.Millisecond)                                 // not a wait: keystrokes before the migration, as a user types on
		out, err := exec.Command(binary, "migrate", "--control", s.control, "--binary", targets[i%2]).CombinedOutput()
		if err != nil {
			close(stop)
			b.Fatalf("migrate: %v\n%s", err, out)
		}
		pid := newPid(b, string(out))
		b.Cleanup(func() { // the last successor's: the others are gone
			syscall.Kill(pid, syscall.SIGTERM)
			waitGone(pid)
		})
		time.Sleep(100 * time.Millisecond) // not a wait: keystrokes after it too
		close(stop)
		t, sh := <-telnetSaw, <-sshSaw
		if t < 0 || sh < 0 {
			b.Fatalf("an echo did not come (telnet %v, ssh %v)", t, sh)
		}
		telnetMax, sshMax = max(telnetMax, t), max(sshMax, sh)
	}
	b.ReportMetric(float64(telnetMax.Microseconds())/1000, "telnet-max-ms")
	b.ReportMetric(float64(sshMax.Microseconds())/1000, "ssh-max-ms")
}

// typeUntil types keystrokes on w (a character, a backspace), each after
// the previous one's echo on tr, until stop, and returns the longest
// wait for an echo; -1 if one did not come.
func typeUntil(stop <-chan struct{}, w io.Writer, tr *transcript) time.Duration {
	var longest time.Duration
	for i := 0; ; i++ {
		select {
		case <-stop:
			return longest
		default:
		}
		key, echo := "a", "a"
		if i%2 == 1 {
			key, echo = "\x7f", "\x1b[D \x1b[D"
		}
		start := time.Now()
		if _, err := io.WriteString(w, key); err != nil {
			return -1
		}
		if _, ok := tr.wait(func(text string) int {
			if j := strings.Index(text, echo); j >= 0 {
				return j + len(echo)
			}
			return -1
		}); !ok {
			return -1
		}
		longest = max(longest, time.Since(start))
	}
}
