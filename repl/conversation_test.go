package repl

import (
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// charSession starts an adopted, logged-in session in character mode (a
// telnet client that negotiated) whose user typed pending, and returns
// its client end.
func charSession(t *testing.T, srv *testHost, pending string) (*Session, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	st := validState()
	st.Chunk, st.History = "", nil
	st.Input = inputState{Pending: []byte(pending)}
	return srv.adopt(t, st, server), client
}

// readAll reads c until the server closes it, or fails the test at the
// deadline.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v; got %q", err, got)
	}
	return string(got)
}

// TestLogoutEndsWithBye: the last thing a client sees is "bye", not a
// prompt redrawn under it.
func TestLogoutEndsWithBye(t *testing.T) {
	for _, tt := range []struct{ name, typed string }{
		{"Ctrl-D", "1 + 1\r\x04"},
		{":quit", "1 + 1\r:quit\r"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, client := charSession(t, testServer(t), tt.typed)
			got := readAll(t, client)
			if !strings.HasSuffix(got, ">>> \r\nbye\r\n") && !strings.HasSuffix(got, ">>> :quit\r\nbye\r\n") {
				t.Errorf("client saw %q, want it to end with the prompt, then bye on a line of its own", got)
			}
		})
	}
}

// TestMultiLineRecall: Up after a multi-line input recalls it as the block
// it was: its first line, then each Enter brings the next at the
// continuation prompt, to keep or edit; it runs whole, and the history
// keeps each block whole.
func TestMultiLineRecall(t *testing.T) {
	loop := "for i := 0; i < 3; i++ {\r  x += i\r}\r"
	sess, client := charSession(t, testServer(t),
		"x := 0\r"+loop+ // x is 3
			"\x1b[A\r\r\r"+ // the loop again: 6
			"x\r"+
			"\x1b[A\x1b[A\r\x15  x += 10 * i\r\r"+ // the loop, its body edited: 36
			"x\r"+
			"\x1b[A\x1b[A\x1b[B\r"+ // Up twice, Down: x
			":history 3\r:quit\r")
	got := readAll(t, client)
	for _, want := range []string{
		">>> for i := 0; i < 3; i++ {\r\n...   x += i\r\n... }\r\n>>> x\r\n6\r\n",
		"\r\n36\r\n>>> :history", // Up, Up, Down: x again
		"    4  for i := 0; i < 3; i++ {\r\n         x += 10 * i\r\n       }\r\n    5  x\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the client saw %q, without %q", got, want)
		}
	}
	if n := strings.Count(got, "\r\n36\r\n"); n != 2 {
		t.Errorf("36 printed %d times, want 2 (the edited loop, then x twice): %q", n, got)
	}
	block := "for i := 0; i < 3; i++ {\n  x += i\n}"
	want := []string{"x := 0", block, "x", strings.Replace(block, "x += i", "x += 10 * i", 1), "x", ":history 3", ":quit"}
	if h := sess.hist.Entries(); !slices.Equal(h, want) {
		t.Errorf("history %q, want %q", h, want)
	}
}

// TestAttachAsksFirst: :attach refuses to throw away a namespace that holds
// anything unless told -f; :drop -NAME says what it did.
func TestAttachAsksFirst(t *testing.T) {
	srv := newTestHost(t, Config{Restored: liveFile(t)})
	_, client := charSession(t, srv, ":attach 7\rmine := 1\r:attach 7\rmine\r:attach -f 7\r:drop q\r:drop -q\r:drop -q\r:quit\r")
	// Words only: the server folds its messages to the window (100
	// columns in validState).
	got := strings.Join(strings.Fields(readAll(t, client)), " ")
	for _, want := range []string{
		":attach 7\nattached to a copy of session 7's namespace (ann, pid 1, test): 4 variables\n", // an empty namespace: nothing to lose
		":attach 7\nerror: :attach replaces this session's namespace, which holds 5 variables and 1 declaration, lost if replaced. :attach -f 7 replaces it all the same",
		"mine\n1\n",
		":attach -f 7\nattached to a copy of session 7's namespace",
		":drop -q\nq is carried by the next migration again\n",
		":drop -q\nerror: q was not dropped\n",
	} {
		if want = strings.Join(strings.Fields(want), " "); !strings.Contains(got, want) {
			t.Errorf("the client saw\n%s\nwithout\n%s", got, want)
		}
	}
}

// The REPL's own text wider than the client's window (NAWS: 100 columns
// in validState) is folded between words: :help's table goes on under
// its second column, a message under its start.
func TestHelpFitsTheWindow(t *testing.T) {
	_, client := charSession(t, testServer(t), ":help\r:doc strings.Fields\r:quit\r")
	got := strings.ReplaceAll(readAll(t, client), "\r", "")
	for _, l := range strings.Split(got, "\n") {
		if utf8.RuneCountInString(l) > 100 {
			t.Errorf("a line of %d characters in a window of 100: %q", utf8.RuneCountInString(l), l)
		}
	}
	for _, want := range []string{
		"  :watch    ID: see what session ID's user sees, read only, until Enter, Ctrl-C or Ctrl-D; a\n" +
			"            migration carries the watch\n",
		"    Fields splits the string s around each instance of one or more consecutive white space\n    characters,",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the client saw\n%s\nwithout\n%s", got, want)
		}
	}
}

// A value wider than the client's window (NAWS: 100 columns in
// validState) is wrapped to its width.
func TestValueFitsTheWindow(t *testing.T) {
	_, client := charSession(t, testServer(t), "make([]int, 60)\r:quit\r")
	got := readAll(t, client)
	i := strings.Index(got, "[]int{")
	if i < 0 {
		t.Fatalf("no value in %q", got)
	}
	value := got[i : strings.Index(got[i:], "}")+i+1]
	lines := strings.Split(value, "\r\n")
	if len(lines) < 2 {
		t.Fatalf("a value of %d characters in one line: %q", len(value), value)
	}
	for _, l := range lines {
		if len(l) > 100 {
			t.Errorf("a line of %d characters in a window of 100: %q", len(l), l)
		}
	}
}
