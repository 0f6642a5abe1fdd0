package repl

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
	"translucent/telnet"
)

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
	srv.adopt(t, st, server)
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
		sess, err := srv.restore(st, server, nil)
		if err != nil {
			client.Close()
			return
		}
		sess.Arrive("")
		srv.run(sess)
		client.Close() // the session ends with its client
		srv.close()
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
func runningSession(t *testing.T, srv *testHost, pending string) (*Session, net.Conn) {
	t.Helper()
	return runningSessionID(t, srv, validState().ID, pending)
}

// runningSessionID is runningSession with the session id given.
func runningSessionID(t *testing.T, srv *testHost, id uint64, pending string) (*Session, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	st := validState()
	st.ID, st.CharMode, st.Chunk = id, false, ""
	st.Input = inputState{Pending: []byte(pending)}
	return srv.adopt(t, st, server), client
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
			d := snap.Digest()
			if tt.other {
				d = bytes.Repeat([]byte{7}, len(d))
			}
			if tt.precopy {
				if _, err := sess.LiveState(true, NewListBudget(), nil); err != nil {
					t.Fatal(err)
				}
				if _, ok := sess.vouchedFor(d); !ok {
					t.Error("not vouched for by the precopy")
				}
			}
			if tt.vouch >= 0 {
				if got := sess.Vouch(d) == Same; got != (tt.vouch == 1) {
					t.Errorf("Vouch found the namespace ahead: %v, want %v", got, tt.vouch == 1)
				}
				sess.mu.Lock()
				sess.vouched.lost = append(sess.vouched.lost, marker)
				sess.mu.Unlock()
			}
			if tt.then != "" {
				fmt.Fprintf(client, "%s\r", tt.then)
				readUntil(t, client, ">>> ")
			}
			grace, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			sess.Pause(context.Background(), grace)
			defer sess.Resume()
			if !sess.Still() {
				t.Fatal("the session did not come to rest")
			}
			exported, err := sess.Export(d, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeSessionState(exported.State)
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

func TestInputWaiting(t *testing.T) {
	h := newTestHost(t, Config{})
	tests := []struct {
		name    string
		pending string // in the record
		typed   string // by the client, after the record was made
		hangUp  bool
		want    bool
	}{
		{name: "idle", want: false},
		{name: "half a line, to replay", want: false},
		{name: "a line in the record", pending: "x + 1\r", want: true},
		{name: "a line in the kernel", typed: "x + 1\r\n", want: true},
		{name: "client gone", hangUp: true, want: true},
	}
	var sessions []*Session
	for i, tc := range tests {
		server, client := tcpPair(t)
		st := validState()
		st.ID = uint64(i + 1)
		st.Input = inputState{Pending: []byte(tc.pending)}
		if tc.name == "half a line, to replay" {
			st.Input.Typed = []byte("x +")
		}
		sess, _, err := restore(h, &h.cfg, st, server, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sess.Discard)
		if tc.typed != "" {
			client.Write([]byte(tc.typed))
		}
		if tc.hangUp {
			client.Close()
		}
		sessions = append(sessions, sess)
	}
	// What a client sent reaches the server's socket soon, not at once.
	var got []bool
	waitFor(t, "the clients' input to arrive", func() bool {
		got = InputWaiting(sessions)
		return got[3] && got[4]
	})
	for i, tc := range tests {
		if got[i] != tc.want {
			t.Errorf("%s: waiting %v, want %v", tc.name, got[i], tc.want)
		}
	}
}
