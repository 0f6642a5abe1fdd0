package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testTab drives Tab completion through a real telnet program: a
// variable, an import path, and a package's members listed on a second
// Tab, with the line drawn again beneath the list.
func testTab(t *testing.T, tr *transcript, f *os.File) {
	t.Helper()
	tr.expect(t, "username: ")
	typeLine(t, f, testUser)
	tr.expect(t, "password: ")
	typeLine(t, f, testPassword)
	tr.expect(t, ">>> ")
	typeLine(t, f, "counter := 41")
	tr.expect(t, ">>> ")
	io.WriteString(f, "cou\t + 1\r")
	tr.expect(t, "42\r\n>>> ")
	io.WriteString(f, "import \"strin\t\r")
	tr.expect(t, `strings"`)
	tr.expect(t, ">>> ")
	typeLine(t, f, ":imports")
	tr.expect(t, `"strings"`)
	tr.expect(t, ">>> ")
	io.WriteString(f, "strings.Has\t\t")
	tr.expect(t, "HasPrefix  HasSuffix")
	tr.expect(t, ">>> strings.Has")
	io.WriteString(f, "Suf\t(\"abc\", \"bc\")\r")
	tr.expect(t, "true\r\n>>> ")
	typeLine(t, f, ":quit")
	tr.wait(func(string) int { return -1 }) // until the client exits
}

func TestTabInetutilsTelnet(t *testing.T) {
	s := startServer(t)
	tr, f := ptyClient(t, "telnet", s.host(), s.port())
	testTab(t, tr, f)
}

func TestTabBusyboxTelnet(t *testing.T) {
	s := startServer(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skipf("busybox not installed (.ci/run installs it)")
	}
	tr, f := ptyClient(t, "busybox", "telnet", s.host(), s.port())
	testTab(t, tr, f)
}

// TestHistoryAndTranscriptAcrossMigration: a user's history survives a
// migration and a logout; the session's transcript goes on in the same
// file in the new process.
func TestHistoryAndTranscriptAcrossMigration(t *testing.T) {
	home, transcripts := t.TempDir(), filepath.Join(t.TempDir(), "transcripts")
	s := startServer(t, "--home", home, "--transcripts", transcripts)
	c := loggedIn(t, s)
	c.eval("x := 41")
	if got := c.eval("x + 1"); got != "42" {
		t.Fatalf("x + 1 = %q", got)
	}
	if out, err := migrateTo(t, s, binary); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if got := c.eval(":history"); !strings.Contains(got, "x := 41") || !strings.Contains(got, "x + 1") {
		t.Errorf(":history after a migration: %q", got)
	}
	c.eval("y := x * 2")
	c.send(":quit\r\n")
	c.expectClosed(t)

	c = loggedIn(t, s)
	got := c.eval(":history")
	for _, want := range []string{"x := 41", "x + 1", ":history", "y := x * 2"} {
		if !strings.Contains(got, want) {
			t.Errorf(":history at the next login lacks %q: %q", want, got)
		}
	}
	files, _ := filepath.Glob(filepath.Join(transcripts, "*.log"))
	if len(files) != 2 {
		t.Fatalf("transcripts %v, want one per session", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "x := 41") { // the two started in the same second
		b, _ = os.ReadFile(files[1])
	}
	for _, want := range []string{"in  >>> x + 1\n", "out 42\n", "in  >>> y := x * 2\n", "out bye\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the first session's transcript lacks %q:\n%s", want, b)
		}
	}
}
