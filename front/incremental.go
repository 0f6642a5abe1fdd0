package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/migrate"
)

// Incremental migration, the talk's per-user upgrade. The listener moves
// to the new process at once (new logins get the new build) while the old
// one keeps its sessions and answers on a control socket of its own; each
// session then moves when its user types :upgrade or the operator runs
// `migrate --session ID`, and may move back the same way. The old process
// exits when its last session has left.
//
// A move is a two-phase commit over the control sockets: the sender
// pauses the session and sends its record and connection ("adopt"); the
// receiver restores it but does not run it; "commit" runs it, and only
// then does the sender let go. On any failure before that the session
// stays where it was.

// peerState is what a process knows of the other one while both run.
type peerState struct {
	mu       sync.Mutex
	path     string        // the other process's control socket; "" when none
	detached chan struct{} // closed when this (old) process handed its listener over
	ctl      *migrate.ControlListener
}

func (p *peerState) get() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.path
}

func (p *peerState) set(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.path = path
}

// livePeer returns the other process's control socket, or "" once it has
// gone (an old process exits with its last session).
func (m *migrator) livePeer(ctx context.Context) string {
	path := m.peer.get()
	if path == "" {
		return ""
	}
	_, err := migrate.Call(ctx, path, migrate.Request{Command: "status", Args: map[string]string{"local": "true"}}, nil)
	if errors.Is(err, migrate.ErrNoServer) {
		m.peer.set("")
		return ""
	}
	return path
}

func (m *migrator) isDetached() bool {
	select {
	case <-m.peer.detached:
		return true
	default:
		return false
	}
}

// listenerOnly is the Service of an incremental migration: it moves the
// listeners and no session.
type listenerOnly struct{ m *migrator }

func (s listenerOnly) Pause(ctx context.Context) error { return s.m.srv.pauseAccept(ctx) }
func (s listenerOnly) Resume()                         { s.m.srv.resume() }
func (s listenerOnly) Export() ([]*os.File, []migrate.Record, []string, error) {
	files, err := s.m.ls.files(s.m.srv.listenerFile)
	return files, nil, nil, err
}

// runIncremental hands the listener (and the main control socket) to a
// new process and keeps the sessions here.
func (m *migrator) runIncremental(ctx context.Context, req migration, progress io.Writer) error {
	if !m.busy.TryLock() {
		return migrate.ErrInProgress
	}
	defer m.busy.Unlock()
	if err := m.canMigrate(ctx); err != nil {
		return err
	}
	binary, err := m.binary(req.binary)
	if err != nil {
		return err
	}
	// This process's control socket for the time both run: the new one
	// learns its path from the handoff, and takes over the main one.
	own, err := migrate.ListenControl(fmt.Sprintf("%s.%d", m.ls.control.Path(), os.Getpid()))
	if err != nil {
		return err
	}
	self, _ := cbor.Marshal(meta{Pid: os.Getpid(), Version: m.cfg.Version, Peer: own.Path(), NextID: m.srv.lastID(), Home: m.home, Listeners: m.ls.names(), Relay: m.relay.Pid()})
	fmt.Fprintf(progress, "incremental migration: pid %d (%s) hands its listener to %s and keeps its %s until each has moved\n",
		os.Getpid(), m.cfg.Version, binary, plural(len(m.srv.list()), "session"))
	rep, err := migrate.Handoff(ctx, listenerOnly{m}, migrate.Options{
		Binary: binary, Args: m.args, Timeout: m.timeoutFor(req.timeout), Meta: self, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		own.Close()
		m.log.Error("incremental migration failed; nothing changed", "err", err)
		return err
	}
	var succ meta
	cbor.Unmarshal(rep.Successor, &succ)
	m.peer.set(m.ls.control.Path()) // the new process answers there now
	m.peer.ctl = own
	m.srv.setUpgrade(m.fromUpgrade)
	m.log.Info("incremental migration: listener handed over", "new_pid", rep.NewPid, "new_version", succ.Version, "own_control", own.Path())
	fmt.Fprintf(progress, "old pid %d (%s): keeps its sessions, control %s\nnew pid %d (%s): takes new logins\n%s",
		os.Getpid(), m.cfg.Version, own.Path(), rep.NewPid, succ.Version, rep)
	fmt.Fprintf(progress, "move a session with :upgrade or 'translucent migrate --session ID'; pid %d exits when its last session has left\n", os.Getpid())
	close(m.peer.detached)
	return nil
}

// canMigrate refuses a migration while two processes share the service.
func (m *migrator) canMigrate(ctx context.Context) error {
	if m.isDetached() {
		return errors.New("this process handed its listener over in an incremental migration; migrate the new one")
	}
	if peer := m.livePeer(ctx); peer != "" {
		return fmt.Errorf("an incremental migration is under way: the old process (%s) still serves sessions; move them first (migrate --session ID)", peer)
	}
	return nil
}

// move sends session id to the other process.
func (m *migrator) move(ctx context.Context, id uint64, grace time.Duration, drop []string, progress io.Writer) error {
	to := m.livePeer(ctx)
	if to == "" {
		return errors.New("no other process to move to (migrate --incremental starts one)")
	}
	start := time.Now()
	e, err := m.srv.leave(ctx, id, grace, drop...)
	if err != nil {
		return err
	}
	paused := time.Now()
	conn, err := e.Conn.File() // a duplicate, for the request; ours stays open
	if err != nil {
		m.srv.stay(id)
		return err
	}
	resp, err := migrate.Call(ctx, to, migrate.Request{
		Command: "adopt", Data: e.State, Files: []*os.File{conn},
		Args: map[string]string{"from": strconv.Itoa(os.Getpid())},
	}, nil)
	conn.Close()
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		m.srv.stay(id)
		return fmt.Errorf("session %d stays here: %w", id, err)
	}
	restored := time.Now()
	commit := migrate.Request{Command: "commit", Args: map[string]string{"session": strconv.FormatUint(id, 10)}}
	resp, err = migrate.Call(ctx, to, commit, nil)
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		// Whether the other side runs it decides who keeps it: ask it to
		// let go; if it is no longer waiting there, it runs there.
		abort := migrate.Request{Command: "abort", Args: commit.Args}
		if r, aerr := migrate.Call(context.WithoutCancel(ctx), to, abort, nil); aerr != nil || r.OK {
			m.srv.stay(id)
			return fmt.Errorf("session %d stays here: commit: %w", id, err)
		}
	}
	m.srv.left(id)
	m.log.Info("session moved", "session", id, "to", to, "pause", time.Since(start), "restore", restored.Sub(paused), "not_carried", e.Lost)
	fmt.Fprintf(progress, "session %d moved from pid %d (%s); pause %v (restore %v)\n", id, os.Getpid(), m.cfg.Version,
		time.Since(start).Round(time.Microsecond), restored.Sub(paused).Round(time.Microsecond))
	for _, l := range e.Lost {
		fmt.Fprintf(progress, "not carried: %s\n", l)
	}
	return nil
}

