package main

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
)

func TestWrongPasswords(t *testing.T) {
	s := startServer(t)
	c := dial(t, s, false)
	for i := 0; i < 3; i++ {
		c.login(testUser, "not the password")
		c.expect(t, "Login incorrect")
	}
	c.expect(t, "Too many failed logins")
	c.expectClosed(t)

	// An unknown user is refused the same way.
	c = dial(t, s, false)
	c.login("mallory", testPassword)
	c.expect(t, "Login incorrect")
	if strings.Contains(s.log(), "not the password") {
		t.Errorf("a password appears in the server log")
	}
}

func TestLoginTimeout(t *testing.T) {
	s := startServer(t, "--login-timeout", "300ms")
	c := dial(t, s, false)
	c.expect(t, "username: ")
	c.expect(t, "login timed out")
	c.expectClosed(t)
}

func TestTooManySessions(t *testing.T) {
	s := startServer(t, "--max-sessions", "1")
	c := loggedIn(t, s)
	c2 := dial(t, s, true)
	c2.expect(t, "too many sessions (limit 1)")
	c2.expectClosed(t)
	if got := c.eval("1"); got != "1" {
		t.Errorf("first session after the refusal: %q", got)
	}
}

// TestRawClient is a client that never answers negotiation (nc, a script):
// it gets plain line mode, without server echo, and LF line ends work.
func TestRawClient(t *testing.T) {
	s := startServer(t)
	c := dial(t, s, true)
	c.loginLineMode(testUser, testPassword)
	c.send("6 * 7\n")
	got := c.expect(t, ">>> ")
	if strings.Contains(got, "6 * 7") {
		t.Errorf("server echoed a line-mode client's input: %q", got)
	}
	if !strings.Contains(got, "42\r\n") {
		t.Errorf("6 * 7 gave %q", got)
	}
	// A line over the limit is refused whole; the session goes on.
	c.send(strings.Repeat("1", 70<<10) + "\n")
	c.expect(t, "line too long")
	c.expect(t, ">>> ")
	c.send("1 +\n")
	c.expect(t, "... ")
	c.send("2\n")
	c.expect(t, "3\r\n>>> ")
}

// TestProtocolEdges sends what a broken or hostile client might.
func TestProtocolEdges(t *testing.T) {
	s := startServer(t)
	c := loggedIn(t, s)

	// Are you there?
	c.send("\xff\xf6")
	c.expect(t, "[translucent: yes]")
	// Garbage: invalid UTF-8, an unknown telnet command, NUL, a bare CR.
	c.send("\xfe\xc3 1 + \xff\xf1\x00 2\r")
	c.expect(t, "3\r\n>>> ")
	// CR NUL, and a negotiation for an option nobody supports, answered once.
	c.send("\xff\xfd\x2a" + "40 + 2\r\x00")
	c.expect(t, "42\r\n>>> ")
	// An over-long subnegotiation is dropped without harm.
	c.send("\xff\xfa\x18" + strings.Repeat("x", 100000) + "\xff\xf0" + "5\r\n")
	c.expect(t, "5\r\n>>> ")
	// IAC EL erases the line typed so far, IAC EC a character.
	c.send("junk\xff\xf8" + "77\xff\xf7" + "\r\n")
	c.expect(t, "7\r\n>>> ")
	// A line beyond the editor's limit is refused, not truncated.
	c.send(strings.Repeat("9", 5000) + "\r\n")
	c.expect(t, "line too long")
	c.expect(t, ">>> ")

	// A client that goes away mid-evaluation harms nobody.
	c.send("for {}\r\n")
	c.expect(t, "for {}")
	c.conn.Close()
	c2 := loggedIn(t, s)
	if got := c2.eval("2 + 2"); got != "4" {
		t.Errorf("after a client left mid-evaluation: %q", got)
	}
}

// ptyClient runs a terminal program under a pseudo-terminal.
func ptyClient(t *testing.T, name string, args ...string) (*transcript, *os.File) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (.ci/run installs it): %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
	})
	return newTranscript(f, nil), f
}

func typeLine(t *testing.T, f io.Writer, line string) {
	t.Helper()
	if _, err := io.WriteString(f, line+"\r"); err != nil {
		t.Fatal(err)
	}
}

