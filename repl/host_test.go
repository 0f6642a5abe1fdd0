package repl

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"testing"
)

// testHost runs sessions for this package's tests, as package front's
// registry does for a server, less everything a conversation does not
// need: caps, the password gate, the handoffs.
type testHost struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per session

	mu       sync.Mutex
	sessions map[uint64]*Session // guarded by mu
	nextID   uint64              // guarded by mu
}

// newTestHost returns a host of cfg (users: none, logs discarded, unless
// cfg says), whose sessions end with the test.
func newTestHost(t testing.TB, cfg Config) *testHost {
	t.Helper()
	if cfg.Users == nil {
		u, err := ParseUsers(nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Users = u
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &testHost{cfg: cfg, ctx: ctx, cancel: cancel, sessions: map[uint64]*Session{}}
	t.Cleanup(h.close)
	return h
}

// testServer is a host with no users, for sessions restored logged in.
func testServer(t testing.TB) *testHost { return newTestHost(t, Config{}) }

// run registers sess and runs it until it ends or the test does.
func (h *testHost) run(sess *Session) {
	h.mu.Lock()
	h.sessions[sess.ID()] = sess
	h.nextID = max(h.nextID, sess.ID())
	h.mu.Unlock()
	h.wg.Add(1)
	go func() { // ends when the session does
		defer h.wg.Done()
		sess.Run(h.ctx)
		h.mu.Lock()
		delete(h.sessions, sess.ID())
		h.mu.Unlock()
	}()
}

// serve runs a new session on each connection ln accepts, until ln closes.
func (h *testHost) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.serveConn(c)
	}
}

// serveConn runs a new session on c, as opts say.
func (h *testHost) serveConn(c net.Conn, opts ...ConnOption) {
	h.mu.Lock()
	h.nextID++
	id := h.nextID
	h.mu.Unlock()
	h.run(NewSession(h, &h.cfg, id, c, opts...))
}

// restore makes a session of st on c, not running.
func (h *testHost) restore(st SessionState, c net.Conn, p *Prebuilt) (*Session, error) {
	sess, _, err := restore(h, &h.cfg, st, c, p)
	return sess, err
}

// adopt restores st on c and runs it, as a migration's new process does.
func (h *testHost) adopt(t testing.TB, st SessionState, c net.Conn) *Session {
	t.Helper()
	sess, err := h.restore(st, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess.Arrive("")
	h.run(sess)
	return sess
}

func (h *testHost) close() {
	h.cancel()
	h.wg.Wait()
}

func (h *testHost) Closing() bool { return h.ctx.Err() != nil }

func (h *testHost) CheckLogin(ctx context.Context, addr, user, password string) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return h.cfg.Users.Check(user, password), nil
}

func (h *testHost) LoggedIn(*Session) {}

func (h *testHost) SessionList() []SessionInfo {
	h.mu.Lock()
	list := make([]SessionInfo, 0, len(h.sessions))
	for _, sess := range h.sessions {
		list = append(list, sess.Info())
	}
	h.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

func (h *testHost) Lookup(id uint64) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

func (h *testHost) Migrator() func(io.Writer)         { return nil }
func (h *testHost) Upgrader() func(uint64, io.Writer) { return nil }
