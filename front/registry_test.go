package front

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"translucent/repl"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/bcrypt"
)

// lineServer serves cfg on a loopback listener with the user alice
// (password "secret") and returns it and its address; setup may change
// the registry before it serves. It and its sessions end with the test.
func lineServer(t testing.TB, cfg repl.Config, setup ...func(*registry)) (*registry, string) {
	t.Helper()
	if cfg.Users == nil {
		// The cheapest cost: the tests run under the race detector.
		hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Users, err = repl.ParseUsers([]byte("alice:" + string(hash) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := newRegistry(cfg)
	for _, f := range setup {
		f(r)
	}
	return r, serve(t, r)
}

// testServer is a serving registry for sessions that start logged in.
func testServer(t testing.TB) *registry {
	r, _ := lineServer(t, repl.Config{NegotiationWait: 10 * time.Millisecond})
	return r
}

// runningSession starts a session of alice, logged in, on a loopback
// connection (what a migration hands over), whose user typed pending in
// line mode, and returns it and its client.
func runningSession(t *testing.T, r *registry, pending string) (*repl.Session, net.Conn) {
	t.Helper()
	server, client := tcpPair(t)
	fmt.Fprint(client, pending) // data first: line mode at once
	if err := r.serveConn(server, repl.LoggedIn("alice", "")); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[r.nextID], client
}

// tcpPair returns the two ends of a loopback TCP connection: a session's
// Export hands over a *net.TCPConn.
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

// readUntil reads c until what it read holds want, or fails the test at
// the deadline.
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	return readCount(t, c, want, 1)
}

// readCount reads c until what it read holds want n times, or fails the
// test at the deadline.
func readCount(t *testing.T, c net.Conn, want string, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	b := make([]byte, 1024)
	for strings.Count(string(got), want) < n {
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("read: %v; got %q, want %q", err, got, want)
		}
		got = append(got, b[:n]...)
	}
	return string(got)
}

// dial connects to addr as a client in plain line mode (it answers no
// telnet option, like nc); the connection closes with the test.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPasswordChecksBounded: however many connections send a password at
// once, no more checks run together than Config.LoginChecks.
func TestPasswordChecksBounded(t *testing.T) {
	const clients = 8
	var running, peak atomic.Int32
	entered := make(chan struct{}, clients)
	proceed := make(chan struct{})
	check := func(name, password string) bool {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		entered <- struct{}{}
		<-proceed
		running.Add(-1)
		return false
	}
	_, addr := lineServer(t, repl.Config{LoginChecks: 1, LoginDelay: time.Millisecond}, func(r *registry) { r.check = check })
	var cs []net.Conn
	for range clients {
		c := dial(t, addr)
		fmt.Fprint(c, "alice\r\n")
		readUntil(t, c, "password: ")
		fmt.Fprint(c, "wrong\r\n")
		cs = append(cs, c)
	}
	deadline := time.After(30 * time.Second)
	for i := range clients {
		select {
		case <-entered:
		case <-deadline:
			t.Fatalf("%d of %d checks ran", i, clients)
		}
		proceed <- struct{}{}
	}
	for _, c := range cs {
		readUntil(t, c, "Login incorrect")
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("%d password checks ran at once, want 1", p)
	}
}

// TestLoginsCapped: connections that do not log in have a cap of their
// own, from one address too, and one that closes frees its place at once,
// so a flood of connect-and-close cannot keep a user from logging in.
func TestLoginsCapped(t *testing.T) {
	var log syncBuffer
	srv, addr := lineServer(t, repl.Config{MaxSessions: 100, MaxLogins: 4, MaxLoginsPerIP: 3, NegotiationWait: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	// handled counts the connections the accept loop has taken: started
	// as sessions, or turned away.
	handled := func() int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return int(srv.nextID) + strings.Count(log.String(), "connection refused")
	}
	var idle []net.Conn
	for range 3 {
		idle = append(idle, dial(t, addr)) // connects, says nothing: waits out the negotiation
	}
	waitFor(t, "3 connections logging in", func() bool { return len(srv.list()) == 3 })
	if got := readUntil(t, dial(t, addr), "try again later\r\n"); !strings.Contains(got, "from 127.0.0.1 (limit 3)") {
		t.Errorf("a 4th connection from one address was told %q", got)
	}

	// Closed, a connection frees its place at once, not when the
	// negotiation's wait (a minute here) is over.
	for _, c := range idle {
		c.Close()
	}
	waitFor(t, "closed connections to free their places", func() bool { return len(srv.list()) == 0 })
	before := handled()
	const flood = 20
	for range flood { // connect and close, again and again
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// Every one taken by the accept loop (an empty list alone can be seen
	// before it has taken them) and every one gone.
	waitFor(t, "connect-and-close to free its places", func() bool {
		return handled() == before+flood && len(srv.list()) == 0
	})
	c := dial(t, addr)
	fmt.Fprint(c, "alice\r\n") // data first: line mode at once
	readUntil(t, c, "password: ")
	fmt.Fprint(c, "secret\r\n")
	readUntil(t, c, ">>> ")
	waitFor(t, "the logged-in session to leave the logins' count", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.loggingIn == 0
	})
}

// TestLoggedIn: a session started LoggedIn (the SSH relay's) asks for no
// name or password, greets, and counts as its user's from the address
// the way in gave.
func TestLoggedIn(t *testing.T) {
	srv, _ := lineServer(t, repl.Config{NegotiationWait: 10 * time.Millisecond})
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	if err := srv.serveConn(b, repl.LoggedIn("alice", "192.0.2.1:2222")); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, a, ">>> "); strings.Contains(got, "username") || !strings.Contains(got, "Type Go") {
		t.Errorf("a session logged in by its way in began with %q", got)
	}
	fmt.Fprint(a, ":who\r\n")
	if got := readUntil(t, a, ">>> "); !strings.Contains(got, "alice") || !strings.Contains(got, "192.0.2.1:2222") {
		t.Errorf(":who = %q", got)
	}
	if info := srv.list(); len(info) != 1 || info[0].User != "alice" || info[0].State == "logging in" {
		t.Errorf("sessions: %+v", info)
	}
}

// TestCheckPassword: the relay's password check is a login's: right, or
// wrong with the log line (no password in it) and the delay, which ends
// when the asker leaves.
func TestCheckPassword(t *testing.T) {
	var log syncBuffer
	srv, _ := lineServer(t, repl.Config{LoginDelay: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if ok, err := srv.checkPassword(context.Background(), "192.0.2.1:1", "ssh", "alice", "secret"); !ok || err != nil {
		t.Errorf("the right password: %v, %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		ok, err := srv.checkPassword(ctx, "192.0.2.1:1", "ssh", "alice", "hunter2")
		if ok {
			err = errors.New("accepted")
		}
		done <- err
	}()
	waitFor(t, "the wrong password logged", func() bool { return strings.Contains(log.String(), "wrong password") })
	select {
	case err := <-done:
		t.Fatalf("a wrong password answered before the delay: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("a wrong password, asker gone: %v", err)
	}
	if strings.Contains(log.String(), "hunter2") || !strings.Contains(log.String(), "user=alice") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestPauseExportFailsAndResumes: a session whose interrupted evaluation
// is stuck in a call that cannot be interrupted cannot be snapshotted, so
// the export fails, and every session goes on as before.
func TestPauseExportFailsAndResumes(t *testing.T) {
	srv := testServer(t)
	sess, client := runningSession(t, srv, "import \"time\"\r")
	readCount(t, client, ">>> ", 2) // the greeting's, the import's
	fmt.Fprint(client, "time.Sleep(2 * time.Second)\r")
	waitFor(t, "the session's evaluation", func() bool { return sess.Info().State == "evaluating" })
	deadline := time.Now().Add(20 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := srv.pauseExport(ctx, 50*time.Millisecond, nil)
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

// TestVouch: Vouch vouches for the namespaces a new process built ahead
// (from the precopy) and that have not changed, leaves out those it holds
// in another state, and looks again at those that cannot be vouched for
// yet (a goroutine of theirs runs) until a round leaves few.
func TestVouch(t *testing.T) {
	old := testServer(t)
	for _, src := range []string{
		"x := 1", // 1: held unchanged
		"x := 2", // 2: held in another state
		"ch := make(chan int); go func() { <-ch }()", // 3: never settled
		"x := 4", // 4: not held ahead
	} {
		_, client := runningSession(t, old, src+"\r")
		readCount(t, client, ">>> ", 2) // the greeting's, the line's
	}
	// Session 3's goroutine may not have started waiting yet: its
	// namespace is busy until it has, and a precopy then skips it.
	var f *repl.SnapshotFile
	waitFor(t, "a precopy of every session", func() bool {
		var err error
		if f, err = old.precopy(); err != nil {
			t.Fatal(err)
		}
		return len(f.Sessions) == 4
	})
	next := testServer(t)
	next.prebuild(f)
	ahead, err := DecodeAhead(next.ahead())
	if err != nil {
		t.Fatal(err)
	}
	if ahead.Sessions() != 4 {
		t.Fatalf("built ahead: %d sessions, want 4 (skipped: %q)", ahead.Sessions(), f.Skipped)
	}
	ahead[2] = bytes.Repeat([]byte{7}, sha256.Size)
	delete(ahead, 4)
	vouched, rounds, err := old.vouch(context.Background(), ahead, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vouched != 1 {
		t.Errorf("Vouch = %d, want 1 (session 1)", vouched)
	}
	if len(rounds) != 1 || rounds[0].Checked != 3 || rounds[0].Again != 1 {
		t.Errorf("rounds = %+v, want one that checked 3 and left 1 (session 3)", rounds)
	}
	for id, want := range map[uint64]bool{1: true, 2: false, 3: false, 4: false} {
		if got := old.Lookup(id).Vouched(ahead[id]); got != want {
			t.Errorf("session %d vouched for: %v, want %v", id, got, want)
		}
	}
}

// FuzzAhead: the new process's list of namespaces built ahead, as the old
// one decodes it, never panics, and a list that decodes names digests
// that Export can compare.
func FuzzAhead(f *testing.F) {
	for _, m := range []map[uint64][]byte{nil, {7: make([]byte, sha256.Size)}, {1: nil, 2: []byte("x")}} {
		b, err := cbor.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeAhead(b)
		if err != nil {
			return
		}
		if len(m) > maxAhead {
			t.Fatalf("%d entries past the bound", len(m))
		}
		for _, d := range m {
			bytes.Equal(d, make([]byte, sha256.Size)) // what export does with it
		}
	})
}

// FuzzApplyUpdates: an UPDATE, as the new process decodes it, never
// panics, and its answer is an Ahead naming only namespaces built ahead
// (here none).
func FuzzApplyUpdates(f *testing.F) {
	f.Add(mustCBOR(f, []update{{ID: 1, State: []byte{0xa0}}, {ID: 2}}))
	f.Add([]byte{0x80})
	r := newRegistry(repl.Config{Users: &repl.Users{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeAhead(r.applyUpdates(b))
		if err != nil || len(got) != 0 {
			t.Fatalf("answered %x, %v; want an empty Ahead", got, err)
		}
	})
}

// TestHandoffBetweenRegistries: a whole migration's work on the sessions,
// between two registries in one process. The new one builds the old
// one's namespaces ahead from its precopy and says so (Ahead); the old
// one's pause then sends each record with its namespace named, not
// carried, and its lists as tails; the new one adopts the session, with
// the namespace it built, and the client goes on typing on the same
// connection.
func TestHandoffBetweenRegistries(t *testing.T) {
	old := testServer(t)
	sess, client := runningSession(t, old, "x := 41\r")
	readCount(t, client, ">>> ", 2)
	f, err := old.precopy()
	if err != nil {
		t.Fatal(err)
	}

	next := newRegistry(repl.Config{Users: old.cfg.Users, Logger: old.cfg.Logger})
	if built, _ := next.prebuild(f); built != 1 {
		t.Fatalf("built %d namespaces ahead, want 1", built)
	}
	ahead, err := DecodeAhead(next.ahead())
	if err != nil {
		t.Fatal(err)
	}
	if ahead.Sessions() != 1 || ahead[sess.ID()] == nil || !ahead.has(featureTails) {
		t.Fatalf("Ahead = %x, want session %d's digest, and that lists may come as tails", ahead, sess.ID())
	}

	fmt.Fprint(client, "x + 1\r") // typed after the precopy: the lists' tails
	readUntil(t, client, ">>> ")
	st := handOver(t, old, next, ahead)[0]
	// The namespace has not changed since (x + 1 sets only _, which is
	// not carried): the record names it.
	if st.Namespace != nil || !bytes.Equal(st.Ahead, ahead[sess.ID()]) {
		t.Errorf("record carries namespace %v, digest %x; want the digest only", st.Namespace != nil, st.Ahead)
	}
	if st.HistorySkip == nil || st.RecordSkip == nil {
		t.Errorf("lists sent whole (history skip %v, record skip %v), want tails", st.HistorySkip, st.RecordSkip)
	}
	if reused := next.dropPrebuilt(); reused != 1 {
		t.Errorf("the adopted session took %d namespaces built ahead, want 1", reused)
	}
	fmt.Fprint(client, "x + 1\r")
	if got := readUntil(t, client, "42"); strings.Contains(got, "error") {
		t.Errorf("after the handoff: %q", got)
	}
	if list := next.list(); len(list) != 1 || list[0].User != "alice" {
		t.Errorf("the new registry's sessions: %+v", list)
	}
}

// handOver does a handoff's work on the sessions of old, which new has
// built ahead as ahead says: old pauses and exports every session, new
// adopts them and serves. It returns the records.
func handOver(t *testing.T, old, next *registry, ahead Ahead) []repl.SessionState {
	t.Helper()
	exported, err := old.pauseExport(context.Background(), time.Second, ahead)
	if err != nil {
		t.Fatal(err)
	}
	states := adoptExported(t, old, next, exported)
	serve(t, next)
	return states
}

// adoptExported makes next adopt what old exported, as a committed
// handoff does, and returns the records.
func adoptExported(t *testing.T, old, next *registry, exported []repl.Exported) []repl.SessionState {
	t.Helper()
	states := make([]repl.SessionState, len(exported))
	data, conns := make([][]byte, len(exported)), make([]*os.File, len(exported))
	for i, e := range exported {
		if err := cbor.Unmarshal(e.State, &states[i]); err != nil {
			t.Fatal(err)
		}
		data[i] = e.State
		var err error
		if conns[i], err = e.Conn.File(); err != nil {
			t.Fatal(err)
		}
	}
	if err := next.adoptAll(data, conns); err != nil {
		t.Fatal(err)
	}
	for _, e := range exported {
		old.left(e.ID) // committed: the connection is the new process's
	}
	return states
}

// serve starts r serving on a loopback listener of its own (which starts
// the sessions it adopted) and returns its address; Cleanup closes r.
func serve(t testing.TB, r *registry) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.serve(ln) }() // ends at Close
	t.Cleanup(func() {
		r.close()
		<-served
	})
	return ln.Addr().String()
}

// TestHandoffUpdatesAhead: a namespace that changed after the precopy is
// sent to the new process before the pause (an UPDATE), which brings the
// one it built up to date; the pause then names it rather than carrying
// it, and the session goes on with what it changed. Namespaces that change
// again while an update is applied are sent again in the next round.
func TestHandoffUpdatesAhead(t *testing.T) {
	old := testServer(t)
	n := vouchEnough + 4
	sessions, clients := make([]*repl.Session, n), make([]net.Conn, n)
	for i := range n {
		sessions[i], clients[i] = runningSession(t, old, fmt.Sprintf("x := %d\r", i))
		readCount(t, clients[i], ">>> ", 2)
	}
	f, err := old.precopy()
	if err != nil {
		t.Fatal(err)
	}
	next := newRegistry(repl.Config{Users: old.cfg.Users, Logger: old.cfg.Logger})
	if built, _ := next.prebuild(f); built != n {
		t.Fatalf("built %d namespaces ahead, want %d", built, n)
	}
	ahead, err := DecodeAhead(next.ahead())
	if err != nil {
		t.Fatal(err)
	}
	if !ahead.has(featureUpdates) {
		t.Fatalf("Ahead = %x: does not say it takes updates", ahead)
	}
	precopied := maps.Clone(ahead)

	typeIn := func(clients []net.Conn, line string) {
		for _, c := range clients {
			fmt.Fprint(c, line+"\r")
			readUntil(t, c, ">>> ")
		}
	}
	typeIn(clients, "x = x + 100; y := x + 1") // after the precopy
	updates, busy := 0, n-2                    // more than a round leaves to the pause, fewer than all
	send := func(_ context.Context, data []byte) ([]byte, error) {
		if updates++; updates == 1 { // most users type on while the first is applied
			typeIn(clients[:busy], "y = y + 1")
		}
		return next.applyUpdates(data), nil
	}
	vouched, rounds, err := old.vouch(context.Background(), ahead, send)
	if err != nil {
		t.Fatal(err)
	}
	want := []VouchRound{{Checked: n, Updated: n, Again: busy}, {Checked: busy, Updated: busy, Again: 0}}
	for i := range rounds {
		rounds[i].Took = 0
	}
	if vouched != n || updates != 2 || !slices.Equal(rounds, want) {
		t.Errorf("vouched %d after %d updates in rounds %+v; want %d after 2 in rounds %+v", vouched, updates, rounds, n, want)
	}
	for _, sess := range sessions {
		if bytes.Equal(ahead[sess.ID()], precopied[sess.ID()]) {
			t.Errorf("session %d: Ahead still names the precopy's namespace", sess.ID())
		}
	}

	for i, st := range handOver(t, old, next, ahead) {
		if st.Namespace != nil || !bytes.Equal(st.Ahead, ahead[st.ID]) {
			t.Errorf("record %d carries namespace %v, digest %x; want the updated digest only", i, st.Namespace != nil, st.Ahead)
		}
	}
	if reused := next.dropPrebuilt(); reused != n {
		t.Errorf("the adopted sessions took %d namespaces built ahead, want %d", reused, n)
	}
	for i, c := range clients {
		fmt.Fprint(c, "[2]int{x, y}\r")
		y := i + 101
		if i < busy {
			y++
		}
		if got, want := readUntil(t, c, ">>> "), fmt.Sprintf("[2]int{%d, %d}", i+100, y); !strings.Contains(got, want) {
			t.Errorf("session %d after the handoff: %q, want %s", sessions[i].ID(), got, want)
		}
	}
}

// TestApplyUpdatesRefuses: an update the new process cannot use (garbage,
// a namespace that does not decode, a session it did not build) is left
// out of its answer, and a namespace it built but cannot update is
// dropped, so that the pause carries it whole.
func TestApplyUpdatesRefuses(t *testing.T) {
	old := testServer(t)
	sess, client := runningSession(t, old, "x := 1\r")
	readCount(t, client, ">>> ", 2)
	f, err := old.precopy()
	if err != nil {
		t.Fatal(err)
	}
	next := newRegistry(repl.Config{Users: old.cfg.Users, Logger: old.cfg.Logger})
	next.prebuild(f)
	for name, data := range map[string][]byte{
		"garbage":     []byte("\xff\x00garbage"),
		"unknown":     mustCBOR(t, []update{{ID: 99, State: mustCBOR(t, map[string]int{"x": 1})}}),
		"undecodable": mustCBOR(t, []update{{ID: sess.ID(), State: []byte{0xff}}}),
	} {
		got, err := DecodeAhead(next.applyUpdates(data))
		if err != nil || got.Sessions() != 0 {
			t.Errorf("%s: answered %x, %v; want an empty Ahead", name, got, err)
		}
	}
	if p := next.takePrebuilt(sess.ID()); p != nil {
		p.Close()
		t.Error("a namespace that an update could not bring up to date was kept")
	}
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStartAdoptedInBatches: after a handoff, every adopted session runs,
// more of them than one batch of starts, and a line typed during the pause
// (in the kernel, not in the record) is answered.
func TestStartAdoptedInBatches(t *testing.T) {
	old := testServer(t)
	n := 2*startBatch + 3
	clients := make([]net.Conn, n)
	for i := range clients {
		_, clients[i] = runningSession(t, old, fmt.Sprintf("x := %d\r", i))
		readCount(t, clients[i], ">>> ", 2)
	}
	exported, err := old.pauseExport(context.Background(), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != n {
		t.Fatalf("exported %d sessions, want %d", len(exported), n)
	}
	typed := n / 2
	fmt.Fprint(clients[typed], "x * 10\r") // in the pause: the kernel holds it

	next := newRegistry(repl.Config{Users: old.cfg.Users, Logger: old.cfg.Logger})
	adoptExported(t, old, next, exported)
	waiting := repl.InputWaiting(next.adopted)
	var found int
	for i, w := range waiting {
		if w {
			found++
			if next.adopted[i].ID() != exported[typed].ID {
				t.Errorf("session %d has input waiting, want only %d", next.adopted[i].ID(), exported[typed].ID)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d sessions with input waiting, want 1", found)
	}
	serve(t, next)
	readUntil(t, clients[typed], fmt.Sprint(typed*10))
	for i, c := range clients {
		fmt.Fprint(c, "x + 1\r")
		readUntil(t, c, fmt.Sprint(i+1))
	}
}
