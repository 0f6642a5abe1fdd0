package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Service is what Handoff moves: the caller's server, which knows what its
// sessions are. Handoff calls Pause, then Export, then, unless the new
// process took over, Resume.
type Service interface {
	// Pause stops accepting and brings every session to rest, its input
	// untouched; it may make each session's record as the session comes
	// to rest. A Pause that fails has resumed everything.
	Pause(ctx context.Context) error
	// Export returns the listeners and one record per session. lost names
	// what could not be carried (a channel, a func value …).
	Export() (listeners []*os.File, sessions []Record, lost []string, err error)
	// Resume undoes Pause.
	Resume()
}

// A Preparer is a Service with work to do before Pause, while it still
// serves: Handoff calls Prepare with the successor's HELLO report (what it
// holds already, so that a record can leave that out) and a way to bring
// what the successor holds up to date (Successor.Update, for a successor
// whose report says it takes updates), and times it as the phase
// "recheck". A Prepare that fails has changed nothing here.
type Preparer interface {
	Prepare(ctx context.Context, hello []byte, update func(ctx context.Context, data []byte) ([]byte, error)) error
}

// Options says how to hand over.
type Options struct {
	Binary  string        // the new build
	Args    []string      // its arguments
	Timeout time.Duration // for the whole handoff; default 30s
	Strict  bool          // abort if anything cannot be carried
	Meta    []byte        // Header.Meta
	Stdout  io.Writer     // the new process's standard output and error; use os.Stdout/os.Stderr
	Stderr  io.Writer

	// MetaAt, if set, makes Header.Meta in Meta's place, just before the
	// transfer: from the report so far (phases up to quiesce, what cannot
	// be carried) and the time the pause began, so that the new process can
	// tell the whole migration it arrived by.
	MetaAt func(sofar Report, paused time.Time) []byte

	// BeforeCommit, if set, runs between READY and COMMIT: the tests
	// inject an old process's death there.
	BeforeCommit func()

	// Phase, if set, is told of each phase as it ends, from the
	// handoff's own goroutine: it must not block (a dashboard draws them
	// live).
	Phase func(Phase)

	// started, if set, gets the successor before the handoff's first
	// message: the tests plant crashes in its handoff socket.
	started func(*Successor)
}

// Phase is one timed step of a handoff.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"ns"`
}

// Report says what a handoff did, whether it succeeded or not.
type Report struct {
	NewPid    int
	Sessions  int
	Phases    []Phase       // start (until the new process says it is up), recheck (a Preparer's), quiesce, transfer, restore, commit, as far as it got
	Pause     time.Duration // from Pause to Commit (or to Resume): the longest a session waited
	Lost      []string      // what could not be carried
	Successor []byte        // the new process's READY report
}

func (r *Report) phase(name string, since time.Time, tell func(Phase)) time.Time {
	now := time.Now()
	r.Phases = append(r.Phases, Phase{name, now.Sub(since)})
	if tell != nil {
		tell(r.Phases[len(r.Phases)-1])
	}
	return now
}

// String prints the report for people, one fact per line.
func (r Report) String() string {
	var b strings.Builder
	sessions := "sessions"
	if r.Sessions == 1 {
		sessions = "session"
	}
	fmt.Fprintf(&b, "new pid %d, %d %s\n", r.NewPid, r.Sessions, sessions)
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "  %-9s %v\n", p.Name, p.Duration.Round(time.Microsecond))
	}
	fmt.Fprintf(&b, "longest pause a session saw: %v\n", r.Pause.Round(time.Microsecond))
	for _, l := range r.Lost {
		fmt.Fprintf(&b, "not carried: %s\n", l)
	}
	return b.String()
}

// Handoff moves svc to a new process started from opts.Binary, with the
// two-phase commit of the package doc. A nil error means the new process
// has taken over: the caller closes nothing it handed over, and exits. On
// error the new process is gone and svc has been resumed; the report says
// how far it got.
func Handoff(ctx context.Context, svc Service, opts Options) (rep Report, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	t := time.Now()
	succ, err := Start(ctx, opts.Binary, opts.Args, opts.Stdout, opts.Stderr)
	if err != nil {
		return rep, fmt.Errorf("start %s: %w", opts.Binary, err)
	}
	rep.NewPid = succ.Pid()
	if opts.started != nil {
		opts.started(succ)
	}
	committed := false
	defer func() {
		if !committed {
			succ.Abort()
		}
	}()
	hello, err := succ.WaitStarted(ctx)
	if err != nil {
		return rep, fmt.Errorf("start: %w", err)
	}
	t = rep.phase("start", t, opts.Phase)
	if p, ok := svc.(Preparer); ok {
		if err := p.Prepare(ctx, hello, succ.Update); err != nil {
			return rep, fmt.Errorf("recheck: %w", err)
		}
		t = rep.phase("recheck", t, opts.Phase)
	}

	paused := t
	if err := svc.Pause(ctx); err != nil {
		return rep, fmt.Errorf("quiesce: %w", err)
	}
	resume := func() {
		svc.Resume()
		rep.Pause = time.Since(paused)
	}
	t = rep.phase("quiesce", t, opts.Phase)

	listeners, sessions, lost, err := svc.Export()
	if err != nil {
		resume()
		return rep, fmt.Errorf("export: %w", err)
	}
	defer func() { // our copies; the originals stay with svc
		for _, f := range listeners {
			f.Close()
		}
		for _, r := range sessions {
			if r.Conn != nil {
				r.Conn.Close()
			}
		}
	}()
	rep.Sessions, rep.Lost = len(sessions), lost
	if opts.Strict && len(lost) > 0 {
		resume()
		return rep, fmt.Errorf("--strict: %d values cannot be carried: %s", len(lost), strings.Join(lost, "; "))
	}
	meta := opts.Meta
	if opts.MetaAt != nil {
		meta = opts.MetaAt(rep, paused)
	}
	if err := succ.Send(ctx, Header{Meta: meta}, listeners, sessions); err != nil {
		resume()
		return rep, fmt.Errorf("transfer: %w", err)
	}
	t = rep.phase("transfer", t, opts.Phase)

	if rep.Successor, err = succ.WaitReady(ctx); err != nil {
		resume()
		return rep, fmt.Errorf("restore: %w", err)
	}
	t = rep.phase("restore", t, opts.Phase)

	if opts.BeforeCommit != nil {
		opts.BeforeCommit()
	}
	if err := succ.Commit(); err != nil {
		resume()
		return rep, fmt.Errorf("commit: %w", err)
	}
	committed = true
	rep.phase("commit", t, opts.Phase)
	rep.Pause = time.Since(paused)
	return rep, nil
}

// ErrInProgress is returned for a second migration while one runs.
var ErrInProgress = errors.New("migrate: migration in progress")
