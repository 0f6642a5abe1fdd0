package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/migrate"
	"translucent/repl"
)

// serveFlags are serve's flags; a successor is started with the same ones.
type serveFlags struct {
	listen, users, control string
	unrestricted, strict   bool
	maxSessions            int
	maxLogins, maxLoginsIP int
	loginTimeout           time.Duration
	loginDelay             time.Duration
	grace, migrateTimeout  time.Duration
	admins                 string
	pidfile                string
	announce               bool
	http                   string
	restore                string
	precopy                string
	isolate                string
	poolSize               int
	sessionMemory          int64
	evalTimeout            time.Duration
	logLines               bool
	home, transcripts      string
}

func parseServeFlags(args []string, stdout, stderr io.Writer) (*serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:2323", "telnet `address` to listen on (cleartext: keep it on loopback)")
	fs.StringVar(&f.users, "users", "", "htpasswd `file` of users (NAME:BCRYPT); without it an admin with a random password is created")
	fs.StringVar(&f.control, "control", migrate.DefaultControlPath(), "control socket `path` for migrate and status")
	fs.BoolVar(&f.unrestricted, "unrestricted", false, "let sessions import os/exec, syscall and unsafe")
	fs.IntVar(&f.maxSessions, "max-sessions", 256, "connections served at once")
	fs.IntVar(&f.maxLogins, "max-logins", 64, "connections not yet logged in at once (within --max-sessions)")
	fs.IntVar(&f.maxLoginsIP, "max-logins-per-ip", 16, "connections not yet logged in at once from one IP address")
	fs.DurationVar(&f.loginTimeout, "login-timeout", time.Minute, "time allowed to log in")
	fs.DurationVar(&f.loginDelay, "login-delay", time.Second, "pause after a wrong password")
	fs.DurationVar(&f.grace, "grace", 2*time.Second, "time a running evaluation gets to finish before a migration interrupts it")
	fs.DurationVar(&f.migrateTimeout, "migrate-timeout", 0, "time allowed for a migration (SIGHUP, :migrate); 0: 30s plus 10ms per session")
	fs.BoolVar(&f.strict, "strict", false, "abort a migration (SIGHUP, :migrate) when a value cannot be carried")
	fs.StringVar(&f.admins, "admins", "admin", "comma-separated `users` who may type :migrate")
	fs.StringVar(&f.pidfile, "pidfile", "", "`file` holding the serving process's pid, rewritten atomically by each new process")
	fs.BoolVar(&f.announce, "announce", false, "after a migration, show each session a one-line notice (off: the session simply goes on)")
	fs.StringVar(&f.restore, "restore", "", "a staging server: offer the namespaces of this snapshot `file` to :attach")
	fs.StringVar(&f.precopy, "precopy", "", "(set by a migrating server for its successor) a snapshot `file` of namespaces to restore before the handoff")
	fs.StringVar(&f.http, "http", "", "also serve a stateless HTTP status page (pid and version) on `address`; it moves with the telnet port")
	fs.StringVar(&f.isolate, "isolate", "pool", "where sessions' code runs: pool (--pool-size sessions per worker), session (a worker process each) or none (in this process: one crash ends every session)")
	fs.IntVar(&f.poolSize, "pool-size", 16, "sessions per worker with --isolate pool")
	fs.Int64Var(&f.sessionMemory, "session-memory", 512, "`MiB` of resident memory a worker may use per session it holds; past it the line is rolled back (0: no limit)")
	fs.DurationVar(&f.evalTimeout, "eval-timeout", 0, "time one line may run before it is interrupted (0: no limit)")
	fs.BoolVar(&f.logLines, "log-lines", false, "log the text of a line that ended its worker (off: only the session, user and reason)")
	fs.StringVar(&f.home, "home", defaultHome(), "`directory` of the users' own directories (0700): history kept across logins, files of :save and :load; empty: none")
	fs.StringVar(&f.transcripts, "transcripts", "", "write each session's typed lines and output, with times, to a file (0600) in `directory` (off: none)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	return &f, nil
}

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
}

