package front

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	"translucent/dashboard"
	"translucent/migrate"
	"translucent/repl"
	"translucent/worker"
)

// meta is what a process tells its successor about itself (Header.Meta)
// and what a successor reports back (READY).
type meta struct {
	Pid      int
	Version  string
	Sessions int           `cbor:",omitempty"`
	Restore  time.Duration `cbor:",omitempty"` // the successor's time to restore every session

	// An incremental migration's old process: its own control socket,
	// where it keeps serving its sessions, and its last session id.
	Peer   string `cbor:",omitempty"`
	NextID uint64 `cbor:",omitempty"`

	// Prebuilt is how many namespaces the successor had restored before
	// the pause, from the old process's live snapshot (--precopy).
	Prebuilt int `cbor:",omitempty"`

	// Home is the default new build (migrator.home), passed on from the
	// server's first process to each successor.
	Home string `cbor:",omitempty"`

	// Listeners names the handed-over listeners, in the order of their
	// descriptors (see listeners.go).
	Listeners []string `cbor:",omitempty"`

	// What the old process knew of the migration when it sent the
	// sessions, for the new one's metrics (metrics.go): its phases so far,
	// when the pause began and when the transfer did (Unix nanoseconds: the
	// two processes share the clock), and how many values it could not
	// carry.
	Phases     []migrate.Phase `cbor:",omitempty"`
	PausedAt   int64           `cbor:",omitempty"`
	SentAt     int64           `cbor:",omitempty"`
	NotCarried int             `cbor:",omitempty"`
	// Relay is the SSH relay's pid (serve --ssh), which the successor
	// supervises rather than start another.
	Relay int `cbor:",omitempty"`
}

