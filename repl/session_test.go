package repl

import (
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// charSession starts an adopted, logged-in session in character mode (a
// telnet client that negotiated) whose user typed pending, and returns
// its client end.
func charSession(t *testing.T, srv *Server, pending string) (*Session, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	st := validState()
	st.Chunk, st.History = "", nil
	st.Input = inputState{Pending: []byte(pending)}
	if err := srv.adopt(st, server); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	sess := srv.sessions[st.ID]
	srv.mu.Unlock()
	srv.startAdopted()
	return sess, client
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

// TestMultiLineRecall: Up after a multi-line input recalls it whole, as one
// line that runs again.
func TestMultiLineRecall(t *testing.T) {
	sess, client := charSession(t, testServer(t),
		"x := 0\rfor i := 0; i < 3; i++ {\r\tx += i\r}\r"+ // x is 3
			"\x1b[A\r"+ // the loop again: 6
			"x\r:quit\r")
	got := readAll(t, client)
	if !strings.Contains(got, "\r\n6\r\n") {
		t.Errorf("the recalled loop did not run again; the client saw %q", got)
	}
	want := []string{"x := 0", "for i := 0; i < 3; i++ { x += i; }", "x", ":quit"}
	if h := sess.hist.Entries(); !slices.Equal(h, want) {
		t.Errorf("history %q, want %q", h, want)
	}
}
