package front

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/dashboard"
	"translucent/migrate"
	"translucent/repl"
)

// migrator runs this process's migrations, one at a time, whichever way
// they are asked for: the control socket, SIGHUP or :migrate.
type migrator struct {
	srv     *registry
	metrics *metrics
	relay   *relayProc // the SSH relay (nil without --ssh): its pid goes in the meta
	ls      *listeners // what moves to a successor
	args    []string   // the successor's arguments
	home    string     // the default new build; see binary
	log     *slog.Logger
	cfg     *Config

	busy      sync.Mutex     // held for the length of a migration
	handedOff chan struct{}  // closed once a successor has taken over
	peer      peerState      // the other process of an incremental migration
	events    *dashboard.Hub // the dashboard's streams; nil without one
}

// service adapts the REPL server to what migrate.Handoff moves.
type service struct {
	m     *migrator
	grace time.Duration
	drop  []string // variables left out of every namespace
	ev    *migrationEvents
	since time.Time // Pause was called: the pause Handoff reports runs from here

	ahead    Ahead           // what the new process built ahead, read by Prepare
	vouched  int             // namespaces found unchanged since, or brought up to date, by Prepare
	updates  int             // namespace updates Prepare sent
	sessions []repl.Exported // made by Pause
}

// Prepare reads what the new process built ahead, and finds, live, the
// namespaces it holds unchanged: the pause need not snapshot those. It
// brings up to date those that changed, if the new process takes updates
// (vouch).
func (s *service) Prepare(ctx context.Context, hello []byte, send func(context.Context, []byte) ([]byte, error)) (err error) {
	if s.ahead, err = DecodeAhead(hello); err != nil {
		return err
	}
	if len(s.drop) == 0 { // a drop changes every namespace it names
		if !s.ahead.has(featureUpdates) {
			send = nil
		}
		var rounds []VouchRound
		if s.vouched, rounds, err = s.m.srv.vouch(ctx, s.ahead, send); err != nil {
			return err
		}
		for _, r := range rounds {
			s.updates += r.Updated
		}
		s.m.log.Info("recheck: namespaces unchanged since the new process built them, or brought up to date", "vouched", s.vouched, "ahead", s.ahead.Sessions(), "updates", s.updates, "rounds", rounds)
	}
	return ctx.Err()
}

// Pause pauses and exports at once (registry.pauseExport); Export
// hands over what it made.
func (s *service) Pause(ctx context.Context) (err error) {
	s.since = time.Now()
	s.sessions, err = s.m.srv.pauseExport(ctx, s.grace, s.ahead, s.drop...)
	if err == nil {
		s.ev.paused(s.sessions)
	}
	return err
}

func (s *service) Resume() { s.m.srv.resume() }

func (s *service) Export() ([]*os.File, []migrate.Record, []string, error) {
	files, err := s.m.ls.files(s.m.srv.listenerFile)
	if err != nil {
		return nil, nil, nil, err
	}
	sessions := s.sessions
	recs := make([]migrate.Record, len(sessions))
	var lost []string
	for i, e := range sessions {
		recs[i] = migrate.Record{ID: e.ID, Data: e.State, Sock: e.Conn}
		for _, l := range e.Lost {
			lost = append(lost, fmt.Sprintf("session %d: %s", e.ID, l))
		}
	}
	return files, recs, lost, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// binary is the new build: the one asked for, or by default m.home, the
// executable path that the first process of this server was started from,
// as it is on disk now. A migration to another build (--binary X) does not
// change the default: after one, and a rebuild in place, a plain migrate
// goes to the rebuilt binary, not to X again.
func (m *migrator) binary(asked string) (string, error) {
	if asked != "" {
		return asked, nil
	}
	if m.home != "" {
		return m.home, nil
	}
	return executable()
}

// executable returns the path this process was started from.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	// os.Executable names the file this process started from; after a
	// rebuild in place that path holds the new build ("(deleted)" is what
	// Linux appends when the old file was replaced).
	return strings.TrimSuffix(exe, " (deleted)"), nil
}