func versionString() string { return fmt.Sprintf("%s (%s)", buildVersion(), runtime.Version()) }

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("pid", os.Getpid())
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
	var ln, hln net.Listener
	var ctl *migrate.ControlListener
	closeAll := func() {
		if ln != nil {
			ln.Close()
		}
		if hln != nil {
			hln.Close()
		}
		if ctl != nil {
			ctl.Close()
		}
	}
	if pred == nil {
		if ln, err = net.Listen("tcp", f.listen); err != nil {
			return err
		}
		if f.http != "" {
			if hln, err = net.Listen("tcp", f.http); err != nil {
				closeAll()
				return err
			}
		}
		if ctl, err = migrate.ListenControl(f.control); err != nil {
			closeAll()
			if errors.Is(err, migrate.ErrNotPrivate) {
				return fmt.Errorf("serve: %w; another user may have created it: give serve, migrate and status the same --control PATH in a directory of your own, or set XDG_RUNTIME_DIR (the default is then $XDG_RUNTIME_DIR/translucent/control.sock)", err)
			}
			return fmt.Errorf("serve: %w", err)
		}
	}
	if dir, err := privateDirPath(); err == nil {
		removeStalePrecopies(dir, log)
	}
	users, usersFile, err := loadOrCreateUsers(f.users, log)
	if err != nil {
		closeAll()
		return err
	}
	var restored *repl.SnapshotFile
	if f.restore != "" {
		if restored, err = openSnapshot(f.restore, nil); err != nil {
			closeAll()
			return err
		}
		log.Info("staging: snapshot sessions available to :attach", "file", f.restore, "sessions", len(restored.Sessions), "from_pid", restored.Pid, "from_version", restored.ServerVersion)
	}
	nss, closeWorkers, err := namespaces(f, log)
	if err != nil {
		closeAll()
		return err
	}
	defer closeWorkers()
	srv := repl.NewServer(repl.Config{
		Namespaces:     nss,
		LogLines:       f.logLines,
		Home:           f.home,
		Transcripts:    f.transcripts,
		Restored:       restored,
		Users:          users,
		Version:        versionString(),
		Unrestricted:   f.unrestricted,
		MaxSessions:    f.maxSessions,
		MaxLogins:      f.maxLogins,
		MaxLoginsPerIP: f.maxLoginsIP,
		LoginTimeout:   f.loginTimeout,
		LoginDelay:     f.loginDelay,
		Admins:         splitList(f.admins),
		Logger:         log,
	})

	var old meta
	if pred != nil && f.precopy != "" {
		// Restore the namespaces now, before the old process pauses
		// anyone: the sessions that have not changed since are given
		// these, and the pause is spared their restore.
		pre, err := openSnapshot(f.precopy, nil)
		removeOwnPrecopy(f.precopy) // read or not, it holds users' namespaces
		if err != nil {
			log.Warn("precopy unreadable; every namespace is restored in the pause", "err", err)
		} else {
			// Fewer collections while the heap grows from nothing to every
			// namespace: their marking runs at normal priority, beside an
			// old process that still serves everyone. One collection
			// follows (below), before the pause.
			gc := debug.SetGCPercent(400)
			n, took := srv.Prebuild(pre)
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
		ln, ctl, hln, old, err = takeOver(ctx, pred, srv, log)
		release()
		if err != nil {
			return err
		}
		if f.announce {
			srv.Announce(fmt.Sprintf("[translucent: this session moved from pid %d (%s) to pid %d (%s)]", old.Pid, old.Version, os.Getpid(), versionString()))
		}
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		log.Warn("listening beyond loopback: telnet is cleartext, so passwords and code cross the network unencrypted")
	}

	m := &migrator{srv: srv, ctl: ctl, http: hln, args: successorArgs(args, usersFile), home: old.Home, log: log, flags: f, handedOff: make(chan struct{})}
	if m.home == "" { // the server's first process, or the successor of a build that did not say
		if m.home, err = executable(); err != nil {
			log.Warn("this process's executable path is unknown: migrate needs --binary", "err", err)
		}
	}
	m.peer.detached = make(chan struct{})
	if pred != nil && old.Peer != "" {
		// An incremental migration: the old process keeps its sessions.
		m.peer.set(old.Peer)
		srv.SetNextID(old.NextID)
	}
	srv.SetMigrate(m.fromSession)

	if err := writePidfile(f.pidfile); err != nil {
		log.Error("pidfile", "err", err)
	}
	if err := sdNotify(fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid())); err != nil {
		log.Error("systemd", "err", err)
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1" // or any of this machine's addresses
	}
	log.Info("listening", "addr", addr.String(), "connect", fmt.Sprintf("telnet %s %d", host, addr.Port), "control", ctl.Path(), "version", versionString())
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	page := newStatusPage(srv, hln, log, errc)
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Serve(m.handle) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var emptied <-chan struct{} // set once detached
	detached := m.peer.detached
	for {
		select {
		case err := <-errc:
			if errors.Is(err, repl.ErrDetached) {
				continue // an incremental migration: the sessions go on
			}
			ctl.Close()
			srv.Close()
			page.stop()
			return err
		case <-hup:
			go m.fromSignal() // ends with the migration; m.busy keeps it to one
		case <-m.handedOff:
			// The successor owns the listener, the control socket and every
			// connection. Leave them as they are: no goodbye, no shutdown.
			ctl.Detach()
			ctl.Close()
			page.handOff() // the successor accepts on its copy of the socket
			yieldCPU()
			<-ctlDone // the migrate command has its answer
			log.Info("handed over; exiting")
			return nil
		case <-detached:
			// An incremental migration committed: the new process accepts
			// and answers the main control socket; this one serves its
			// sessions, on a control socket of its own, until they leave.
			srv.Detach()
			ctl.Detach()
			ctl.Close()
			<-ctlDone
			page.handOff()
			ctl = m.peer.ctl
			m.ctl = ctl
			go func() { ctlDone <- ctl.Serve(m.handle) }()
			emptied = srv.Emptied()
			detached = nil
			log.Info("listener handed over; serving the remaining sessions until they leave", "sessions", len(srv.Sessions()), "control", ctl.Path())
		case <-emptied:
			log.Info("the last session has left; exiting")
			ctl.Close()
			<-ctlDone // the command that moved it has its answer
			srv.Close()
			return nil
		case <-ctx.Done():
			log.Info("shutting down")
			ctl.Close()
			srv.Close()
			page.stop()
			<-errc
			return nil
		}
	}
}

