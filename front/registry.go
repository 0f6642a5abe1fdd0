package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"syscall"
	"time"
	"translucent/repl"
)

// errServerClosed is returned by serve after close.
var errServerClosed = errors.New("front: the server is closed")

// registry accepts telnet connections and runs a session (package repl)
// on each: the sessions of this process, their caps, and what a handoff
// does to all of them at once (handoff.go, moves.go, prebuild.go,
// snapshot.go). It is each session's repl.Host.
type registry struct {
	cfg   repl.Config
	gate  *gate                            // bounds the CPU of password checks
	check func(name, password string) bool // cfg.Users.Check; a test's seam

	mu       sync.Mutex
	ln       net.Listener             // guarded by mu
	sessions map[uint64]*repl.Session // every open connection; guarded by mu
	nextID   uint64                   // guarded by mu
	// Sessions not logged in yet, in all and by IP address (see
	// countLoginLocked): a connection cap of their own, so that
	// connections that never log in cannot take every place.
	loggingIn     int               // guarded by mu
	loggingInByIP map[string]int    // guarded by mu
	loggingInAs   map[uint64]string // the address each session logging in counts under; guarded by mu
	running       map[uint64]bool   // sessions whose goroutine was started (not adopted or held); guarded by mu
	closed        bool              // guarded by mu
	adopted       []*repl.Session   // restored from another process, not yet running; guarded by mu

	migrate  func(out io.Writer)            // starts a migration for :migrate; guarded by mu
	upgrade  func(id uint64, out io.Writer) // moves a session for :upgrade; guarded by mu
	detached bool                           // the listener belongs to another process; guarded by mu
	empty    chan struct{}                  // closed when detached with no session left
	emptied  bool                           // empty is closed; guarded by mu
	notice   string                         // shown by adopted sessions as they start; guarded by mu

	prebuilt map[uint64]*repl.Prebuilt // namespaces restored ahead of a handoff; guarded by mu
	reused   int                       // prebuilt namespaces adopted sessions took; guarded by mu

	cond         *sync.Cond      // on mu: signals acceptPaused and acceptIdle
	acceptPaused bool            // a migration holds the accept loop; guarded by mu
	acceptIdle   bool            // the accept loop is waiting for resume; guarded by mu
	wg           sync.WaitGroup  // one per session goroutine
	ctx          context.Context // cancelled by close; ends every session
	cancel       context.CancelFunc
}

// newRegistry returns a registry of sessions with cfg. cfg.Users must be
// set.
func newRegistry(cfg repl.Config) *registry {
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &registry{cfg: cfg, loggingInByIP: map[string]int{}, loggingInAs: map[uint64]string{}, running: map[uint64]bool{}, gate: newGate(cfg.LoginChecks, loginBurst, loginRefill), sessions: make(map[uint64]*repl.Session), ctx: ctx, cancel: cancel, empty: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.check = cfg.Users.Check
	return s
}

// serve accepts connections on ln until close, and always returns a
// non-nil error: errServerClosed after close.
func (s *registry) serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errServerClosed
	}
	s.ln = ln
	s.mu.Unlock()

	s.startAdopted()
	var delay time.Duration // back-off on temporary errors such as EMFILE, as net/http does
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return errServerClosed
			}
			if s.isDetached() {
				return errDetached
			}
			if s.waitAcceptResumed() {
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("accept", "err", err, "retry", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.startConn(c)
	}
}

func (s *registry) isDetached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached
}

func (s *registry) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// serveConn runs a session on c, a connection that came another way than
// serve's listener (a browser's WebSocket, an SSH relay's socket): the
// same caps apply, and a migration under way holds it until it ends. It
// returns an error, and closes c, when this server no longer takes
// sessions (closed, or handed to another process). opts say how the
// session starts (LoggedIn).
func (s *registry) serveConn(c net.Conn, opts ...repl.ConnOption) error {
	s.mu.Lock()
	for s.acceptPaused && !s.closed && !s.detached {
		s.cond.Wait()
	}
	closed, detached := s.closed, s.detached
	s.mu.Unlock()
	switch {
	case closed:
		c.Close()
		return errServerClosed
	case detached:
		c.Close()
		return errDetached
	}
	s.startConn(c, opts...)
	return nil
}