// fromUpgrade moves a session for :upgrade. It cannot wait: the move
// waits for the session to be back at its prompt.
func (m *migrator) fromUpgrade(id uint64, out io.Writer) {
	go func() { // ends with the move
		if err := m.move(context.Background(), id, m.cfg.Grace, nil, io.Discard); err != nil {
			fmt.Fprintf(out, "\nupgrade failed, nothing changed: %v\n", err)
		}
	}()
}

// moveReply answers "migrate --session ID": the session moves to the
// other process, from wherever it is.
func (m *migrator) moveReply(ctx context.Context, req migrate.Request, r migrateRequest, progress io.Writer) migrate.Response {
	id, mig := r.session, r.migration
	if m.srv.has(id) {
		if err := m.move(context.WithoutCancel(ctx), id, mig.grace, mig.drop, progress); err != nil {
			return migrate.Response{Error: err.Error()}
		}
		return migrate.Response{OK: true}
	}
	peer := m.livePeer(ctx)
	if peer == "" || r.local {
		return migrate.Response{Error: fmt.Sprintf("no session %d", id)}
	}
	// It is in the other process: ask that one to send it here.
	fwd := migrate.Request{Command: "migrate", Args: map[string]string{"local": "true"}}
	for k, v := range req.Args {
		if k != "local" {
			fwd.Args[k] = v
		}
	}
	resp, err := migrate.Call(ctx, peer, fwd, progress)
	if err != nil {
		return migrate.Response{Error: err.Error()}
	}
	return resp
}

// adoptReply holds a session another process is moving here.
func (m *migrator) adoptReply(_ context.Context, req migrate.Request, _ io.Writer) migrate.Response {
	if len(req.Files) != 1 {
		return migrate.Response{Error: "adopt: want one connection"}
	}
	conn := req.Files[0]
	req.Files[0] = nil // hold's now, not the control server's to close
	id, err := m.srv.hold(req.Data, conn)
	if err != nil {
		return migrate.Response{Error: err.Error()}
	}
	// If the sender dies between adopt and commit, nobody will say which:
	// after a while the session runs here if the sender is gone (its copy
	// of the connection died with it), and is forgotten if not.
	from := int((&args{m: req.Args}).session("from")) // a pid; 0 when not told
	time.AfterFunc(holdTimeout, func() {
		if from > 0 && syscall.Kill(from, 0) == syscall.ESRCH {
			m.srv.start(id)
		} else {
			m.srv.release(id)
		}
	})
	return migrate.Response{OK: true}
}

// holdTimeout bounds how long a session waits for its move's commit.
const holdTimeout = 30 * time.Second

func (m *migrator) commitReply(_ context.Context, req migrate.Request, _ io.Writer) migrate.Response {
	a := &args{m: req.Args}
	id, err := a.session("session"), a.err
	if err == nil {
		err = m.srv.start(id)
	}
	if err != nil {
		return migrate.Response{Error: err.Error()}
	}
	m.log.Info("session arrived", "session", id)
	return migrate.Response{OK: true}
}

func (m *migrator) abortReply(_ context.Context, req migrate.Request, _ io.Writer) migrate.Response {
	a := &args{m: req.Args}
	id := a.session("session")
	if a.err != nil {
		return failed(a.err)
	}
	if !m.srv.has(id) || m.srv.isRunning(id) {
		return migrate.Response{Error: fmt.Sprintf("session %d is not waiting here", id)}
	}
	m.srv.release(id)
	return migrate.Response{OK: true}
}

// peerStatus is the other process's status, for `status`.
func (m *migrator) peerStatus(ctx context.Context) string {
	peer := m.livePeer(ctx)
	if peer == "" {
		return ""
	}
	resp, err := migrate.Call(ctx, peer, migrate.Request{Command: "status", Args: map[string]string{"local": "true"}}, nil)
	if err != nil || !resp.OK {
		return ""
	}
	role := "the newer process"
	if !m.isDetached() {
		role = "the older process, until its last session moves"
	}
	return "\nalso serving, " + role + " (control " + peer + "):\n" + strings.TrimRight(resp.Output, "\n") + "\n"
}
