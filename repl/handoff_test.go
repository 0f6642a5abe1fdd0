package repl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
	"translucent/telnet"
)

func testServer(t testing.TB) *Server {
	u, err := ParseUsers(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Users: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { srv.Close() })
	return srv
}

func validState() SessionState {
	return SessionState{
		Version: StateVersion, ID: 7, User: "alice", Since: time.Unix(1e9, 0), Addr: "127.0.0.1:1",
		CharMode: true,
		Telnet:   telnet.State{EchoAnswered: true, Width: 100, Height: 30, TerminalType: "XTERM"},
		History:  []string{"x := 1", "x + 1"},
		Input:    inputState{Typed: []byte("x +"), Pending: []byte(" 1\r")},
		Chunk:    "func f() {\n",
	}
}

func TestDecodeSessionState(t *testing.T) {
	tests := []struct {
		name   string
		change func(*SessionState)
		ok     bool
	}{
		{"valid", func(*SessionState) {}, true},
		{"logging in", func(s *SessionState) { s.User, s.LoginName, s.LoginTry = "", "bob", 2 }, true},
		{"newer version", func(s *SessionState) { s.Version = StateVersion + 1 }, false},
		{"no id", func(s *SessionState) { s.ID = 0 }, false},
		{"too many tries", func(s *SessionState) { s.LoginTry = maxLoginTries }, false},
		{"negative tries", func(s *SessionState) { s.LoginTry = -1 }, false},
		{"huge history", func(s *SessionState) { s.History = make([]string, historySize+1) }, false},
		{"huge chunk", func(s *SessionState) { s.Chunk = string(make([]byte, maxChunk+1)) }, false},
		{"long partial", func(s *SessionState) { s.Input.Partial = []byte{0xe2, 0x82, 0xac, 0x80} }, false},
		{"built ahead", func(s *SessionState) { s.Ahead = make([]byte, 32) }, true},
		{"built ahead, short digest", func(s *SessionState) { s.Ahead = make([]byte, 31) }, false},
		{"built ahead and sent", func(s *SessionState) { s.Ahead, s.Namespace = make([]byte, 32), &namespace.Snapshot{} }, false},
		{"built ahead, no user", func(s *SessionState) { s.Ahead, s.User = make([]byte, 32), "" }, false},
		{"shared, watching", func(s *SessionState) { s.Shared, s.Watching, s.WatchPending = true, 3, []byte("x := 1\r\n") }, true},
		{"huge watch pending", func(s *SessionState) { s.Watching, s.WatchPending = 3, make([]byte, watchBuffer+1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := validState()
			tt.change(&st)
			data, err := cbor.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeSessionState(data)
			if (err == nil) != tt.ok {
				t.Errorf("decodeSessionState: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestAdoptReplaysTypedLine: a restored session shows nothing again (the
// client already sees its prompt and half line) and finishes the line the
// user was typing with the pending input.
func TestAdoptReplaysTypedLine(t *testing.T) {
	srv := testServer(t)
	st := validState()
	st.Chunk = ""
	st.Input = inputState{Typed: []byte("40 +"), Pending: []byte(" 2\r")}
	server, client := net.Pipe()
	defer client.Close()
	if err := srv.adopt(st, server); err != nil {
		t.Fatal(err)
	}
	srv.startAdopted()
	client.SetDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	b := make([]byte, 1024)
	for !containsAll(string(got), "42\r\n>>> ") {
		n, err := client.Read(b)
		if err != nil {
			t.Fatalf("read: %v; got %q", err, got)
		}
		got = append(got, b[:n]...)
	}
	// Only the pending " 2" is echoed: "40 +" is already on the screen.
	if want := " 2\r\n42\r\n>>> "; string(got) != want {
		t.Errorf("restored session wrote %q, want %q", got, want)
	}
}

func containsAll(s, sub string) bool { return len(s) >= len(sub) && s[len(s)-len(sub):] == sub }

func FuzzSessionState(f *testing.F) {
	watching := validState()
	watching.Shared, watching.Watching, watching.WatchPending = true, 3, []byte(">>> x\r\n")
	tails, skip := validState(), 2
	tails.HistorySkip, tails.RecordSkip, tails.Record = &skip, &skip, []string{"x := 1"}
	for _, st := range []SessionState{validState(), {Version: StateVersion, ID: 1}, watching, tails} {
		data, err := cbor.Marshal(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeSessionState(data)
		if err != nil {
			return
		}
		st.Namespace = nil // fuzzed on its own in package namespace
		srv := testServer(t)
		server, client := net.Pipe()
		if err := srv.adopt(st, server); err != nil {
			client.Close()
			return
		}
		srv.startAdopted()
		client.Close() // the session ends with its client
		srv.Close()
	})
}

// tcpPair returns the two ends of a loopback TCP connection: Export hands
// over a *net.TCPConn.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// runningSession starts, in line mode on a loopback connection, a session
// of validState whose user typed pending, and returns it with its client.
func runningSession(t *testing.T, srv *Server, pending string) (*Session, net.Conn) {
	t.Helper()
	return runningSessionID(t, srv, validState().ID, pending)
}

// runningSessionID is runningSession with the session id given.
func runningSessionID(t *testing.T, srv *Server, id uint64, pending string) (*Session, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	st := validState()
	st.ID, st.CharMode, st.Chunk = id, false, ""
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

// readUntil reads c until what it read ends with want, or fails the test
// at the deadline.
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	b := make([]byte, 1024)
	for !strings.Contains(string(got), want) {
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("read: %v; got %q, want %q", err, got, want)
		}
		got = append(got, b[:n]...)
	}
	return string(got)
}

// TestPauseExportFailsAndResumes: a session whose interrupted evaluation
// is stuck in a call that cannot be interrupted cannot be snapshotted, so
// the export fails, and every session goes on as before.
func TestPauseExportFailsAndResumes(t *testing.T) {
	srv := testServer(t)
	sess, client := runningSession(t, srv, "import \"time\"\rtime.Sleep(2 * time.Second)\r")
	deadline := time.Now().Add(20 * time.Second)
	for evaluating := false; !evaluating; {
		sess.in.mu.Lock()
		evaluating = sess.in.cancelEval != nil && len(sess.in.buf) == 0 // the sleep, not the import
		sess.in.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the session never started its evaluation")
		}
		runtime.Gosched()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := srv.PauseExport(ctx, 50*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("PauseExport: %v, want a busy namespace", err)
	}
	readUntil(t, client, "interrupted: the server is migrating")
	// Resumed: once the sleep has returned, the session evaluates again.
	for {
		fmt.Fprint(client, "40 + 2\n")
		if out := readUntil(t, client, ">>> "); strings.Contains(out, "42") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session did not resume")
		}
	}
}

// TestPauseExportLeavesOutWhatIsAhead: a namespace the other process holds
// unchanged travels as its digest; one it holds in another state, whole.
// One that Vouch found unchanged, and that has not changed since, is not
// even snapshotted in the pause: its record carries what Vouch found.
func TestPauseExportLeavesOutWhatIsAhead(t *testing.T) {
	const marker = "found by Vouch"
	tests := []struct {
		name    string
		setup   string // typed before the digest is taken
		other   bool   // the other process holds another snapshot
		precopy bool   // Precopy runs before Vouch
		vouch   int    // what Vouch should say; -1: not called
		then    string // typed after Vouch
		whole   bool   // the record carries the namespace
		byVouch bool   // the record is Vouch's
	}{
		{name: "unchanged", vouch: -1},
		{name: "held in another state", other: true, vouch: -1, whole: true},
		{name: "vouched for", vouch: 1, byVouch: true},
		{name: "vouched for by the precopy", precopy: true, vouch: 1, byVouch: true},
		{name: "vouched for by the precopy, then changed", precopy: true, vouch: 1, then: "x = 43", whole: true},
		{name: "vouched for, then evaluated", vouch: 1, then: "if x < 0 { x = 0 }", byVouch: false},
		// An expression's value is `_`, which a migration does not carry:
		// the namespace is as it was.
		{name: "vouched for, then a value printed", vouch: 1, then: "x + 0"},
		{name: "vouched for, then changed", vouch: 1, then: "x = 42", whole: true},
		{name: "held in another state, vouched", other: true, vouch: 0, whole: true},
		{name: "a goroutine runs", setup: "ch := make(chan int); go func() { <-ch }()", vouch: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t)
			sess, client := runningSession(t, srv, "x := 41\r")
			readUntil(t, client, ">>> ")
			if tt.setup != "" {
				fmt.Fprintf(client, "%s\r", tt.setup)
				readUntil(t, client, ">>> ")
			}
			snap, _, err := sess.ns.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			d := digest(snap)
			if tt.other {
				d = bytes.Repeat([]byte{7}, len(d))
			}
			ahead := Ahead{sess.id: d}
			if tt.precopy {
				if _, err := srv.Precopy(); err != nil {
					t.Fatal(err)
				}
				if _, ok := sess.vouchedFor(d); !ok {
					t.Error("not vouched for by the precopy")
				}
			}
			if tt.vouch >= 0 {
				if got, _ := srv.Vouch(ahead); got != tt.vouch {
					t.Errorf("Vouch = %d, want %d", got, tt.vouch)
				}
				sess.mu.Lock()
				sess.vouched.lost = append(sess.vouched.lost, marker)
				sess.mu.Unlock()
			}
			if tt.then != "" {
				fmt.Fprintf(client, "%s\r", tt.then)
				readUntil(t, client, ">>> ")
			}
			exported, err := srv.PauseExport(context.Background(), time.Second, ahead)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Resume()
			if len(exported) != 1 {
				t.Fatalf("exported %d sessions, want 1", len(exported))
			}
			got, err := decodeSessionState(exported[0].State)
			if err != nil {
				t.Fatal(err)
			}
			if tt.whole && (got.Namespace == nil || got.Ahead != nil) {
				t.Errorf("record has namespace %v and digest %x, want the namespace only", got.Namespace != nil, got.Ahead)
			}
			if !tt.whole && (got.Namespace != nil || !bytes.Equal(got.Ahead, d)) {
				t.Errorf("record has namespace %v and digest %x, want the digest only", got.Namespace != nil, got.Ahead)
			}
			if byVouch := slices.Contains(got.Lost, marker); byVouch != tt.byVouch {
				t.Errorf("record made from Vouch's finding: %v, want %v", byVouch, tt.byVouch)
			}
		})
	}
}

// TestVouch: Vouch vouches for the namespaces held ahead unchanged, leaves
// out those held in another state, and looks again at those that cannot
// be vouched for yet (a goroutine of theirs runs) until a round leaves few.
func TestVouch(t *testing.T) {
	srv := testServer(t)
	ahead := Ahead{}
	for id, src := range map[uint64]string{
		1: "x := 1",                                     // held unchanged
		2: "x := 2",                                     // held in another state
		3: "ch := make(chan int); go func() { <-ch }()", // never settled
		4: "x := 4",                                     // not held ahead
	} {
		sess, client := runningSessionID(t, srv, id, src+"\r")
		readUntil(t, client, ">>> ")
		snap, _, err := sess.ns.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		switch id {
		case 1, 3:
			ahead[id] = digest(snap)
		case 2:
			ahead[id] = bytes.Repeat([]byte{7}, sha256.Size)
		}
	}
	vouched, rounds := srv.Vouch(ahead)
	if vouched != 1 {
		t.Errorf("Vouch = %d, want 1 (session 1)", vouched)
	}
	if len(rounds) != 1 || rounds[0].Checked != 3 || rounds[0].Again != 1 {
		t.Errorf("rounds = %+v, want one that checked 3 and left 1 (session 3)", rounds)
	}
	for id, want := range map[uint64]bool{1: true, 2: false, 3: false, 4: false} {
		srv.mu.Lock()
		sess := srv.sessions[id]
		srv.mu.Unlock()
		if _, got := sess.vouchedFor(ahead[id]); got != want {
			t.Errorf("session %d vouched for: %v, want %v", id, got, want)
		}
	}
}
