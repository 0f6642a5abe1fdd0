package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("repl: server closed")

// Config is what a Server needs; the zero value of each optional field
// selects the default given beside it.
type Config struct {
	Users        *Users   // required
	Version      string   // this build's version, shown at login and as sys.Version
	Unrestricted bool     // let sessions import os/exec, syscall, unsafe
	Admins       []string // users who may type :migrate

	// Restored is a snapshot whose namespaces users may take with
	// :attach ID: a staging server (serve --restore).
	Restored *SnapshotFile

	MaxSessions     int           // connections at once, logged in or not; default 256
	MaxLogins       int           // connections not yet logged in at once; default 64
	MaxLoginsPerIP  int           // connections not yet logged in at once from one IP address; default 16
	LoginTimeout    time.Duration // to complete a login; default 60s
	LoginDelay      time.Duration // after a wrong password; default 1s
	LoginChecks     int           // password checks (bcrypt) at once; default one per CPU but one, at least 1
	NegotiationWait time.Duration // for the client's first telnet answer; default 1s
	Logger          *slog.Logger  // default slog.Default()

	// Namespaces opens the sessions' namespaces; default: in this
	// process, where a line that crashes the process ends every session.
	Namespaces Namespaces
	// LogLines puts the text of a line that ended its worker in the log
	// (off: the log names the session, user and reason only).
	LogLines bool

	// Home is the directory of the users' own directories (home.go): the
	// history kept across logins, and the files of :save and :load. Empty:
	// history lasts a session, and :save and :load are refused.
	Home string
	// Transports wraps the connections of framed sessions (Framed) that
	// arrive from another process, by kind; a session of a kind not here
	// fails the migration that brings it.
	Transports map[string]Transport

	// Transcripts is the directory where each session's typed lines and
	// printed output are written with their times (transcript.go). Empty:
	// none are.
	Transcripts string

	// Observer is told of logins and evaluations (observer.go); default:
	// nobody.
	Observer Observer
}

// SetDefaults fills in the optional fields left zero with their defaults.
func (c *Config) SetDefaults() {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 256
	}
	if c.MaxLogins <= 0 {
		c.MaxLogins = 64
	}
	if c.MaxLoginsPerIP <= 0 {
		c.MaxLoginsPerIP = 16
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = time.Minute
	}
	if c.LoginDelay <= 0 {
		c.LoginDelay = time.Second
	}
	if c.NegotiationWait <= 0 {
		c.NegotiationWait = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Namespaces == nil {
		c.Namespaces = inProcess{}
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
}

// An address may get loginBurst wrong passwords checked at once, then one
// every loginRefill (see gate): a user who mistypes a few times never
// waits; a script guessing gets one guess a second, and the CPU that goes
// with it, from each address.
const (
	loginBurst  = 8
	loginRefill = time.Second
)

// Server accepts telnet connections and runs a session on each. It is the
// registry of sessions.
type Server struct {
	cfg   Config
	gate  *gate                            // bounds the CPU of password checks
	check func(name, password string) bool // cfg.Users.Check; a test's seam

	mu       sync.Mutex
	ln       net.Listener        // guarded by mu
	sessions map[uint64]*Session // every open connection; guarded by mu
	nextID   uint64              // guarded by mu
	// Sessions not logged in yet, in all and by IP address (see
	// Session.loggingIn): a connection cap of their own, so that
	// connections that never log in cannot take every place.
	loggingIn     int               // guarded by mu
	loggingInByIP map[string]int    // guarded by mu
	loggingInAs   map[uint64]string // the address each session logging in counts under; guarded by mu
	running       map[uint64]bool   // sessions whose goroutine was started (not adopted or held); guarded by mu
	closed        bool              // guarded by mu
	adopted       []*Session        // restored from another process, not yet running; guarded by mu

	migrate  func(out io.Writer)            // starts a migration for :migrate; guarded by mu
	upgrade  func(id uint64, out io.Writer) // moves a session for :upgrade; guarded by mu
	detached bool                           // the listener belongs to another process; guarded by mu
	empty    chan struct{}                  // closed when detached with no session left
	emptied  bool                           // empty is closed; guarded by mu
	notice   string                         // shown by adopted sessions as they start; guarded by mu

	prebuilt map[uint64]*Prebuilt // namespaces restored ahead of a handoff; guarded by mu
	reused   int                 // prebuilt namespaces adopted sessions took; guarded by mu

	cond         *sync.Cond      // on mu: signals acceptPaused and acceptIdle
	acceptPaused bool            // a migration holds the accept loop; guarded by mu
	acceptIdle   bool            // the accept loop is waiting for Resume; guarded by mu
	wg           sync.WaitGroup  // one per session goroutine
	ctx          context.Context // cancelled by Close; ends every session
	cancel       context.CancelFunc
}

// NewServer returns a server with cfg. cfg.Users must be set.
func NewServer(cfg Config) *Server {
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, loggingInByIP: map[string]int{}, loggingInAs: map[uint64]string{}, running: map[uint64]bool{}, gate: newGate(cfg.LoginChecks, loginBurst, loginRefill), sessions: make(map[uint64]*Session), ctx: ctx, cancel: cancel, empty: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	s.check = cfg.Users.Check
	return s
}

// Serve accepts connections on ln until Close, and always returns a
// non-nil error: ErrServerClosed after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()

	s.startAdopted()
	var delay time.Duration // back-off on temporary errors such as EMFILE, as net/http does
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if s.isDetached() {
				return ErrDetached
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
		s.start(c)
	}
}

