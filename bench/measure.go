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
	"time"
)

const rttSamples = 200

// interval is how often each of n sessions types.
func (r *runner) interval(n int) time.Duration {
	if r.opts.Interval > 0 {
		return r.opts.Interval
	}
	return max(2*time.Millisecond, time.Duration(n)*time.Second/time.Duration(r.opts.Rate))
}

// measure takes every figure at n sessions under mode. It never panics on
// a failed step: it records the error in the Measurement and stops there,
// stopping the servers and closing the clients it started.
func (r *runner) measure(ctx context.Context, n int, mode string) (run Measurement) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	run = Measurement{Sessions: n, Isolate: mode, Interval: r.interval(n)}
	lbl := label(n, mode)
	fail := func(format string, args ...any) Measurement {
		run.Error = fmt.Sprintf(format, args...)
		return run
	}
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-%d-%s.log", n, mode)))
	if err != nil {
		return fail("%v", err)
	}
	defer logFile.Close()

	r.logf("%s: starting %s", lbl, r.bin1)
	srv, err := startServer(ctx, r.bin1, r.control("c", n, mode), logFile, r.serveArgs("127.0.0.1:0", n, mode)...)
	if err != nil {
		return fail("starting the server: %v", err)
	}
	defer func() { // whichever server serves at the end
		if err := srv.Stop(time.Minute); err != nil {
			run.Notes = append(run.Notes, "stopping the server: "+err.Error())
		}
	}()
	if run.RSSBase, err = rss(srv.Pid()); err != nil {
		return fail("%v", err)
	}
	mem, err := serverMemory(srv.Pid())
	if err != nil {
		return fail("%v", err)
	}
	run.PSSBase = mem.PSS

	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(i)
		clients[i].assign = r.opts.Assign
	}
	defer func() {
		for _, c := range clients {
			c.stopReader()
			c.close()
		}
	}()

	// Log in, watching that the server will fit.
	avail, err := memAvailable()
	if err != nil {
		return fail("%v", err)
	}
	var loggedIn atomic.Int64
	var tooBig atomic.Bool
	start := time.Now()
	failed, err := forEach(ctx, n, r.opts.Parallel, func(i int) error {
		if tooBig.Load() {
			return fmt.Errorf("skipped: out of memory")
		}
		pid, err := clients[i].login(ctx, srv.addr, benchUser, benchPassword, time.Now().Add(5*time.Minute))
		if err == nil && pid != srv.Pid() {
			err = fmt.Errorf("greeted by pid %d, want %d", pid, srv.Pid())
		}
		if err == nil {
			if err = outgrows(srv, run.PSSBase, loggedIn.Add(1), int64(n), avail, "logins"); err != nil {
				tooBig.Store(true)
			}
		}
		return err
	})
	if failed > 0 || err != nil {
		return fail("logged in %d of %d sessions: %v", n-failed, n, err)
	}
	run.Login = time.Since(start)
	if run.RSSIdle, err = rss(srv.Pid()); err != nil {
		return fail("%v", err)
	}
	run.IdlePerSession = (run.RSSIdle - run.RSSBase) / int64(n)
	if mem, err = serverMemory(srv.Pid()); err != nil {
		return fail("%v", err)
	}
	run.PSSIdle = mem.PSS
	run.PSSIdlePerSession = (run.PSSIdle - run.PSSBase) / int64(n)
	r.logf("%s: %d sessions logged in in %v; front RSS %s, %s per idle session; %d processes, PSS %s, %s per idle session",
		lbl, n, run.Login.Round(time.Millisecond), mib(run.RSSIdle), kib(run.IdlePerSession), mem.Procs, mib(run.PSSIdle), kib(run.PSSIdlePerSession))

	// Declare every namespace, watching that the server will fit: a
	// migration needs as much again in the new process.
	if err := r.populate(ctx, srv, clients, run.PSSIdle); err != nil {
		return fail("declaring the namespaces: %v", err)
	}
	run.Populate = time.Since(start) - run.Login
	if run.RSSNamespace, err = rss(srv.Pid()); err != nil {
		return fail("%v", err)
	}
	run.NamespacePerSession = (run.RSSNamespace - run.RSSBase) / int64(n)
	run.ServerFDs, _ = openFDs(srv.Pid())
	if mem, err = serverMemory(srv.Pid()); err != nil {
		return fail("%v", err)
	}
	run.PSSNamespace, run.Processes = mem.PSS, mem.Procs
	run.PSSNamespacePerSession = (run.PSSNamespace - run.PSSBase) / int64(n)
	r.logf("%s: namespaces declared in %v; front RSS %s, %s per session, %d descriptors; %d processes, PSS %s, %s per session",
		lbl, run.Populate.Round(time.Millisecond), mib(run.RSSNamespace), kib(run.NamespacePerSession), run.ServerFDs, mem.Procs, mib(run.PSSNamespace), kib(run.PSSNamespacePerSession))

	// x + 1 with no load: one session, the others idle.
	if run.RTTNoLoad, err = rtt(clients[0], 10, rttSamples); err != nil {
		return fail("x + 1, no load: %v", err)
	}
	r.logf("%s: x + 1 no load p50 %v p99 %v", lbl, run.RTTNoLoad.P50, run.RTTNoLoad.P99)

	r.typeAndMigrate(ctx, srv, clients, &run)
	if ctx.Err() != nil {
		return fail("%v", ctx.Err())
	}

	// The comparisons start from a server with every session logged in,
	// which is what typeAndMigrate leaves, migrated or not.
	run.Restart, srv = r.restart(ctx, srv, clients, logFile, mode)
	r.logf("%s: restart: all %d back after %v, state lost in %d %s", lbl, run.Restart.Back, run.Restart.Total.Round(time.Millisecond), run.Restart.StateLost, run.Restart.Error)
	if run.Restart.Error == "" {
		run.ListenerOnly = r.listenerOnly(ctx, srv, clients)
		r.logf("%s: listener-only: handoff %v, all %d back after %v, state lost in %d %s", lbl, run.ListenerOnly.Handoff.Round(time.Millisecond), run.ListenerOnly.Back, run.ListenerOnly.Total.Round(time.Millisecond), run.ListenerOnly.StateLost, run.ListenerOnly.Error)
	}
	return run
}

