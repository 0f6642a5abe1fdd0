package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteAll writes results.json, results.md and pause.svg into dir.
func WriteAll(dir string, res Results) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "results.md"))
	if err != nil {
		return err
	}
	if err := WriteMarkdown(f, res); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return WritePlot(filepath.Join(dir, "pause.svg"), res)
}

// Target is one of the goals set for the bench (issue 6's, the pause and
// the round trip tightened by issue 12's: with workers, the front's pause
// carries no namespace), judged against a run.
type Target struct {
	Name     string
	Sessions int                                    // the session count it applies to; 0: every count; minMemorySessions: every count from 100
	Limit    string                                 // the goal, in words
	judge    func(Measurement) (string, bool, bool) // figure, met, measured
}

// Targets are the goals set for a 2-core, 24 GB machine.
var Targets = []Target{
	pauseTarget(1, 20*time.Millisecond),
	pauseTarget(100, 50*time.Millisecond),
	pauseTarget(1000, 100*time.Millisecond),
	pauseTarget(10000, 500*time.Millisecond),
	{Name: "all 10,000 survive the migration", Sessions: 10000, Limit: "migrated, 0 connections lost, 0 lines lost",
		judge: func(r Measurement) (string, bool, bool) {
			if r.Lines.Sent == 0 {
				return "not measured", false, false
			}
			fig := fmt.Sprintf("migration %s; %d connections lost; %d of %d lines lost", okWord(r.Migration.OK), r.ConnectionsLost, r.Lines.Lost, r.Lines.Sent)
			return fig, r.Migration.OK && r.ConnectionsLost == 0 && r.Lines.Lost == 0 && r.Lines.Duplicated == 0, true
		}},
	// Memory is the whole server's, workers included (PSS).
	{Name: "memory per idle logged-in session", Sessions: minMemorySessions, Limit: "≤ 256 KiB",
		judge: func(r Measurement) (string, bool, bool) {
			if r.PSSIdle == 0 {
				return "not measured", false, false
			}
			return kib(r.PSSIdlePerSession), r.PSSIdlePerSession <= 256<<10, true
		}},
	{Name: "memory per session with the namespace", Sessions: minMemorySessions, Limit: "≤ 1 MiB",
		judge: func(r Measurement) (string, bool, bool) {
			if r.PSSNamespace == 0 {
				return "not measured", false, false
			}
			return kib(r.PSSNamespacePerSession), r.PSSNamespacePerSession <= 1<<20, true
		}},
	{Name: "x + 1 round trip p50, no load", Limit: "≤ 0.5 ms",
		judge: func(r Measurement) (string, bool, bool) {
			if r.RTTNoLoad.N == 0 {
				return "not measured", false, false
			}
			return dur(r.RTTNoLoad.P50), r.RTTNoLoad.P50 <= time.Millisecond/2, true
		}},
}

// minMemorySessions marks a per-session memory target, judged only from
// 100 sessions: below that, the growth of the Go heap and the page
// granularity of RSS dwarf what one session costs.
const minMemorySessions = -1

func pauseTarget(n int, limit time.Duration) Target {
	return Target{
		Name: fmt.Sprintf("p99 pause, %s", plural(n, "session")), Sessions: n, Limit: "≤ " + dur(limit),
		judge: func(r Measurement) (string, bool, bool) {
			if !r.Migration.OK {
				return "no migration: " + firstLine(r.Migration.Error+r.Error), false, false
			}
			return dur(r.Migration.Pause.P99), r.Migration.Pause.P99 <= limit, true
		},
	}
}

// Verdict is a target judged against a run.
type Verdict struct {
	Target   Target
	Sessions int
	Isolate  string
	Figure   string
	Met      bool
	Measured bool
}

// Verdicts judges every target against the runs it applies to.
func Verdicts(res Results) []Verdict {
	var out []Verdict
	for _, t := range Targets {
		for _, r := range res.Runs {
			switch {
			case t.Sessions == minMemorySessions && r.Sessions < 100:
				continue
			case t.Sessions > 0 && t.Sessions != r.Sessions:
				continue
			}
			fig, met, measured := t.judge(r)
			out = append(out, Verdict{t, r.Sessions, r.Isolate, fig, met, measured})
		}
	}
	return out
}