// takeOver is a successor's side of the handoff: receive, restore, READY,
// wait for COMMIT. On any failure before COMMIT it tells the predecessor
// and returns, touching no connection (the predecessor still owns them).
func takeOver(ctx context.Context, pred *migrate.Predecessor, srv *repl.Server, log *slog.Logger) (net.Listener, *migrate.ControlListener, net.Listener, meta, error) {
	defer pred.Close()
	if hook := os.Getenv("TRANSLUCENT_TEST_FAIL"); hook == "exit-before-receive" {
		os.Exit(3) // failure injection for the end-to-end tests
	}
	var old meta
	if err := pred.Hello(srv.Ahead()); err != nil {
		return nil, nil, nil, old, err
	}
	h, listeners, records, err := pred.Receive()
	if err != nil {
		return nil, nil, nil, old, fmt.Errorf("receiving the handoff: %w", err)
	}
	start := time.Now()
	fail := func(err error) (net.Listener, *migrate.ControlListener, net.Listener, meta, error) {
		pred.Fail(err.Error())
		for _, f := range listeners {
			f.Close()
		}
		return nil, nil, nil, old, err
	}
	if err := cbor.Unmarshal(h.Meta, &old); err != nil {
		return fail(fmt.Errorf("handoff header: %w", err))
	}
	// telnet, control, and the HTTP status page when there is one.
	if len(listeners) != 2 && len(listeners) != 3 {
		return fail(fmt.Errorf("handoff: want 2 or 3 listeners, got %d", len(listeners)))
	}
	ln, err := net.FileListener(listeners[0])
	if err != nil {
		return fail(err)
	}
	listeners[0].Close() // ln holds its own copy
	var hln net.Listener
	if len(listeners) == 3 {
		if hln, err = net.FileListener(listeners[2]); err != nil {
			ln.Close()
			return fail(err)
		}
		listeners[2].Close()
	}
	ctl, err := migrate.ControlFromFile(listeners[1])
	if err != nil {
		ln.Close()
		if hln != nil {
			hln.Close()
		}
		return fail(err)
	}
	data, conns := make([][]byte, len(records)), make([]*os.File, len(records))
	for i, r := range records {
		data[i], conns[i] = r.Data, r.Conn
	}
	err = srv.AdoptAll(data, conns)
	if err == nil && os.Getenv("TRANSLUCENT_TEST_FAIL") == "refuse" {
		err = fmt.Errorf("refused by TRANSLUCENT_TEST_FAIL")
	}
	if err != nil {
		ln.Close()
		if hln != nil {
			hln.Close()
		}
		ctl.Detach()
		ctl.Close()
		return fail(err)
	}
	if os.Getenv("TRANSLUCENT_TEST_FAIL") == "exit-before-ready" {
		os.Exit(3)
	}
	reused := srv.DropPrebuilt()
	report, _ := cbor.Marshal(meta{Pid: os.Getpid(), Version: versionString(), Sessions: len(records), Restore: time.Since(start), Prebuilt: reused})
	if err := pred.Ready(report); err != nil {
		os.Exit(1) // the predecessor, alive, aborted: it still owns everything
	}
	if err := pred.WaitCommit(ctx); err != nil {
		log.Error("handoff not committed; exiting without touching the old process's connections", "err", err)
		os.Exit(1)
	}
	if pred.PredecessorDied() {
		log.Warn("the old process died before COMMIT; going on with what it handed over", "sessions", len(records), "announced", h.Sessions)
	}
	log.Info("took over", "from_pid", old.Pid, "from_version", old.Version, "sessions", len(records), "prebuilt", reused, "restore", time.Since(start))
	return ln, ctl, hln, old, nil
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

// yieldCPU puts every thread of this process at the lowest CPU priority
// (nice 19). A process that has handed over still has to exit, and the
// kernel frees its memory (gigabytes at 10,000 sessions, a few hundred
// milliseconds of CPU) on its threads, while its successor needs every
// CPU for the lines its users typed during the pause. Best effort.
func yieldCPU() {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
		}
	}
}
