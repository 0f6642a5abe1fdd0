package main

import (
	"io"
	"strings"
	"testing"
)

// TestLastValueAndBlockAcrossMigration, over inetutils telnet: `_` holds the
// last value printed, with its type, in the process that printed it (a
// migration does not carry it: see namespace/snapshot.go), and a
// multi-line block comes back from history as the block it was after the
// server handed itself (and the session's namespace and history) to a new
// process; and the block is whole in the history at the next login.
func TestLastValueAndBlockAcrossMigration(t *testing.T) {
	s := startServer(t, "--home", t.TempDir())
	tr, f := ptyClient(t, "telnet", s.host(), s.port())
	tr.expect(t, "username: ")
	typeLine(t, f, testUser)
	tr.expect(t, "password: ")
	typeLine(t, f, testPassword)
	tr.expect(t, ">>> ")
	for _, l := range [][2]string{{"type Celsius float64", ">>> "}, {"t := Celsius(21.5)", ">>> "}, {"n := 0", ">>> "},
		{"for i := 0; i < 4; i++ {", "... "}, {"n += i", "... "}, {"}", ">>> "}} {
		typeLine(t, f, l[0])
		tr.expect(t, l[1])
	}
	typeLine(t, f, "t * 2")
	tr.expect(t, "Celsius(43)\r\n>>> ")

	if out, err := migrateTo(t, s, binary); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	typeLine(t, f, "_")
	tr.expect(t, "_ has no value yet")
	tr.expect(t, ">>> ")
	typeLine(t, f, "t * 2")
	tr.expect(t, "Celsius(43)\r\n>>> ")
	typeLine(t, f, "_ + 1")
	tr.expect(t, "Celsius(44)\r\n>>> ")
	typeLine(t, f, ":vars")
	got := tr.expect(t, ">>> ")
	if want := "t  Celsius"; !strings.Contains(got, want) || strings.Contains(got, "__tr_") {
		t.Errorf(":vars shows %q: want %q and nothing of the server's own", got, want)
	}
	// Up: :vars, _ + 1, t * 2, _, t * 2; the sixth is the loop.
	io.WriteString(f, "\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A")
	tr.expect(t, "for i := 0; i < 4; i++ {")
	io.WriteString(f, "\r")
	tr.expect(t, "... n += i")
	io.WriteString(f, "\r")
	tr.expect(t, "... }")
	io.WriteString(f, "\r")
	tr.expect(t, ">>> ")
	typeLine(t, f, "n")
	tr.expect(t, "\r\n12\r\n>>> ")
	typeLine(t, f, ":quit")
	tr.wait(func(string) int { return -1 }) // until the client exits

	tr, f = ptyClient(t, "telnet", s.host(), s.port())
	tr.expect(t, "username: ")
	typeLine(t, f, testUser)
	tr.expect(t, "password: ")
	typeLine(t, f, testPassword)
	tr.expect(t, ">>> ")
	typeLine(t, f, ":history")
	got = tr.expect(t, ">>> ")
	if want := "for i := 0; i < 4; i++ {\r\n       n += i\r\n       }\r\n"; strings.Count(got, want) != 2 {
		t.Errorf(":history at the next login: %q, want the block twice as %q", got, want)
	}
	typeLine(t, f, ":quit")
	tr.wait(func(string) int { return -1 })
}