// WriteMarkdown writes the results as Markdown tables with notes on how
// each figure was produced.
func WriteMarkdown(w io.Writer, res Results) error {
	var b strings.Builder
	m := res.Machine
	fmt.Fprintf(&b, "# translucent bench\n\n")
	fmt.Fprintf(&b, "Run %s on %d CPUs, %s RAM, %s, Linux %s, descriptor limit %d, load average at start %s. "+
		"The machine is shared with other builds: figures are noisy, and the bench's own clients run on the same two cores as the server.\n\n",
		res.Started.Format(time.RFC3339), m.CPUs, gib(m.MemTotal), m.GoVersion, m.Kernel, m.FDLimit, m.LoadAvg)
	fmt.Fprintf(&b, "Clients: %s. Each session logs in, then declares its namespace: `import \"os\"`, `import \"sys\"`, %s, "+
		"a struct type `Point`, and %d variables (`base`, `x`, a map `m`, and ints, strings, `Point`s, slices). "+
		"It then types `[2]int{base + k, sys.Pid}` every *interval* (random phase, without waiting for the answer), so each answer names its session, its line and the serving process "+
		"(`sys.Pid`, after `import \"sys\"`: with workers, `os.Getpid()` is a worker's pid, which changes when a worker is restarted too).\n\n",
		res.Client, importList(res.Imports), res.Vars)
	if res.Assign {
		b.WriteString("With `--assign`, each typed line is `[2]int{func() int { m[\"last\"] = base + k; return m[\"last\"] }(), sys.Pid}`: " +
			"it changes the namespace, so that a migration finds every namespace changed since the precopy and carries each one in its pause.\n\n")
	}
	fmt.Fprintf(&b, "Each measurement is taken under each of the servers' `--isolate` modes, %s, taking turns at each session count: "+
		"`none` evaluates every session in the serving process; `session` gives each session a worker process of its own; `pool` puts %d sessions in each worker (`--pool-size`). "+
		"A worker is a child of the serving process (the front), so memory is the front's and its children's PSS.\n\n",
		modeList(res.Isolate), res.PoolSize)
	if res.Rate > 0 {
		fmt.Fprintf(&b, "Unless `--interval` was given, the interval at N sessions is max(2 ms, N / %d lines a second): an offered load of about %s lines a second in all, whatever the mode.\n\n", res.Rate, count(res.Rate))
	}

	if len(res.Runs) > 0 {
		writeSideBySide(&b, res.Runs)
		writeRuns(&b, res.Runs)
	}
	if len(res.Crash) > 0 {
		writeCrash(&b, res.Crash)
	}
	if len(res.Long) > 0 {
		writeLong(&b, res.Long)
	}
	if res.Soak != nil {
		writeSoak(&b, *res.Soak)
	}
	if len(res.Paste) > 0 {
		writePaste(&b, res.Paste)
	}
	if len(res.Flood) > 0 {
		writeFlood(&b, res.Flood)
	}

	var problems []string
	note := func(what, s string) {
		if s != "" {
			problems = append(problems, fmt.Sprintf("- %s: %s", what, s))
		}
	}
	for _, r := range res.Runs {
		for _, s := range append([]string{r.Error, r.Migration.Error, r.Restart.Error, r.ListenerOnly.Error}, append(r.LostErrors, r.Notes...)...) {
			note(colName(r), s)
		}
	}
	for _, c := range res.Crash {
		for _, s := range append([]string{c.Error}, c.Notes...) {
			note("crash recovery, "+c.Isolate, s)
		}
	}
	for _, l := range res.Long {
		note("long life, "+l.Isolate, l.Error)
	}
	if s := res.Soak; s != nil {
		for _, e := range append(append([]string{s.Error}, s.MigErrors...), append(s.LostErrors, s.Notes...)...) {
			note("soak, "+s.Isolate, e)
		}
	}
	for _, p := range res.Paste {
		note(fmt.Sprintf("paste of %d lines, %s", p.Lines, p.Build), p.Error)
	}
	for _, f := range res.Flood {
		note("password flood, "+f.Build, f.Error)
	}
	if len(problems) > 0 {
		b.WriteString("\n## Errors and notes\n\n" + strings.Join(problems, "\n") + "\n")
	}
	b.WriteString(howProduced)
	_, err := io.WriteString(w, b.String())
	return err
}