// serveArgs are the server's flags at n sessions under mode.
func (r *runner) serveArgs(listen string, n int, mode string) []string {
	args := []string{
		"--listen", listen, "--users", r.users,
		"--max-sessions", strconv.Itoa(n + 64),
		// A login can wait its turn behind thousands of others.
		"--login-timeout", "30m", "--login-delay", "10ms",
		"--migrate-timeout", "30m",
		"--isolate", mode,
	}
	if mode == "pool" {
		args = append(args, "--pool-size", strconv.Itoa(r.opts.PoolSize))
	}
	return args
}

// control is a control socket path for a server of a step (prefix) at n
// sessions under mode: short, for the 108 bytes of a socket path.
func (r *runner) control(prefix string, n int, mode string) string {
	return filepath.Join(r.tmp, fmt.Sprintf("%s%d%s", prefix, n, mode[:1]))
}

// namespaceLines are what session c types to declare its namespace: the
// imports, a struct type, base (which identifies the session's answers),
// x (for x + 1), a map, and variables of several kinds up to Vars. "sys"
// is for the typed lines' sys.Pid; "os" was for their os.Getpid(), and
// stays, so that the namespaces are those of earlier results.
func (r *runner) namespaceLines(c *client) []string {
	lines := []string{`import "os"`, `import "sys"`}
	for _, imp := range r.opts.Imports {
		lines = append(lines, strconv.Quote(imp))
		lines[len(lines)-1] = "import " + lines[len(lines)-1]
	}
	lines = append(lines,
		"type Point struct { X, Y int; Label string }",
		fmt.Sprintf("base := %d", c.base),
		"x := 41",
		`m := map[string]int{"one": 1, "two": 2, "three": 3}`,
	)
	for v := 3; v < r.opts.Vars; v++ {
		switch v % 4 {
		case 0:
			lines = append(lines, fmt.Sprintf("v%d := %d", v, v*c.idx))
		case 1:
			lines = append(lines, fmt.Sprintf("s%d := %q", v, strings.Repeat("ab", v)))
		case 2:
			lines = append(lines, fmt.Sprintf("p%d := Point{X: %d, Y: %d, Label: %q}", v, v, c.idx, "p"))
		case 3:
			lines = append(lines, fmt.Sprintf("l%d := []int{1, 2, 3, %d}", v, v))
		}
	}
	return lines
}

