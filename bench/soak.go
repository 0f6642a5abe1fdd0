package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SoakResult is the soak run: sessions typing for a while under one
// isolation mode while the bench migrates the server back and forth
// between its two builds and SIGKILLs workers of the serving process.
type SoakResult struct {
	Isolate    string        `json:"isolate"`
	Sessions   int           `json:"sessions"`
	Duration   time.Duration `json:"duration_ns"` // asked for
	Ran        time.Duration `json:"ran_ns"`      // typing, first line to halt
	Interval   time.Duration `json:"interval_ns"` // each session's typing
	Error      string        `json:"error,omitempty"`
	Notes      []string      `json:"notes,omitempty"`
	Migrations int           `json:"migrations"` // asked for
	Kills      int           `json:"kills"`      // asked for

	ConnectionsLost int        `json:"connections_lost"`
	LostErrors      []string   `json:"lost_errors,omitempty"`
	Lines           LineCounts `json:"lines"`
	// LostSilently is the lines never answered at all: Lines.Lost less
	// those answered with the rollback error. It must be 0.
	LostSilently int `json:"lost_silently"`
	Notices      int `json:"notices"`

	Committed   int      `json:"migrations_committed"`
	Failed      int      `json:"migrations_failed"`
	Skipped     int      `json:"migrations_skipped"` // not begun by the end: the earlier ones took longer than their share
	MigErrors   []string `json:"migration_errors,omitempty"`
	KillsDone   int      `json:"kills_done"`
	KillsMissed int      `json:"kills_missed"` // no worker to kill at that moment
	// Pause is, over every migration and every session with a line in
	// flight while it ran, that session's longest line.
	Pause Stats `json:"pause"`
	// Intact is the sessions whose variable base still held its value at
	// the end.
	Intact int `json:"intact"`
}

// spread is where k events fall in d, evenly: at (i + ½)·d/k.
func spread(d time.Duration, k int) []time.Duration {
	out := make([]time.Duration, k)
	for i := range out {
		out[i] = time.Duration((float64(i) + 0.5) * float64(d) / float64(k))
	}
	return out
}

// workers lists the worker processes among pid's children: those whose
// command line's second argument is "worker" (a successor being started
// by a migration is a child too, and is not one).
func workers(pid int) []int {
	kids, _ := children(pid)
	var out []int
	for _, k := range kids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", k))
		if err != nil {
			continue
		}
		if args := strings.Split(string(b), "\x00"); len(args) > 1 && args[1] == "worker" {
			out = append(out, k)
		}
	}
	return out
}