// colName names a measurement's column: its session count and mode.
func colName(r Measurement) string {
	if r.Isolate == "" {
		return "N = " + count(r.Sessions)
	}
	return fmt.Sprintf("N = %s, %s", count(r.Sessions), r.Isolate)
}

// writeSideBySide writes the figures that differ between modes, one row
// per session count and mode.
func writeSideBySide(b *strings.Builder, runs []Measurement) {
	b.WriteString("## Isolation side by side\n\n" +
		"| N | isolate | x + 1 p50 / p99, no load | memory per session with namespace (PSS, front + workers) | processes | pause p50 / p99 | server's pause | lines lost / connections lost |\n" +
		"|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.Error != "" && r.PSSNamespace == 0 {
			fmt.Fprintf(b, "| %s | %s | %s |  |  |  |  |  |\n", count(r.Sessions), r.Isolate, firstLine(r.Error))
			continue
		}
		pause, server := "—", "—"
		if r.Migration.OK {
			pause = statsPair(r.Migration.Pause)
			server = dur(r.Migration.Report.Pause)
		} else if r.Migration.Attempted {
			pause = "failed: " + firstLine(r.Migration.Error)
		}
		lost := "—"
		if r.Lines.Sent > 0 {
			lost = fmt.Sprintf("%d of %d / %d", r.Lines.Lost, r.Lines.Sent, r.ConnectionsLost)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", count(r.Sessions), r.Isolate, statsPair(r.RTTNoLoad),
			kibOr(r.PSSNamespace, r.PSSNamespacePerSession), intOr(r.Processes), pause, server, lost)
	}
	b.WriteString("\n")
}