// populate declares every session's namespace. It stops, rather than
// let the machine run out of memory, when the server's growth so far
// (front and workers, PSS) says that it and a successor of the same size
// would not fit.
func (r *runner) populate(ctx context.Context, srv *server, clients []*client, idle int64) error {
	avail, err := memAvailable()
	if err != nil {
		return err
	}
	var done atomic.Int64
	var tooBig atomic.Bool
	n := len(clients)
	failed, err := forEach(ctx, n, r.opts.Parallel, func(i int) error {
		if tooBig.Load() {
			return fmt.Errorf("skipped: out of memory")
		}
		c := clients[i]
		for _, line := range r.namespaceLines(c) {
			out, err := c.eval(line, time.Now().Add(5*time.Minute))
			if err != nil {
				return err
			}
			if out != "" {
				return fmt.Errorf("%s: %s", line, out)
			}
		}
		if err := outgrows(srv, idle, done.Add(1), int64(n), avail, "namespaces"); err != nil {
			tooBig.Store(true)
			return err
		}
		return nil
	})
	if failed > 0 {
		return fmt.Errorf("%d of %d sessions: %w", failed, n, err)
	}
	return err
}

// outgrows checks, every 200 of n sessions, whether the server's growth
// from base over the first d of them says that at n it, and a successor of
// the same size, would not fit in avail (less a GiB for the rest of the
// machine). With a worker per session a login costs megabytes, so logins
// are checked too, not only namespaces (what).
func outgrows(srv *server, base, d, n, avail int64, what string) error {
	if d%200 != 0 || d >= n {
		return nil
	}
	mem, err := serverMemory(srv.Pid())
	if err != nil {
		return nil // the step itself will say what is wrong
	}
	now := mem.PSS
	need := now + (now-base)/d*(n-d)
	if 2*need <= avail-1<<30 {
		return nil
	}
	return fmt.Errorf("after %d %s the server has %s in %d processes; at %d it would need about %s, and a successor as much again, of the %s available",
		d, what, mib(now), mem.Procs, n, mib(need), mib(avail))
}

// rtt times x + 1 on c, warm runs first, synchronously.
func rtt(c *client, warm, samples int) (Stats, error) {
	var d []time.Duration
	for i := range warm + samples {
		t := time.Now()
		out, err := c.eval("x + 1", time.Now().Add(time.Minute))
		if err != nil {
			return Stats{}, err
		}
		if out != "42" {
			return Stats{}, fmt.Errorf("x + 1 answered %q", out)
		}
		if i >= warm {
			d = append(d, time.Since(t))
		}
	}
	return Summarize(d), nil
}