// startConn registers a session for c and runs it in its own goroutine, or
// turns c away when the server is full.
func (s *registry) startConn(c net.Conn, opts ...repl.ConnOption) {
	ip := ipOf(c.RemoteAddr().String())
	s.mu.Lock()
	var refusal string
	switch {
	case s.closed:
	case len(s.sessions) >= s.cfg.MaxSessions:
		refusal = fmt.Sprintf("too many sessions (limit %d)", s.cfg.MaxSessions)
	case s.loggingIn >= s.cfg.MaxLogins:
		refusal = fmt.Sprintf("too many connections logging in (limit %d)", s.cfg.MaxLogins)
	case s.loggingInByIP[ip] >= s.cfg.MaxLoginsPerIP:
		refusal = fmt.Sprintf("too many connections logging in from %s (limit %d)", ip, s.cfg.MaxLoginsPerIP)
	default:
		s.nextID++
		sess := repl.NewSession(s, &s.cfg, s.nextID, c, opts...)
		s.sessions[sess.ID()] = sess
		s.countLoginLocked(sess)
		s.runLocked(sess)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if refusal != "" {
		s.cfg.Logger.Warn("connection refused: "+refusal, "addr", c.RemoteAddr())
		c.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "translucent: %s; try again later\r\n", refusal)
	}
	c.Close()
}

// ipOf returns the host of a remote address.
func ipOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// countLoginLocked counts sess as logging in, unless it has a user.
func (s *registry) countLoginLocked(sess *repl.Session) {
	if s.loggingInAs[sess.ID()] != "" || sess.User() != "" {
		return
	}
	ip := ipOf(sess.Addr())
	s.loggingInAs[sess.ID()] = ip
	s.loggingIn++
	s.loggingInByIP[ip]++
}

// uncountLoginLocked undoes countLoginLocked: sess logged in or ended.
func (s *registry) uncountLoginLocked(sess *repl.Session) {
	ip := s.loggingInAs[sess.ID()]
	if ip == "" {
		return
	}
	s.loggingIn--
	if s.loggingInByIP[ip]--; s.loggingInByIP[ip] == 0 {
		delete(s.loggingInByIP, ip)
	}
	delete(s.loggingInAs, sess.ID())
}

// LoggedIn moves sess out of the logins' cap.
func (s *registry) LoggedIn(sess *repl.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uncountLoginLocked(sess)
}

// runLocked starts sess's goroutine, which unregisters it when it ends.
func (s *registry) runLocked(sess *repl.Session) {
	s.running[sess.ID()] = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.remove(sess)
		sess.Run(s.ctx)
	}()
}

func (s *registry) remove(sess *repl.Session) {
	s.mu.Lock()
	delete(s.sessions, sess.ID())
	delete(s.running, sess.ID())
	s.uncountLoginLocked(sess)
	s.checkEmptyLocked()
	s.mu.Unlock()
}

// close stops accepting, tells every session the server is going away,
// closes their connections and waits for their goroutines to end.
func (s *registry) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return err
}

// setMigrate sets what :migrate calls: it starts a migration in the
// background; out reaches the asking session if it fails.
func (s *registry) setMigrate(f func(out io.Writer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrate = f
}

// list lists the open sessions by id.
func (s *registry) list() []repl.SessionInfo {
	s.mu.Lock()
	list := make([]repl.SessionInfo, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess.Info())
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// What a session asks of its registry (repl.Host).

func (s *registry) Closing() bool { return s.isClosed() }

func (s *registry) CheckLogin(ctx context.Context, addr, user, password string) (bool, error) {
	release, err := s.gate.enter(ctx, addr)
	if err != nil {
		return false, err
	}
	ok := s.check(user, password)
	release(ok)
	return ok, nil
}

func (s *registry) SessionList() []repl.SessionInfo { return s.list() }

func (s *registry) Lookup(id uint64) *repl.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *registry) Migrator() func(out io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.migrate
}

func (s *registry) Upgrader() func(id uint64, out io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upgrade
}

// checkPassword checks user's password, given another way than at a
// session's prompts (via names the way for the log: ssh, dashboard), for
// a client at addr the way a telnet login does: through the same gate
// (bounded bcrypt at once, a budget of wrong passwords per address), with
// the same log line and the same delay after a wrong password. Its error
// is ctx's, when ctx ends first (the client left).
func (s *registry) checkPassword(ctx context.Context, addr, via, user, password string) (bool, error) {
	ok, err := s.CheckLogin(ctx, addr, user, password)
	if ok || err != nil {
		return ok, err
	}
	// A name that is nobody's may be a password typed at the wrong
	// prompt: it stays out of the log.
	who := "(unknown)"
	if s.cfg.Users.Has(user) {
		who = user
	}
	s.cfg.Logger.Warn("wrong password", "via", via, "addr", addr, "user", who)
	t := time.NewTimer(s.cfg.LoginDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