// testTerminalClient logs in with a real telnet program and evaluates.
func testTerminalClient(t *testing.T, s *server, tr *transcript, f *os.File) {
	tr.expect(t, "username: ")
	typeLine(t, f, testUser)
	tr.expect(t, "password: ")
	typeLine(t, f, testPassword)
	got := tr.expect(t, ">>> ")
	if strings.Contains(got, testPassword) {
		t.Errorf("password echoed: %q", got)
	}
	typeLine(t, f, `import "os"`)
	tr.expect(t, ">>> ")
	typeLine(t, f, "os.Getppid()") // the session's worker is the server's child
	tr.expect(t, strconv.Itoa(s.pid()))
	tr.expect(t, ">>> ")
	// History: Up arrow recalls the last line.
	io.WriteString(f, "\x1b[A\r")
	tr.expect(t, strconv.Itoa(s.pid()))
	tr.expect(t, ">>> ")
	// Home and End as tmux, screen, PuTTY, rxvt and xterm's application
	// mode send them: "23", Home, "1", End, "4" is 1234.
	for _, k := range [][2]string{{"\x1b[1~", "\x1b[4~"}, {"\x1b[7~", "\x1b[8~"}, {"\x1bOH", "\x1bOF"}, {"\x1b[H", "\x1b[F"}} {
		io.WriteString(f, "23"+k[0]+"1"+k[1]+"4\r")
		tr.expect(t, "\n1234\r\n>>> ")
	}
	// Up recalls a multi-line input as the block it was: its first line,
	// then each Enter brings the next at the continuation prompt.
	for _, l := range []string{"s := 0", "for i := 1; i <= 3; i++ {", "s += i", "}"} {
		typeLine(t, f, l)
	}
	tr.expect(t, ">>> ")
	io.WriteString(f, "\x1b[A")
	tr.expect(t, "for i := 1; i <= 3; i++ {")
	io.WriteString(f, "\r")
	tr.expect(t, "... s += i")
	io.WriteString(f, "\x15s += 10 * i\r") // the body edited: Ctrl-U, retyped
	tr.expect(t, "... }")
	io.WriteString(f, "\r")
	tr.expect(t, ">>> ")
	typeLine(t, f, "s")
	tr.expect(t, "\n66\r\n>>> ")
	typeLine(t, f, "z := 6")
	tr.expect(t, ">>> ")
	typeLine(t, f, "z * 7")
	tr.expect(t, "42")
	tr.expect(t, ">>> ")
	// _ is the last value printed.
	typeLine(t, f, "_ + 1")
	tr.expect(t, "\n43\r\n>>> ")
	typeLine(t, f, "z = _")
	tr.expect(t, ">>> ")
	typeLine(t, f, "_ * 2")
	tr.expect(t, "\n86\r\n>>> ")
	// Ctrl-C interrupts a loop.
	typeLine(t, f, "for {}")
	io.WriteString(f, "\x03")
	tr.expect(t, "interrupted")
	tr.expect(t, ">>> ")
	typeLine(t, f, ":quit")
	tr.wait(func(string) int { return -1 }) // until the client exits
}

func TestInetutilsTelnet(t *testing.T) {
	s := startServer(t)
	tr, f := ptyClient(t, "telnet", s.host(), s.port())
	testTerminalClient(t, s, tr, f)
}

func TestBusyboxTelnet(t *testing.T) {
	s := startServer(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skipf("busybox not installed (.ci/run installs it)")
	}
	tr, f := ptyClient(t, "busybox", "telnet", s.host(), s.port())
	testTerminalClient(t, s, tr, f)
}

// piped starts cmd, a client on pipes, until the test ends, and returns
// its standard input and a transcript of its output (filtered by filter).
func piped(t *testing.T, cmd *exec.Cmd, filter func([]byte) []byte) (io.WriteCloser, *transcript) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return stdin, newTranscript(stdout, filter)
}

// TestNetcat drives the server with nc over pipes, as a script would.
func TestNetcat(t *testing.T) {
	s := startServer(t)
	path, err := exec.LookPath("nc")
	if err != nil {
		t.Skipf("nc not installed (.ci/run installs it)")
	}
	cmd := exec.Command(path, s.host(), s.port())
	stdin, tr := piped(t, cmd, stripIAC)
	tr.expect(t, "username: ")
	io.WriteString(stdin, testUser+"\n")
	tr.expect(t, "password: ")
	io.WriteString(stdin, testPassword+"\n")
	tr.expect(t, ">>> ")
	io.WriteString(stdin, "100 / 4\n")
	tr.expect(t, "25\r\n>>> ")
	io.WriteString(stdin, ":quit\n")
	tr.expect(t, "bye")
	stdin.Close()
	tr.expectClosed(t)
}