// Run serves until ctx ends or a successor has taken over: a fresh server
// takes its listeners, a successor (started by a migration, see package
// migrate) receives them and every session from its predecessor.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	log := cfg.Logger.With("pid", os.Getpid())
	if os.Getenv("GOGC") == "" {
		// Most of this heap is interpreters that live as long as their
		// sessions, so each collection marks nearly all of it for little
		// garbage: with 10,000 namespaces (2 GB) a collection takes seconds
		// of CPU, and the lines typed meanwhile wait. Collecting at 3× the
		// live heap rather than 2× halves how often, for a bit more memory.
		debug.SetGCPercent(200)
	}
	pred, err := migrate.Inherited()
	if err != nil {
		return err
	}
	// A fresh server takes its sockets first, so that a second one started
	// by mistake fails before it touches the first one's files.
	var ls listeners
	if pred == nil {
		if ls, err = listen(&cfg); err != nil {
			if errors.Is(err, migrate.ErrNotPrivate) {
				return fmt.Errorf("serve: %w; another user may have created it: give serve, migrate and status the same --control PATH in a directory of your own, or set XDG_RUNTIME_DIR (the default is then $XDG_RUNTIME_DIR/translucent/control.sock)", err)
			}
			return fmt.Errorf("serve: %w", err)
		}
	}
	if dir, err := privateDirPath(); err == nil {
		removeStalePrecopies(dir, log)
	}
	users, usersFile, err := loadOrCreateUsers(cfg.Users, log)
	if err != nil {
		ls.close()
		return err
	}
	var restored *repl.SnapshotFile
	if cfg.Restore != "" {
		if restored, err = OpenSnapshot(cfg.Restore, nil); err != nil {
			ls.close()
			return err
		}
		log.Info("staging: snapshot sessions available to :attach", "file", cfg.Restore, "sessions", len(restored.Sessions), "from_pid", restored.Pid, "from_version", restored.ServerVersion)
	}
	nss, closeWorkers, err := namespaces(cfg, log)
	if err != nil {
		ls.close()
		return err
	}
	defer closeWorkers()
	var workerEnds func() int64
	if p, ok := nss.(workerPool); ok {
		workerEnds = p.Ended
	}
	met := newMetrics(cfg.Version, workerEnds)
	rc := cfg.REPL
	rc.Namespaces, rc.Restored, rc.Users, rc.Version, rc.Logger, rc.Observer = nss, restored, users, cfg.Version, log, met
	rc.Transports = withWeb(rc.Transports)
	srv := newRegistry(rc)
	met.sessions = srv.list

	var old meta
	if pred != nil && cfg.Precopy != "" {
		// Restore the namespaces now, before the old process pauses
		// anyone: the sessions that have not changed since are given
		// these, and the pause is spared their restore.
		pre, err := OpenSnapshot(cfg.Precopy, nil)
		removeOwnPrecopy(cfg.Precopy) // read or not, it holds users' namespaces
		if err != nil {
			log.Warn("precopy unreadable; every namespace is restored in the pause", "err", err)
		} else {
			// Fewer collections while the heap grows from nothing to every
			// namespace: their marking runs at normal priority, beside an
			// old process that still serves everyone. One collection
			// follows (below), before the pause.
			gc := debug.SetGCPercent(400)
			n, took := srv.prebuild(pre)
			debug.SetGCPercent(gc)
			log.Info("namespaces restored ahead of the handoff", "sessions", n, "took", took)
		}
	}
	if pred != nil {
		// Collect the garbage of starting (and of restoring ahead) now,
		// while the old process still serves, then hold the collector
		// until the sessions are ours: a collection of the heap just built
		// would otherwise fall in the pause, or in the lines queued by it.
		// On one CPU: marking would take them all, and the old process
		// still serves everyone.
		procs := runtime.GOMAXPROCS(1)
		runtime.GC()
		runtime.GOMAXPROCS(procs)
		release := holdGC()
		ls, old, err = takeOver(ctx, pred, srv, &cfg, log, met)
		release()
		if err != nil {
			return err
		}
		if cfg.Announce {
			srv.announce(fmt.Sprintf("[translucent: this session moved from pid %d (%s) to pid %d (%s)]", old.Pid, old.Version, os.Getpid(), cfg.Version))
		}
	}
	relay, err := startSSH(&ls, &cfg, old.Relay, srv, users, log)
	if err != nil {
		ls.close()
		return err
	}
	addr := ls.telnet.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		log.Warn("listening beyond loopback: telnet is cleartext, so passwords and code cross the network unencrypted")
	}

	m := &migrator{srv: srv, metrics: met, relay: relay, ls: &ls, args: successorArgs(cfg.Args, usersFile), home: old.Home, log: log, cfg: &cfg, handedOff: make(chan struct{})}
	if m.home == "" { // the server's first process, or the successor of a build that did not say
		if m.home, err = executable(); err != nil {
			log.Warn("this process's executable path is unknown: migrate needs --binary", "err", err)
		}
	}
	m.peer.detached = make(chan struct{})
	if pred != nil && old.Peer != "" {
		// An incremental migration: the old process keeps its sessions.
		m.peer.set(old.Peer)
		srv.setNextID(old.NextID)
	}
	srv.setMigrate(m.fromSession)
	m.events = dashboard.NewHub()
	dash := dashSource{m: m}
	if pred != nil {
		dash.pred = &dashboard.Process{Pid: old.Pid, Version: old.Version}
	}

	if err := writePidfile(cfg.Pidfile); err != nil {
		log.Error("pidfile", "err", err)
	}
	if err := sdNotify(fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid())); err != nil {
		log.Error("systemd", "err", err)
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1" // or any of this machine's addresses
	}
	errc := make(chan error, 2)
	// The status page logs its address before the telnet one: whoever
	// waits for "listening" finds both.
	page := newStatusPage(cfg.Version, met, dashboard.New(dash, m.events), m.events, ls.http, log, errc)
	log.Info("listening", "addr", addr.String(), "connect", fmt.Sprintf("telnet %s %d", host, addr.Port), "control", ls.control.Path(), "version", cfg.Version)
	go func() { errc <- srv.serve(ls.telnet) }()
	term := newWebTerminal(srv, met, dashboard.New(dash, m.events).WithTerminal("/"), m.events, ls.web, log, errc)
	ctlDone := make(chan error, 1)
	ctl := ls.control
	go func() { ctlDone <- ctl.Serve(m.handle) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The ways in beside telnet, stopped with the process, or let go to a
	// successor: it accepts on its copies of their listeners, and watches
	// the SSH relay.
	stopWays := func() {
		page.stop()
		term.stop()
		relay.stop()
		ls.closeSSH(true)
	}
	handOffWays := func() {
		page.handOff()
		term.handOff()
		relay.detach()
		ls.closeSSH(false)
	}

	var emptied <-chan struct{} // set once detached
	detached := m.peer.detached
	for {
		select {
		case err := <-errc:
			if errors.Is(err, errDetached) {
				continue // an incremental migration: the sessions go on
			}
			ctl.Close()
			srv.close()
			stopWays()
			return err
		case <-hup:
			go m.fromSignal() // ends with the migration; m.busy keeps it to one
		case <-m.handedOff:
			// The successor owns the listener, the control socket and every
			// connection. Leave them as they are: no goodbye, no shutdown.
			ctl.Detach()
			ctl.Close()
			handOffWays()
			// This process still has to exit, and the kernel frees its
			// memory (gigabytes at 10,000 sessions) on its threads, while
			// its successor needs every CPU for the lines typed during the
			// pause.
			worker.Yield(os.Getpid())
			<-ctlDone // the migrate command has its answer
			log.Info("handed over; exiting")
			return nil
		case <-detached:
			// An incremental migration committed: the new process accepts
			// and answers the main control socket; this one serves its
			// sessions, on a control socket of its own, until they leave.
			srv.detach()
			ctl.Detach()
			ctl.Close()
			<-ctlDone
			handOffWays()
			ctl = m.peer.ctl
			m.ls.control = ctl
			go func() { ctlDone <- ctl.Serve(m.handle) }()
			emptied = srv.whenEmpty()
			detached = nil
			log.Info("listener handed over; serving the remaining sessions until they leave", "sessions", len(srv.list()), "control", ctl.Path())
		case <-emptied:
			log.Info("the last session has left; exiting")
			ctl.Close()
			<-ctlDone // the command that moved it has its answer
			srv.close()
			return nil
		case <-ctx.Done():
			log.Info("shutting down")
			ctl.Close()
			srv.close()
			stopWays()
			<-errc
			return nil
		}
	}
}

// successorArgs returns the arguments of this process's successor, given
// this process's serve arguments: the same flags, with the users file this
// process settled on (the generated admin's, if any) in place of any given,
// and without this process's own precopy file. Each migration's successor
// gets the same flags again, not one more --users.
func successorArgs(args []string, usersFile string) []string {
	args = withoutFlag(withoutFlag(args, "precopy"), "users")
	return append(append([]string{"serve"}, args...), "--users", usersFile)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// withoutFlag returns args without flag name and its value, in either
// form (--name V, --name=V, one dash or two).
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == name && len(a) < len(args[i]):
			i++ // and its value
		case strings.HasPrefix(a, name+"=") && len(a) < len(args[i]):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// defaults fills in what the zero Config leaves to them.
func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:2323"
	}
	if c.Control == "" {
		c.Control = migrate.DefaultControlPath()
	}
	if c.Grace <= 0 {
		c.Grace = 2 * time.Second
	}
	if c.Isolate == "" {
		c.Isolate = "pool"
	}
	if c.PoolSize <= 0 {
		c.PoolSize = 16
	}
	if c.Version == "" {
		c.Version = "devel (" + runtime.Version() + ")"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
}