// soak runs the soak under mode. Unlike the rest of the bench, it signals
// processes the server started: SIGKILL to a worker of the serving
// process, found afresh each time among its children.
func (r *runner) soak(ctx context.Context, mode string) (sr SoakResult) {
	d, n := r.opts.Soak, r.opts.SoakSessions
	ctx, cancel := context.WithTimeout(ctx, d+r.opts.Timeout)
	defer cancel()
	sr = SoakResult{Isolate: mode, Sessions: n, Duration: d, Interval: r.interval(n), Migrations: r.opts.SoakMigrations, Kills: r.opts.SoakKills}
	lbl := "soak, " + label(n, mode)
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-soak-%d-%s.log", n, mode)))
	if err != nil {
		sr.Error = err.Error()
		return sr
	}
	defer logFile.Close()
	srv, clients, err := r.sessions(ctx, n, mode, "s", logFile)
	defer func() {
		for _, c := range clients {
			c.stopReader()
			c.close()
		}
		if srv != nil {
			if err := srv.Stop(time.Minute); err != nil {
				sr.Notes = append(sr.Notes, "stopping the server: "+err.Error())
			}
		}
	}()
	if err != nil {
		sr.Error = err.Error()
		return sr
	}

	ty := newTyping(sr.Interval)
	defer ty.halt()
	for _, c := range clients {
		ty.start(c)
	}
	start := time.Now()
	r.logf("%s: typing every %v for %v; %d migrations, %d kills", lbl, sr.Interval, d, sr.Migrations, sr.Kills)

	type window struct{ from, to time.Time }
	var (
		mu      sync.Mutex
		windows []window
		wg      sync.WaitGroup
	)
	wg.Add(2)
	go func() { // migrations; ends by d (or ctx)
		defer wg.Done()
		from, to := r.bin1, r.bin2
		for i, at := range spread(d, sr.Migrations) {
			pace(ctx, time.Until(start.Add(at)))
			if ctx.Err() != nil {
				return
			}
			// A migration takes as long as it takes (its start phase
			// restores every namespace ahead); one not begun by d is not
			// begun, so that the soak ends near d.
			if time.Since(start) >= d {
				mu.Lock()
				sr.Skipped = sr.Migrations - i
				mu.Unlock()
				return
			}
			sum, s, e, err := srv.migrate(ctx, r.bin1, to, migrateTimeout(n, mode))
			mu.Lock()
			windows = append(windows, window{s, e})
			if err != nil {
				sr.Failed++
				if len(sr.MigErrors) < 5 {
					sr.MigErrors = append(sr.MigErrors, fmt.Sprintf("migration %d: %v", i+1, err))
				}
				mu.Unlock()
				r.logf("%s: migration %d failed after %v: %v", lbl, i+1, e.Sub(s).Round(time.Millisecond), err)
				continue
			}
			sr.Committed++
			mu.Unlock()
			srv.Follow(sum.NewPid)
			from, to = to, from
			r.logf("%s: migration %d to %s committed in %v (pause %v)", lbl, i+1, filepath.Base(from), e.Sub(s).Round(time.Millisecond), sum.Pause)
		}
	}()
	go func() { // kills; ends by d (or ctx)
		defer wg.Done()
		for _, at := range spread(d, sr.Kills) {
			pace(ctx, time.Until(start.Add(at)))
			if ctx.Err() != nil {
				return
			}
			ws := workers(srv.Pid())
			ok := false
			if len(ws) > 0 {
				ok = syscall.Kill(ws[rand.N(len(ws))], syscall.SIGKILL) == nil
			}
			mu.Lock()
			if ok {
				sr.KillsDone++
			} else {
				sr.KillsMissed++
			}
			mu.Unlock()
		}
	}()
	pace(ctx, d)
	wg.Wait() // a migration running at d finishes first
	pace(ctx, max(2*sr.Interval, time.Second))
	ty.halt()
	sr.Ran = time.Since(start)

	deadline := time.Now().Add(time.Minute + time.Duration(n)*5*time.Millisecond)
	var pauses []time.Duration
	for _, c := range clients {
		c.waitAnswered(deadline)
		c.stopReader()
		t := c.tally(-1, -1)
		sr.Lines.Sent += t.sent
		sr.Lines.Answered += t.answered
		sr.Lines.Duplicated += t.duplicated
		sr.Lines.Lost += t.lost
		sr.Lines.RolledBack += t.rolledBack
		sr.Lines.Unexpected += t.unexpected
		sr.LostSilently += max(t.lost-t.rolledBack, 0)
		sr.Notices += t.notices
		if err := c.failure(); err != nil {
			sr.ConnectionsLost++
			if len(sr.LostErrors) < 5 {
				sr.LostErrors = append(sr.LostErrors, fmt.Sprintf("session %d: %v", c.idx, err))
			}
		}
		if t.unexpected > 0 && len(sr.Notes) < 5 {
			sr.Notes = append(sr.Notes, fmt.Sprintf("session %d: unexpected answers %q", c.idx, c.unexpected))
		}
		for _, w := range windows {
			if p, ok := c.longestInFlight(w.from, w.to); ok {
				pauses = append(pauses, p)
			}
		}
	}
	sr.Pause = Summarize(pauses)

	var intact atomic.Int64
	forEach(ctx, n, r.opts.Parallel, func(i int) error {
		c := clients[i]
		if c.failure() != nil {
			return nil
		}
		out, err := c.eval("base", time.Now().Add(time.Minute))
		if err == nil && out == strconv.Itoa(c.base) {
			intact.Add(1)
		} else if len(sr.Notes) < 10 {
			mu.Lock()
			sr.Notes = append(sr.Notes, fmt.Sprintf("session %d: base is %q (%v), want %d", i, firstLine(out), err, c.base))
			mu.Unlock()
		}
		return nil
	})
	sr.Intact = int(intact.Load())
	r.logf("%s: connections lost %d; lines sent %d answered %d lost %d (rolled back %d, silently %d) duplicated %d; notices %d; migrations %d committed %d failed; kills %d; base intact %d of %d; pause p50 %v p99 %v",
		lbl, sr.ConnectionsLost, sr.Lines.Sent, sr.Lines.Answered, sr.Lines.Lost, sr.Lines.RolledBack, sr.LostSilently, sr.Lines.Duplicated,
		sr.Notices, sr.Committed, sr.Failed, sr.KillsDone, sr.Intact, n, sr.Pause.P50, sr.Pause.P99)
	return sr
}

// writeSoak writes the soak run.
func writeSoak(b *strings.Builder, s SoakResult) {
	fmt.Fprintf(b, "\n## Soak\n\n"+
		"%d sessions (`--isolate %s`) each type `[2]int{base + k, sys.Pid}` every %s for %s, without waiting for answers, "+
		"while the bench migrates the server %d times, alternating between the two builds (v1 → v2 → v1 …), and SIGKILLs a random worker of the serving process %d times, both spread evenly over the run. "+
		"A line whose worker was killed under it is answered with the rollback error: it counts as answered-and-rolled-back, not lost.\n\n| | |\n|---|---|\n",
		s.Sessions, s.Isolate, dur(s.Interval), s.Duration, s.Migrations, s.Kills)
	row := func(name, v string) { fmt.Fprintf(b, "| %s | %s |\n", name, v) }
	l := s.Lines
	row("**connections lost**", fmt.Sprintf("**%d**", s.ConnectionsLost))
	row("lines sent / answered with their value / duplicated", fmt.Sprintf("%d / %d / %d", l.Sent, l.Answered, l.Duplicated))
	row("lines rolled back (answered with the rollback error)", strconv.Itoa(l.RolledBack))
	row("**lines lost silently (never answered)**", fmt.Sprintf("**%d**", s.LostSilently))
	row("unexpected answers", strconv.Itoa(l.Unexpected))
	row("notices (worker ended between lines)", strconv.Itoa(s.Notices))
	row("migrations committed / failed / not begun in time", fmt.Sprintf("%d / %d / %d", s.Committed, s.Failed, s.Skipped))
	row("kills done / no worker to kill", fmt.Sprintf("%d / %d", s.KillsDone, s.KillsMissed))
	row("**sessions with `base` intact at the end**", fmt.Sprintf("**%d of %d**", s.Intact, s.Sessions))
	row("pause p50 / p99 / max, over every migration and session in flight", triple(s.Pause)+fmt.Sprintf(" over %d", s.Pause.N))
	row("typing ran", dur(s.Ran))
}