// writeRuns writes every figure of every measurement, one column each.
func writeRuns(b *strings.Builder, runs []Measurement) {
	cols := runs
	row := func(name string, f func(Measurement) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, r := range cols {
			fmt.Fprintf(b, " %s |", f(r))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Every figure\n\n| |")
	for _, r := range cols {
		fmt.Fprintf(b, " %s |", colName(r))
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row("typing interval per session", func(r Measurement) string { return dur(r.Interval) })
	row("log in all sessions", func(r Measurement) string { return durOr(r.Login) })
	row("declare all namespaces", func(r Measurement) string { return durOr(r.Populate) })
	row("**pause p50 / p99 / max**", func(r Measurement) string {
		p := r.Migration.Pause
		switch {
		case p.N == 0:
			return "—"
		case !r.Migration.OK:
			return fmt.Sprintf("%s / %s / %s (failed migration; %d lines never answered)", dur(p.P50), dur(p.P99), dur(p.Max), r.Lines.Lost)
		}
		return fmt.Sprintf("**%s / %s / %s**", dur(p.P50), dur(p.P99), dur(p.Max))
	})
	row("sessions with a line in flight: during migrate / during the server's pause", func(r Measurement) string {
		if r.Migration.Pause.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%d / %d", r.Migration.SessionsInFlight, r.Migration.SessionsBlackout)
	})
	row("of which: lines in flight during the server's pause, p50 / p99 / max", func(r Measurement) string {
		return triple(r.Migration.BlackoutPause)
	})
	row("of which: lines typed during the start phase (old serves, new starts), p50 / p99 / max", func(r Measurement) string {
		return triple(r.Migration.StartTyping)
	})
	row("lines typed after migrate returned (new process catching up), p50 / p99 / max", func(r Measurement) string {
		return triple(r.Migration.AfterTyping)
	})
	row("pause as the old server timed it (quiesce → commit)", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return dur(r.Migration.Report.Pause)
	})
	row("first answer from the new process (from migrate's start)", func(r Measurement) string {
		if !r.Migration.HasFirstNew {
			return "—"
		}
		return dur(r.Migration.FirstNewAnswer)
	})
	row("migration total (the migrate command)", func(r Measurement) string {
		if !r.Migration.Attempted {
			return "not attempted"
		}
		if !r.Migration.OK {
			return "**failed** after " + dur(r.Migration.Total)
		}
		return dur(r.Migration.Total)
	})
	row("namespaces restored before the pause (precopy)", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return fmt.Sprintf("%d of %d", r.Migration.Report.Prebuilt, r.Migration.Report.Sessions)
	})
	row("of which the new process held as they were, found live before the pause (recheck): not snapshotted in it", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return fmt.Sprintf("%d", r.Migration.Report.Unchanged)
	})
	row("namespace updates sent before the pause (changed since the precopy; again if changed again)", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return fmt.Sprintf("%d", r.Migration.Report.Updates)
	})
	for _, ph := range []string{"start", "recheck", "quiesce", "transfer", "restore", "commit"} {
		row("  phase "+ph, func(r Measurement) string {
			if !r.Migration.OK {
				return "—"
			}
			return dur(r.Migration.Report.Phase(ph))
		})
	}
	row("server PSS, front + workers: no session / N idle / N with namespaces", func(r Measurement) string {
		return fmt.Sprintf("%s / %s / %s", mibOr(r.PSSBase), mibOr(r.PSSIdle), mibOr(r.PSSNamespace))
	})
	row("processes (front + workers) with N namespaces / after migrating", func(r Measurement) string {
		return intOr(r.Processes) + " / " + intOr(r.ProcessesAfter)
	})
	row("PSS of the new front and its workers after migrating", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return mibOr(r.PSSAfter)
	})
	row("**PSS per idle logged-in session**", func(r Measurement) string { return kibOr(r.PSSIdle, r.PSSIdlePerSession) })
	row("**PSS per session with namespace**", func(r Measurement) string { return kibOr(r.PSSNamespace, r.PSSNamespacePerSession) })
	row("front's RSS alone: no session / N idle / N with namespaces", func(r Measurement) string {
		return fmt.Sprintf("%s / %s / %s", mibOr(r.RSSBase), mibOr(r.RSSIdle), mibOr(r.RSSNamespace))
	})
	row("front's RSS per session: idle / with namespace", func(r Measurement) string {
		return kibOr(r.RSSIdle, r.IdlePerSession) + " / " + kibOr(r.RSSNamespace, r.NamespacePerSession)
	})
	row("RSS of the new front after migrating", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return mibOr(r.RSSAfter)
	})
	row("front's descriptors at N", func(r Measurement) string { return intOr(r.ServerFDs) })
	row("**x + 1 p50 / p99, no load**", func(r Measurement) string { return statsPair(r.RTTNoLoad) })
	row("x + 1 p50 / p99, N−1 sessions typing", func(r Measurement) string { return statsPair(r.RTTLoaded) })
	row("typed line p50 / p99 / max, whole run", func(r Measurement) string {
		if r.Typing.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%s / %s / %s", dur(r.Typing.P50), dur(r.Typing.P99), dur(r.Typing.Max))
	})
	row("lines sent / answered / duplicated / lost (of which rolled back) / unexpected", func(r Measurement) string {
		l := r.Lines
		return fmt.Sprintf("%d / %d / %d / %d (%d) / %d", l.Sent, l.Answered, l.Duplicated, l.Lost, l.RolledBack, l.Unexpected)
	})
	row("answered by old / new process", func(r Measurement) string { return fmt.Sprintf("%d / %d", r.Lines.ByOld, r.Lines.ByNew) })
	row("**connections lost**", func(r Measurement) string { return fmt.Sprint(r.ConnectionsLost) })
	row("restart: server listening again", func(r Measurement) string { return durOr(r.Restart.Handoff) })
	row("restart: every session back / outage p50 / p99", func(r Measurement) string { return cmpOutage(r.Restart) })
	row("restart: sessions back / namespaces lost", func(r Measurement) string { return cmpLost(r.Restart) })
	row("listener-only: handoff (migrate, 0 sessions)", func(r Measurement) string { return durOr(r.ListenerOnly.Handoff) })
	row("listener-only: every session back / outage p50 / p99", func(r Measurement) string { return cmpOutage(r.ListenerOnly) })
	row("listener-only: sessions back / namespaces lost", func(r Measurement) string { return cmpLost(r.ListenerOnly) })

	b.WriteString("\n## Targets\n\n| target | N | isolate | goal | measured | met |\n|---|---|---|---|---|---|\n")
	for _, v := range Verdicts(Results{Runs: runs}) {
		met := "no"
		switch {
		case !v.Measured:
			met = "not measured"
		case v.Met:
			met = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", v.Target.Name, count(v.Sessions), v.Isolate, v.Target.Limit, v.Figure, met)
	}

	for _, r := range runs {
		if len(r.Migration.Timeline) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n## Lines over the migration, %s\n\n"+
			"Each row is the lines typed during one window, by when they were sent (from the start of the migrate command), and how long their answers took.\n\n"+
			"| sent from | server | lines | p50 | p99 | max |\n|---|---|---|---|---|---|\n", colName(r))
		for _, w := range r.Migration.Timeline {
			fmt.Fprintf(b, "| %s | %s | %d | %s | %s | %s |\n", signedDur(w.From), w.Phase, w.Lines.N, durOr(w.Lines.P50), durOr(w.Lines.P99), durOr(w.Lines.Max))
		}
	}
}