// typeAndMigrate has every session type a line every interval, measures
// x + 1 under that load, migrates to the new build while they type, goes
// on typing for a while, then checks every line and computes the pauses.
func (r *runner) typeAndMigrate(ctx context.Context, srv *server, clients []*client, run *Measurement) {
	n := len(clients)
	lbl := label(n, run.Isolate)
	interval := run.Interval
	oldPid := srv.Pid()
	ty := newTyping(interval)
	defer ty.halt()

	for _, c := range clients[1:] {
		ty.start(c)
	}
	// Every session has typed once before x + 1 is timed under load.
	pace(ctx, interval+50*time.Millisecond)
	if n > 1 {
		var err error
		if run.RTTLoaded, err = rtt(clients[0], 10, rttSamples); err != nil {
			run.Notes = append(run.Notes, "x + 1 under load: "+err.Error())
		}
		r.logf("%s: x + 1 with %d sessions typing p50 %v p99 %v", lbl, n-1, run.RTTLoaded.P50, run.RTTLoaded.P99)
	}
	ty.start(clients[0])
	pace(ctx, interval+50*time.Millisecond)

	// Migrate, unless the new process and its workers would not fit
	// beside the old ones.
	run.Migration.Attempted = true
	var migStart, migEnd time.Time
	if avail, err := memAvailable(); err == nil && run.PSSNamespace > avail-1<<30 {
		run.Migration.Attempted = false
		run.Migration.Error = fmt.Sprintf("not attempted: the server has %s and a successor needs about as much; %s available", mib(run.PSSNamespace), mib(avail))
	} else {
		r.logf("%s: migrating to %s while %d sessions type every %v", lbl, r.bin2, n, interval)
		run.Migration.Report, migStart, migEnd, err = srv.migrate(ctx, r.bin1, r.bin2, migrateTimeout(n, run.Isolate))
		run.Migration.Total = migEnd.Sub(migStart)
		if err != nil {
			run.Migration.Error = err.Error()
			r.logf("%s: migration failed after %v: %v", lbl, run.Migration.Total.Round(time.Millisecond), err)
		} else {
			run.Migration.OK = true
			srv.Follow(run.Migration.Report.NewPid)
			r.logf("%s: migrated in %v: %v", lbl, run.Migration.Total.Round(time.Millisecond), run.Migration.Report.Phases)
		}
	}
	// Go on typing after the migration, to see the new process answer.
	pace(ctx, max(2*interval, time.Second))
	ty.halt()
	typingEnd := time.Now()

	deadline := time.Now().Add(time.Minute + time.Duration(n)*5*time.Millisecond)
	for _, c := range clients {
		c.waitAnswered(deadline)
		c.stopReader()
	}
	newPid := srv.Pid()
	if newPid == oldPid {
		newPid = -1 // no answer can come from a new process
	}
	var pauses, blackouts, all, during, after []time.Duration
	var lines []sentLine
	var first time.Time
	bFrom := migEnd.Add(-run.Migration.Report.Pause)
	for _, c := range clients {
		t := c.tally(oldPid, newPid)
		run.Lines.Sent += t.sent
		run.Lines.Answered += t.answered
		run.Lines.Duplicated += t.duplicated
		run.Lines.Lost += t.lost
		run.Lines.RolledBack += t.rolledBack
		run.Lines.Unexpected += t.unexpected
		run.Lines.ByOld += t.byOld
		run.Lines.ByNew += t.byNew
		if err := c.failure(); err != nil {
			run.ConnectionsLost++
			if len(run.LostErrors) < 5 {
				run.LostErrors = append(run.LostErrors, fmt.Sprintf("session %d: %v", c.idx, err))
			}
		}
		if t.unexpected > 0 && len(run.Notes) < 5 {
			run.Notes = append(run.Notes, fmt.Sprintf("session %d: unexpected answers %q", c.idx, c.unexpected))
		}
		all = append(all, c.latencies()...)
		// A migration that failed and rolled back paused the sessions
		// too: that pause is measured the same way.
		if run.Migration.Attempted {
			if p, ok := c.longestInFlight(migStart, migEnd); ok {
				pauses = append(pauses, p)
				run.Migration.SessionsInFlight++
			}
			if p, ok := c.longestInFlight(bFrom, migEnd); ok {
				blackouts = append(blackouts, p)
				run.Migration.SessionsBlackout++
			}
			lines = append(lines, c.lines()...)
			during = append(during, c.latenciesWithin(migStart, bFrom)...)
			after = append(after, c.latenciesWithin(migEnd, time.Now())...)
		}
		if run.Migration.OK {
			if at, ok := c.firstAnswerBy(newPid); ok && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	run.Typing = Summarize(all)
	run.Migration.Pause = Summarize(pauses)
	run.Migration.BlackoutPause = Summarize(blackouts)
	if run.Migration.Attempted {
		recheckFrom := bFrom.Add(-run.Migration.Report.Phase("recheck"))
		run.Migration.Timeline = timeline(lines, migStart, recheckFrom, bFrom, migEnd, typingEnd)
	}
	run.Migration.StartTyping = Summarize(during)
	run.Migration.AfterTyping = Summarize(after)
	if !first.IsZero() {
		run.Migration.FirstNewAnswer, run.Migration.HasFirstNew = first.Sub(migStart), true
	}
	if rs, err := rss(srv.Pid()); err == nil {
		run.RSSAfter = rs
	}
	if mem, err := serverMemory(srv.Pid()); err == nil {
		run.PSSAfter, run.ProcessesAfter = mem.PSS, mem.Procs
	}
	r.logf("%s: lines sent %d answered %d duplicated %d lost %d; connections lost %d; pause p50 %v p99 %v max %v over %d sessions",
		lbl, run.Lines.Sent, run.Lines.Answered, run.Lines.Duplicated, run.Lines.Lost, run.ConnectionsLost,
		run.Migration.Pause.P50, run.Migration.Pause.P99, run.Migration.Pause.Max, run.Migration.Pause.N)
}

// migrateTimeout is the time a migration of n sessions under mode is
// given: ample for the restore of every namespace, whose cost grows with
// n. With workers a restore starts a worker process too (a session's own,
// or a pool's every --pool-size sessions), which the new process does at
// the lowest CPU priority while the old one serves the typing.
func migrateTimeout(n int, mode string) time.Duration {
	per := 20 * time.Millisecond
	if mode == "session" || mode == "pool" {
		per = 300 * time.Millisecond
	}
	return max(time.Minute, time.Duration(n)*per)
}

// typing is sessions each typing a line every interval (typeLines),
// from a goroutine of its own that halt ends and waits for.
type typing struct {
	interval time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
	halted   bool
}

func newTyping(interval time.Duration) *typing {
	return &typing{interval: interval, stop: make(chan struct{})}
}

// start hands c's reading side to its reader and has it type, from a
// random phase so that the sessions' lines spread over the interval.
func (t *typing) start(c *client) {
	c.startReader()
	t.wg.Add(1)
	go func() { // ends at halt
		defer t.wg.Done()
		c.typeLines(t.stop, rand.N(t.interval), t.interval)
	}()
}

// halt stops every session's typing and waits for it; the readers go on
// until stopReader. Calling it again does nothing.
func (t *typing) halt() {
	if !t.halted {
		close(t.stop)
		t.wg.Wait()
		t.halted = true
	}
}

// pace waits d, the schedule of the load, or until ctx ends.
func pace(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// restart is the first comparison: stop the server (SIGTERM), start the
// new build on the same port, and let every client reconnect and log in
// as soon as it can. It returns the new server, or srv if none started.
func (r *runner) restart(ctx context.Context, srv *server, clients []*client, logFile *os.File, mode string) (Comparison, *server) {
	n := len(clients)
	cmp := Comparison{Method: "SIGTERM the server, start the new build on the same port; every client, seeing its connection closed, reconnects at once (retrying every 10-200 ms while refused) and logs in"}
	for _, c := range clients {
		c.resetLines()
	}
	// The clients give up when no new server comes.
	clientCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	var restartErr error
	var stopNote string
	var newSrv *server
	var wg sync.WaitGroup
	wg.Add(1)
	t0 := time.Now()
	go func() { // the operator; ends when the new server listens or fails to
		defer wg.Done()
		// A server that ignores SIGTERM is killed by stop: the restart
		// goes on, and the note says so.
		if err := srv.Stop(time.Minute); err != nil {
			stopNote = err.Error()
		}
		newSrv, restartErr = startServer(ctx, r.bin2, r.control("r", n, mode), logFile, r.serveArgs(srv.addr, n, mode)...)
		cmp.Handoff = time.Since(t0)
		if restartErr != nil {
			giveUp()
		}
	}()
	outage := make([]time.Duration, n)
	failed, err := forEach(ctx, n, n, func(i int) error {
		c := clients[i]
		deadline := time.Now().Add(10 * time.Minute)
		if err := c.awaitClose(deadline); err != nil {
			return err
		}
		if _, err := c.reconnect(clientCtx, srv.addr, benchUser, benchPassword, deadline); err != nil {
			return err
		}
		outage[i] = time.Since(t0)
		return nil
	})
	wg.Wait()
	if stopNote != "" {
		cmp.Method += " (stopping the old server: " + stopNote + ")"
	}
	if newSrv == nil {
		cmp.Error = fmt.Sprintf("restart failed: %v", restartErr)
		return cmp, srv
	}
	cmp.Back = n - failed
	if err != nil {
		cmp.Error = fmt.Sprintf("%d sessions did not come back: %v", failed, err)
	}
	cmp.Outage = Summarize(nonZero(outage))
	cmp.Total = cmp.Outage.Max
	cmp.StateLost = r.countLost(ctx, clients)
	return cmp, newSrv
}

// listenerOnly is the second comparison, what tableflip-style tools do:
// only the listening socket moves to the new process, and established
// connections end with the old one. translucent has no such mode, so it
// is emulated: every client disconnects (as the old process, exiting,
// would drop them), `migrate` then moves the listener with no session to
// carry, and every client reconnects and logs in to the new process.
// Outage counts from the end of the handoff, when the old process would
// have dropped the connections.
func (r *runner) listenerOnly(ctx context.Context, srv *server, clients []*client) Comparison {
	n := len(clients)
	cmp := Comparison{Method: "emulated (no such mode): every client disconnects, `migrate` moves the listener with 0 sessions, then every client reconnects at once and logs in; outage from the end of the handoff"}
	for _, c := range clients {
		c.close()
	}
	// The server must have seen every client go, or the migration would
	// carry a session on its way out.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		left, err := srv.sessions(ctx, r.bin2)
		if err != nil {
			cmp.Error = err.Error()
			return cmp
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			cmp.Error = fmt.Sprintf("%d sessions still open 2 minutes after their clients left", left)
			return cmp
		}
		pace(ctx, 20*time.Millisecond)
	}
	rep, start, end, err := srv.migrate(ctx, r.bin2, r.bin1, 10*time.Minute)
	cmp.Handoff = end.Sub(start)
	if err == nil {
		srv.Follow(rep.NewPid)
	}
	if err != nil {
		cmp.Error = "listener handoff: " + err.Error()
		return cmp
	}
	outage := make([]time.Duration, n)
	failed, err := forEach(ctx, n, n, func(i int) error {
		pid, err := clients[i].reconnect(ctx, srv.addr, benchUser, benchPassword, time.Now().Add(10*time.Minute))
		if err == nil && pid != srv.Pid() {
			err = fmt.Errorf("greeted by pid %d, want the new process %d", pid, srv.Pid())
		}
		if err == nil {
			outage[i] = time.Since(end)
		}
		return err
	})
	cmp.Back = n - failed
	if err != nil {
		cmp.Error = fmt.Sprintf("%d sessions did not come back: %v", failed, err)
	}
	cmp.Outage = Summarize(nonZero(outage))
	cmp.Total = cmp.Outage.Max
	cmp.StateLost = r.countLost(ctx, clients)
	return cmp
}

// nonZero is d without its zeros: the sessions that never came back.
func nonZero(d []time.Duration) []time.Duration {
	var out []time.Duration
	for _, v := range d {
		if v > 0 {
			out = append(out, v)
		}
	}
	return out
}

// countLost asks every session for its base variable and counts those
// that no longer have it.
func (r *runner) countLost(ctx context.Context, clients []*client) int {
	var lost atomic.Int64
	forEach(ctx, len(clients), r.opts.Parallel, func(i int) error {
		c := clients[i]
		out, err := c.eval("base", time.Now().Add(time.Minute))
		if err != nil || out != strconv.Itoa(c.base) {
			lost.Add(1)
		}
		return nil
	})
	return int(lost.Load())
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b int64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