// migration is one request to migrate.
type migration struct {
	binary  string
	timeout time.Duration
	grace   time.Duration
	strict  bool
	drop    []string
	json    bool // report as JSON (migrate.Summary), once committed
}

// run migrates, or reports why not. On success the caller must let this
// process end (handedOff is closed).
func (m *migrator) run(ctx context.Context, req migration, progress io.Writer) (migrate.Report, error) {
	if !m.busy.TryLock() {
		return migrate.Report{}, migrate.ErrInProgress
	}
	defer m.busy.Unlock()
	if err := m.canMigrate(ctx); err != nil {
		return migrate.Report{}, err
	}
	var err error
	if req.binary, err = m.binary(req.binary); err != nil {
		return migrate.Report{}, err
	}
	me := meta{Pid: os.Getpid(), Version: m.cfg.Version, Home: m.home, Listeners: m.ls.names(), Relay: m.relay.Pid()}
	self, _ := cbor.Marshal(me)
	sum := migrate.Summary{OldPid: os.Getpid(), OldVersion: m.cfg.Version, Binary: req.binary}
	if !req.json {
		fmt.Fprint(progress, sum.Heading())
	}
	m.log.Info("migration starting", "binary", req.binary)
	// No garbage collection from here on: a process about to exit has no
	// use for it, and with thousands of namespaces one collection marks
	// gigabytes, on the CPUs that the users' lines, the precopy and the
	// pause need. Should the migration fail, it comes back.
	releaseGC := holdGC()
	committed := false
	defer func() {
		if !committed {
			releaseGC()
		}
	}()
	args := m.args
	if pre, err := m.precopy(); err != nil {
		m.log.Warn("no precopy; every namespace will be restored in the pause", "err", err)
	} else if pre != "" {
		defer os.Remove(pre)
		args = append(slices.Clone(args), "--precopy", pre)
	}
	ev := m.startEvents(req.binary, req.drop)
	svc := &service{m: m, grace: req.grace, drop: req.drop, ev: ev}
	rep, err := migrate.Handoff(ctx, svc, migrate.Options{
		Binary: req.binary, Args: args, Timeout: m.timeoutFor(req.timeout), Strict: req.strict,
		Meta: self, Stdout: os.Stdout, Stderr: os.Stderr,
		MetaAt: func(sofar migrate.Report, paused time.Time) []byte {
			me.Phases, me.PausedAt, me.SentAt, me.NotCarried = sofar.Phases, paused.UnixNano(), time.Now().UnixNano(), len(sofar.Lost)
			b, _ := cbor.Marshal(me)
			return b
		},
		BeforeCommit: m.cfg.Hooks.BeforeCommit, Phase: ev.phase,
	})
	var succ meta
	if len(rep.Successor) > 0 {
		cbor.Unmarshal(rep.Successor, &succ)
	}
	ev.outcome(svc.sessions, svc.since.Add(rep.Pause), rep, succ.Version, err)
	if err != nil {
		m.log.Error("migration failed; every session resumed here", "err", err, "phases", rep.Phases)
		m.metrics.migrated("rolled_back", rep.Phases, rep.Pause, 0) // a committed one is the new process's to count
		return rep, err
	}
	m.log.Info("migration committed", "new_pid", rep.NewPid, "new_version", succ.Version,
		"sessions", rep.Sessions, "pause", rep.Pause, "phases", rep.Phases, "not_carried", rep.Lost)
	sum.NewPid, sum.NewVersion, sum.Sessions, sum.Phases, sum.Pause, sum.NotCarried =
		rep.NewPid, succ.Version, rep.Sessions, rep.Phases, rep.Pause, rep.Lost
	if succ.Prebuilt > 0 {
		sum.Prebuilt, sum.Unchanged, sum.Updates = succ.Prebuilt, svc.vouched, svc.updates
	}
	if req.json {
		b, _ := json.Marshal(sum)
		fmt.Fprintf(progress, "%s\n", b)
	} else {
		fmt.Fprint(progress, sum.Body())
	}
	committed = true
	close(m.handedOff)
	return rep, nil
}