// writeCrash writes the crash recovery, one column per mode.
func writeCrash(b *strings.Builder, crs []CrashResult) {
	b.WriteString("\n## Crash recovery\n\n" +
		"One session (the culprit) types `import \"runtime\"`, then `" + crashLine + "` (which ends the process evaluating it with SIGTRAP) again and again, each as soon as the last is answered, " +
		"while every other session (its neighbours) types a line every *interval*.\n\n| |")
	for _, c := range crs {
		fmt.Fprintf(b, " %s |", c.Isolate)
	}
	b.WriteString("\n|---|")
	for range crs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(name string, f func(CrashResult) string) {
		fmt.Fprintf(b, "| %s |", name)
		for _, c := range crs {
			fmt.Fprintf(b, " %s |", f(c))
		}
		b.WriteString("\n")
	}
	row("sessions / crashing lines typed / neighbours' typing interval", func(c CrashResult) string {
		return fmt.Sprintf("%d / %d / %s", c.Sessions, c.Crashes, dur(c.Interval))
	})
	row("**culprit: crashing line sent → next prompt, p50 / p99 / max**", func(c CrashResult) string {
		if c.Recovery.N == 0 {
			return "—"
		}
		return fmt.Sprintf("**%s / %s** / %s over %d", dur(c.Recovery.P50), dur(c.Recovery.P99), dur(c.Recovery.Max), c.Recovery.N)
	})
	row("culprit's first answer", func(c CrashResult) string { return "`" + strings.ReplaceAll(c.Answer, "|", "\\|") + "`" })
	row("the serving process died", func(c CrashResult) string {
		if c.ServerEnded {
			return "**yes**"
		}
		return "no"
	})
	row("processes (front + workers) before / after", func(c CrashResult) string {
		return intOr(c.ProcsBefore) + " / " + intOr(c.ProcsAfter)
	})
	row("neighbours' lines p50 / p99, the second before", func(c CrashResult) string { return statsPair(c.Before) })
	row("**neighbours' lines p50 / p99 / max, during the crashes**", func(c CrashResult) string { return triple(c.During) })
	row("neighbours hit (a line rolled back, or told their worker ended) / notices", func(c CrashResult) string {
		return fmt.Sprintf("%d of %d / %d", c.Hit, c.Sessions-1, c.Notices)
	})
	row("neighbours' lines sent / answered / lost (of which rolled back) / unexpected", func(c CrashResult) string {
		l := c.Lines
		return fmt.Sprintf("%d / %d / %d (%d) / %d", l.Sent, l.Answered, l.Lost, l.RolledBack, l.Unexpected)
	})
	row("**neighbours disconnected**", func(c CrashResult) string { return fmt.Sprintf("%d of %d", c.Disconnected, c.Sessions-1) })
	row("**sessions whose variables were gone afterwards**", func(c CrashResult) string { return fmt.Sprintf("%d of %d", c.StateLost, c.Sessions) })
}

