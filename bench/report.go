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

// Target is one of issue 6's goals, judged against a run.
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
	pauseTarget(1000, 250*time.Millisecond),
	pauseTarget(10000, 2*time.Second),
	{Name: "all 10,000 survive the migration", Sessions: 10000, Limit: "migrated, 0 connections lost, 0 lines lost",
		judge: func(r Measurement) (string, bool, bool) {
			if r.Lines.Sent == 0 {
				return "not measured", false, false
			}
			fig := fmt.Sprintf("migration %s; %d connections lost; %d of %d lines lost", okWord(r.Migration.OK), r.ConnectionsLost, r.Lines.Lost, r.Lines.Sent)
			return fig, r.Migration.OK && r.ConnectionsLost == 0 && r.Lines.Lost == 0 && r.Lines.Duplicated == 0, true
		}},
	{Name: "memory per idle logged-in session", Sessions: minMemorySessions, Limit: "≤ 256 KiB",
		judge: func(r Measurement) (string, bool, bool) {
			if r.RSSIdle == 0 {
				return "not measured", false, false
			}
			return kib(r.IdlePerSession), r.IdlePerSession <= 256<<10, true
		}},
	{Name: "memory per session with the namespace", Sessions: minMemorySessions, Limit: "≤ 1 MiB",
		judge: func(r Measurement) (string, bool, bool) {
			if r.RSSNamespace == 0 {
				return "not measured", false, false
			}
			return kib(r.NamespacePerSession), r.NamespacePerSession <= 1<<20, true
		}},
	{Name: "x + 1 round trip p50, no load", Limit: "≤ 1 ms",
		judge: func(r Measurement) (string, bool, bool) {
			if r.RTTNoLoad.N == 0 {
				return "not measured", false, false
			}
			return dur(r.RTTNoLoad.P50), r.RTTNoLoad.P50 <= time.Millisecond, true
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
			out = append(out, Verdict{t, r.Sessions, fig, met, measured})
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
	fmt.Fprintf(&b, "Clients: %s. Each session logs in, then declares its namespace: `import \"os\"`, %s, "+
		"a struct type `Point`, and %d variables (`base`, `x`, a map `m`, and ints, strings, `Point`s, slices). "+
		"It then types `[2]int{base + k, os.Getpid()}` every *interval* (random phase, without waiting for the answer), so each answer names its session, its line and the process that evaluated it.\n\n",
		res.Client, importList(res.Imports), res.Vars)

	cols := res.Runs
	row := func(name string, f func(Measurement) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range cols {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		b.WriteString("\n")
	}
	b.WriteString("| |")
	for _, r := range cols {
		fmt.Fprintf(&b, " N = %s |", count(r.Sessions))
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
	row("of which found unchanged, live, before the pause (recheck): not snapshotted in it", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return fmt.Sprintf("%d", r.Migration.Report.Unchanged)
	})
	for _, ph := range []string{"start", "recheck", "quiesce", "transfer", "restore", "commit"} {
		row("  phase "+ph, func(r Measurement) string {
			if !r.Migration.OK {
				return "—"
			}
			return dur(r.Migration.Report.Phase(ph))
		})
	}
	row("server RSS: no session / N idle / N with namespaces", func(r Measurement) string {
		return fmt.Sprintf("%s / %s / %s", mibOr(r.RSSBase), mibOr(r.RSSIdle), mibOr(r.RSSNamespace))
	})
	row("RSS of the new process after migrating", func(r Measurement) string {
		if !r.Migration.OK {
			return "—"
		}
		return mibOr(r.RSSAfter)
	})
	row("**RSS per idle logged-in session**", func(r Measurement) string { return kibOr(r.RSSIdle, r.IdlePerSession) })
	row("**RSS per session with namespace**", func(r Measurement) string { return kibOr(r.RSSNamespace, r.NamespacePerSession) })
	row("server descriptors at N", func(r Measurement) string { return intOr(r.ServerFDs) })
	row("**x + 1 p50 / p99, no load**", func(r Measurement) string { return statsPair(r.RTTNoLoad) })
	row("x + 1 p50 / p99, N−1 sessions typing", func(r Measurement) string { return statsPair(r.RTTLoaded) })
	row("typed line p50 / p99 / max, whole run", func(r Measurement) string {
		if r.Typing.N == 0 {
			return "—"
		}
		return fmt.Sprintf("%s / %s / %s", dur(r.Typing.P50), dur(r.Typing.P99), dur(r.Typing.Max))
	})
	row("lines sent / answered / duplicated / lost / unexpected", func(r Measurement) string {
		l := r.Lines
		return fmt.Sprintf("%d / %d / %d / %d / %d", l.Sent, l.Answered, l.Duplicated, l.Lost, l.Unexpected)
	})
	row("answered by old / new process", func(r Measurement) string { return fmt.Sprintf("%d / %d", r.Lines.ByOld, r.Lines.ByNew) })
	row("**connections lost**", func(r Measurement) string { return fmt.Sprint(r.ConnectionsLost) })
	row("restart: server listening again", func(r Measurement) string { return durOr(r.Restart.Handoff) })
	row("restart: every session back / outage p50 / p99", func(r Measurement) string { return cmpOutage(r.Restart) })
	row("restart: sessions back / namespaces lost", func(r Measurement) string { return cmpLost(r.Restart) })
	row("listener-only: handoff (migrate, 0 sessions)", func(r Measurement) string { return durOr(r.ListenerOnly.Handoff) })
	row("listener-only: every session back / outage p50 / p99", func(r Measurement) string { return cmpOutage(r.ListenerOnly) })
	row("listener-only: sessions back / namespaces lost", func(r Measurement) string { return cmpLost(r.ListenerOnly) })

	b.WriteString("\n## Targets\n\n| target | N | goal | measured | met |\n|---|---|---|---|---|\n")
	for _, v := range Verdicts(res) {
		met := "no"
		switch {
		case !v.Measured:
			met = "not measured"
		case v.Met:
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", v.Target.Name, count(v.Sessions), v.Target.Limit, v.Figure, met)
	}

	for _, r := range res.Runs {
		if len(r.Migration.Timeline) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## Lines over the migration, N = %s\n\n"+
			"Each row is the lines typed during one window, by when they were sent (from the start of the migrate command), and how long their answers took.\n\n"+
			"| sent from | server | lines | p50 | p99 | max |\n|---|---|---|---|---|---|\n", count(r.Sessions))
		for _, w := range r.Migration.Timeline {
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", signedDur(w.From), w.Phase, w.Lines.N, durOr(w.Lines.P50), durOr(w.Lines.P99), durOr(w.Lines.Max))
		}
	}

	var problems []string
	for _, r := range res.Runs {
		for _, s := range append([]string{r.Error, r.Migration.Error, r.Restart.Error, r.ListenerOnly.Error}, append(r.LostErrors, r.Notes...)...) {
			if s != "" {
				problems = append(problems, fmt.Sprintf("- N = %s: %s", count(r.Sessions), s))
			}
		}
	}
	if len(problems) > 0 {
		b.WriteString("\n## Errors and notes\n\n" + strings.Join(problems, "\n") + "\n")
	}

	b.WriteString(`
## How each figure was produced

- **Pause**: for each session, the longest time from a typed line leaving the client to its answer arriving, among the lines in flight at some moment while ` + "`translucent migrate`" + ` ran; p50/p99/max are over the sessions that had such a line (the count is in the table). A session types every *interval* without waiting for answers, so a line typed just as the server stops reading waits out the whole blackout, and one typed later waits less: at small intervals the max approaches the server's own figure (quiesce → commit).
- **Where the pause comes from**: the same per-session figure for the lines in flight during the server's own pause (quiesce → commit, placed at the end of the migrate command), and the latency of lines typed during the start phase, when the old process still serves while the new one starts and restores namespaces ahead (both compete for the two cores), and of lines typed after the command returned.
- **First answer from the new process**: the earliest answer, over all sessions, carrying the new process's pid, counted from the start of the migrate command (whose first phase, start, is the new process starting while the old one still answers).
- **Phases**: as ` + "`translucent migrate`" + ` prints them (start: until the new process says it is up; recheck: the old process finds, live, which namespaces are unchanged since the new one restored them, again for those that evaluated something meanwhile; quiesce: every session at rest and its record made, a snapshot only for a namespace that changed after the recheck; transfer: records and descriptors sent; restore: until READY; commit).
- **RSS**: VmRSS of the serving process from /proc; per session = (RSS at N − RSS with no session) / N, after logging in (idle) and after declaring the namespaces. The Go heap is not collected first, so these include garbage not yet collected.
- **x + 1**: one session sends ` + "`x + 1`" + ` and waits for ` + "`42`" + ` and the prompt, 200 times after 10 warm-up runs; "no load" with every other session logged in but silent, "loaded" while the other N−1 type.
- **Exactly once**: every typed line's number is recovered from its answer; a line answered twice is duplicated, never answered is lost. A connection is lost when a client's read or write fails before the bench stops it.
- **Restart**: SIGTERM to the server (it tells each client and closes), the new build started on the same port, and every client, seeing its connection close, reconnects at once, retrying every 10–200 ms while refused, then logs in. Outage per session: from the SIGTERM to logged in again. Namespaces lost: sessions where ` + "`base`" + ` is undefined afterwards.
- **Listener-only handoff** (what tableflip-style tools do: the port moves, connections drop): translucent has no such mode, so it is emulated. Every client disconnects; once the server has no session, ` + "`migrate`" + ` moves the listening socket with nothing else to carry; then every client reconnects and logs in to the new process. Outage per session counts from the end of that handoff, when a listener-only tool's old process would drop the connections.
- Logins use a bcrypt cost of 4 (the minimum) for the bench user, so that 10,000 logins measure the server rather than bcrypt.
`)
	_, err := io.WriteString(w, b.String())
	return err
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