// timeoutFor is the time a migration is given: asked, or by default 30 s
// plus 10 ms per session. Restoring every namespace ahead, at the lowest
// CPU priority beside a busy old process, took 30-40 s for 10,000 sessions
// on two cores: a fixed 30 s would fail every migration of a large server.
func (m *migrator) timeoutFor(asked time.Duration) time.Duration {
	if asked > 0 {
		return asked
	}
	return 30*time.Second + time.Duration(len(m.srv.list()))*10*time.Millisecond
}

func (m *migrator) defaults() migration {
	return migration{timeout: m.cfg.MigrateTimeout, grace: m.cfg.Grace, strict: m.cfg.Strict}
}

func (m *migrator) fromSignal() {
	m.log.Info("SIGHUP: migrating")
	m.run(context.Background(), m.defaults(), io.Discard)
}

// fromSession starts a migration for :migrate. It cannot wait for it: the
// migration waits for the asking session to be at its prompt.
func (m *migrator) fromSession(out io.Writer) {
	go func() { // ends with the migration
		_, err := m.run(context.Background(), m.defaults(), io.Discard)
		if err != nil {
			fmt.Fprintf(out, "\nmigration failed, nothing changed: %v\n", err)
		}
	}()
}

// precopy writes a live snapshot of every namespace to a private file for
// the successor to restore before the pause; "" when there is nothing to
// restore.
func (m *migrator) precopy() (string, error) {
	f, err := m.srv.precopy()
	if err != nil || len(f.Sessions) == 0 {
		return "", err
	}
	var b bytes.Buffer
	if err := repl.WriteSnapshotFile(&b, f); err != nil {
		return "", err
	}
	dir, err := privateDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s%d%s", precopyPrefix, os.Getpid(), precopySuffix))
	return path, repl.WriteFileAtomic(path, b.Bytes(), 0o600)
}

// A precopy file holds users' namespaces: precopy-PID.cbor, PID the
// migrating process's. The migrating process removes it when its
// migration ends, and the successor as soon as it has read it; what a
// crash of both leaves is removed by the next server to start
// (removeStalePrecopies).
const (
	precopyPrefix = "precopy-"
	precopySuffix = ".cbor"
)

// removeStalePrecopies removes the precopy files in dir (and the
// temporary files they were written through) whose process is gone. A
// live process's file is kept: it may be migrating.
func removeStalePrecopies(dir string, log *slog.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return // no private directory yet: nothing left in it
	}
	for _, e := range ents {
		name := strings.TrimPrefix(e.Name(), ".") // writeFileAtomic's ".NAME.*"
		if !strings.HasPrefix(name, precopyPrefix) {
			continue
		}
		digits := strings.TrimPrefix(name, precopyPrefix)
		digits = digits[:len(digits)-len(strings.TrimLeft(digits, "0123456789"))]
		pid, err := strconv.Atoi(digits)
		if err != nil || pid <= 0 || !strings.HasPrefix(name[len(precopyPrefix)+len(digits):], precopySuffix) {
			continue
		}
		if err := syscall.Kill(pid, 0); pid == os.Getpid() || err == nil || errors.Is(err, syscall.EPERM) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err == nil {
			log.Info("removed a precopy file left by a process that is gone", "file", path, "pid", pid)
		}
	}
}

// removeOwnPrecopy removes the precopy file this successor read, if it
// is one a migrating server wrote in the private directory (never a file
// named by hand).
func removeOwnPrecopy(path string) {
	dir, err := privateDirPath()
	if err != nil || filepath.Dir(path) != dir {
		return
	}
	if base := filepath.Base(path); strings.HasPrefix(base, precopyPrefix) && strings.HasSuffix(base, precopySuffix) {
		os.Remove(path)
	}
}