// writeLong writes the long-life runs, one column per mode.
func writeLong(b *strings.Builder, lrs []LongResult) {
	b.WriteString("\n## Long life\n\n" +
		"One session evaluates `x + 1` again and again; each row is the evaluations since the row before: their p50 / p99, and the server's memory (front and workers, PSS) at its end.\n\n| evaluations |")
	rows := 0
	for _, l := range lrs {
		fmt.Fprintf(b, " %s |", l.Isolate)
		rows = max(rows, len(l.Windows))
	}
	b.WriteString("\n|---|")
	for range lrs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i := range rows {
		through := 0
		for _, l := range lrs {
			if i < len(l.Windows) {
				through = l.Windows[i].Through
			}
		}
		fmt.Fprintf(b, "| to %s |", count(through))
		for _, l := range lrs {
			if i >= len(l.Windows) {
				b.WriteString(" — |")
				continue
			}
			w := l.Windows[i]
			fmt.Fprintf(b, " %s; %s |", statsPair(w.RTT), mibOr(w.PSS))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "| **last / first: memory, p50** |")
	for _, l := range lrs {
		fmt.Fprintf(b, " **%.2f, %.2f** |", l.MemoryRatio, l.TimeRatio)
	}
	fmt.Fprintf(b, "\n| processes; time for all |")
	for _, l := range lrs {
		procs := 0
		if len(l.Windows) > 0 {
			procs = l.Windows[len(l.Windows)-1].Procs
		}
		fmt.Fprintf(b, " %d; %s |", procs, durOr(l.Duration))
	}
	b.WriteString("\n")
}

// howProduced is the end of results.md: how each figure was taken.
const howProduced = `
## How each figure was produced

- **Pause**: for each session, the longest time from a typed line leaving the client to its answer arriving, among the lines in flight at some moment while ` + "`translucent migrate`" + ` ran; p50/p99/max are over the sessions that had such a line (the count is in the table). A session types every *interval* without waiting for answers, so a line typed just as the server stops reading waits out the whole blackout, and one typed later waits less: at small intervals the max approaches the server's own figure (quiesce → commit).
- **Where the pause comes from**: the same per-session figure for the lines in flight during the server's own pause (quiesce → commit, placed at the end of the migrate command), and the latency of lines typed during the start phase, when the old process still serves while the new one starts and restores namespaces ahead (both compete for the two cores), and of lines typed after the command returned.
- **First answer from the new process**: the earliest answer, over all sessions, carrying the new process's pid, counted from the start of the migrate command (whose first phase, start, is the new process starting while the old one still answers).
- **Phases**: as ` + "`translucent migrate`" + ` prints them (start: until the new process says it is up; recheck: the old process finds, live, which namespaces are unchanged since the new one restored them, sends the new one those that changed, which it brings up to date, and looks again at those that evaluated something meanwhile, in rounds; quiesce: every session at rest and its record made, a snapshot only for a namespace that changed after the recheck; transfer: records and descriptors sent; restore: until READY; commit).
- **Memory**: PSS (proportional set size, /proc/PID/smaps_rollup) of the serving process (the front) plus that of each of its direct children, its workers (/proc/PID/task/*/children): a page that k processes share counts 1/k in each, so the binary's pages, shared by every worker, count once in the sum. Per session = (PSS at N − PSS with no session, when no worker has started) / N, after logging in (idle: with workers, each session already has its worker and an empty interpreter) and after declaring the namespaces. The front's RSS (VmRSS) alone is given too. The Go heaps are not collected first, so these include garbage not yet collected.
- **x + 1**: one session sends ` + "`x + 1`" + ` and waits for ` + "`42`" + ` and the prompt, 200 times after 10 warm-up runs; "no load" with every other session logged in but silent, "loaded" while the other N−1 type.
- **Exactly once**: every typed line's number is recovered from its answer; a line answered twice is duplicated, never answered is lost. A connection is lost when a client's read or write fails before the bench stops it.
- **Restart**: SIGTERM to the server (it tells each client and closes), the new build started on the same port, and every client, seeing its connection close, reconnects at once, retrying every 10–200 ms while refused, then logs in. Outage per session: from the SIGTERM to logged in again. Namespaces lost: sessions where ` + "`base`" + ` is undefined afterwards.
- **Listener-only handoff** (what tableflip-style tools do: the port moves, connections drop): translucent has no such mode, so it is emulated. Every client disconnects; once the server has no session, ` + "`migrate`" + ` moves the listening socket with nothing else to carry; then every client reconnects and logs in to the new process. Outage per session counts from the end of that handoff, when a listener-only tool's old process would drop the connections.
- Logins use a bcrypt cost of 4 (the minimum) for the bench user, so that 10,000 logins measure the server rather than bcrypt.
- **Crash recovery**: the culprit's time is from sending ` + "`" + crashLine + "`" + ` to its next prompt, which follows the answer ` + "`" + rollbackPrefix + " …`" + ` once the front has restored the session in a new worker. The neighbours' lines are split by when they were sent: in the second before the first crashing line, and from it to the culprit's last answer. A neighbour is hit when one of its lines was answered with that rollback (it ran in the same worker: pool mode) or it was told between prompts that its worker ended (` + "`" + noticePrefix + "this session's worker process ended …`" + `). Afterwards every session, the culprit too, evaluates ` + "`base`" + `, declared before the crashes; a disconnected session counts as having lost it. With ` + "`--isolate none`" + ` the first crashing line ends the server itself.
- **Long life**: one session alone evaluates ` + "`x + 1`" + ` one after another, waiting for each answer; the windows end after the first 1,000 evaluations and at every multiple of 10,000. The ratios are the last window's over the first's.
`

func modeList(modes []string) string {
	q := make([]string, len(modes))
	for i, m := range modes {
		q[i] = "`" + m + "`"
	}
	return strings.Join(q, ", ")
}

func importList(imps []string) string {
	if len(imps) == 0 {
		return "no other import"
	}
	q := make([]string, len(imps))
	for i, s := range imps {
		q[i] = fmt.Sprintf("`%q`", s)
	}
	return "imports " + strings.Join(q, ", ")
}

func cmpOutage(c Comparison) string {
	if c.Outage.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", dur(c.Total), dur(c.Outage.P50), dur(c.Outage.P99))
}

func cmpLost(c Comparison) string {
	if c.Outage.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%d / %d", c.Back, c.StateLost)
}

func triple(s Stats) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", dur(s.P50), dur(s.P99), dur(s.Max))
}

func statsPair(s Stats) string {
	if s.N == 0 {
		return "—"
	}
	return dur(s.P50) + " / " + dur(s.P99)
}

// dur formats a duration in milliseconds, or seconds from 10 s.
func dur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// signedDur is dur with a sign, for times relative to an event.
func signedDur(d time.Duration) string {
	if d < 0 {
		return "−" + dur(-d)
	}
	return "+" + dur(d)
}

func durOr(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return dur(d)
}

func mibOr(b int64) string {
	if b == 0 {
		return "—"
	}
	return mib(b)
}

func kibOr(measured, b int64) string {
	if measured == 0 {
		return "—"
	}
	return kib(b)
}

func intOr(n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprint(n)
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// count writes n with thousands separators: 10,000.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

func okWord(ok bool) string {
	if ok {
		return "committed"
	}
	return "failed"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