func (s *Server) isDetached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeConn runs a session on c, a connection that came another way than
// Serve's listener (a browser's WebSocket, an SSH relay's socket): the
// same caps apply, and a migration under way holds it until it ends. It
// returns an error, and closes c, when this server no longer takes
// sessions (closed, or handed to another process). opts say how the
// session starts (LoggedIn).
func (s *Server) ServeConn(c net.Conn, opts ...ConnOption) error {
	s.mu.Lock()
	for s.acceptPaused && !s.closed && !s.detached {
		s.cond.Wait()
	}
	closed, detached := s.closed, s.detached
	s.mu.Unlock()
	switch {
	case closed:
		c.Close()
		return ErrServerClosed
	case detached:
		c.Close()
		return ErrDetached
	}
	s.start(c, opts...)
	return nil
}

// start registers a session for c and runs it in its own goroutine, or
// turns c away when the server is full.
func (s *Server) start(c net.Conn, opts ...ConnOption) {
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
		sess := NewSession(s, &s.cfg, s.nextID, c, opts...)
		s.sessions[sess.id] = sess
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
func (s *Server) countLoginLocked(sess *Session) {
	if s.loggingInAs[sess.id] != "" || sess.user != "" {
		return
	}
	ip := ipOf(sess.addr)
	s.loggingInAs[sess.id] = ip
	s.loggingIn++
	s.loggingInByIP[ip]++
}

// uncountLoginLocked undoes countLoginLocked: sess logged in or ended.
func (s *Server) uncountLoginLocked(sess *Session) {
	ip := s.loggingInAs[sess.id]
	if ip == "" {
		return
	}
	s.loggingIn--
	if s.loggingInByIP[ip]--; s.loggingInByIP[ip] == 0 {
		delete(s.loggingInByIP, ip)
	}
	delete(s.loggingInAs, sess.id)
}

// LoggedIn moves sess out of the logins' cap.
func (s *Server) LoggedIn(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uncountLoginLocked(sess)
}

// runLocked starts sess's goroutine, which unregisters it when it ends.
func (s *Server) runLocked(sess *Session) {
	s.running[sess.id] = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.remove(sess)
		sess.Run(s.ctx)
	}()
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	delete(s.sessions, sess.id)
	delete(s.running, sess.id)
	s.uncountLoginLocked(sess)
	s.checkEmptyLocked()
	s.mu.Unlock()
}

// Close stops accepting, tells every session the server is going away,
// closes their connections and waits for their goroutines to end.
func (s *Server) Close() error {
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

// SetMigrate sets what :migrate calls: it starts a migration in the
// background; out reaches the asking session if it fails.
func (s *Server) SetMigrate(f func(out io.Writer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrate = f
}

// SessionInfo describes a session for :who and the status command.
type SessionInfo struct {
	ID    uint64
	User  string // empty while logging in
	Addr  string
	Since time.Time
	State string // logging in, idle, evaluating or watching

	// Worker is the process that evaluates the session's code, and
	// Memory its resident memory (shared with the other sessions it
	// holds); 0 before the first line, or when code runs in the server.
	Worker int
	Memory int64

	// Shared: its user allows :watch (:share); Watching: the session it
	// watches, 0 if none (its State is then "watching").
	Shared   bool
	Watching uint64
}

// WorkerString says where the session's code runs, for people.
func (i SessionInfo) WorkerString() string {
	if i.Worker == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%d MiB)", i.Worker, i.Memory>>20)
}

// Sessions lists the open sessions by id.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	list := make([]SessionInfo, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess.Info())
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}
