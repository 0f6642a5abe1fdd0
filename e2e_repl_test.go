package main

import (
	"io"
	"os"
	"os/exec"
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
