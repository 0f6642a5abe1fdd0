package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"translucent/bench"
)

// benchCmd runs the benchmark of issue 6 and prints where the results are.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sessions := fs.String("sessions", "1,100,1000,10000", "comma-separated session `counts`, one measurement each under each --isolate mode (\"\": none)")
	isolate := fs.String("isolate", "session,pool", "comma-separated `modes` (none, session, pool) to pass as the servers' --isolate, each measured side by side")
	poolSize := fs.Int("pool-size", 16, "the servers' --pool-size in pool mode")
	crash := fs.Int("crash", 20, "session `count` of the crash recovery run under each mode (0: none)")
	crashes := fs.Int("crashes", 10, "lines that end their worker, typed one after another in the crash recovery run")
	assign := fs.Bool("assign", false, "typed lines also store their number in the namespace (m[\"last\"]), so that every namespace changes before each migration's pause")
	long := fs.Int("long", 0, "long life: one session evaluates x + 1 `N` times under each mode (0: none)")
	vars := fs.Int("vars", 10, "variables per session's namespace (at least 3)")
	imports := fs.String("imports", "strings,sort,fmt", "comma-separated `packages` each namespace imports (besides os and sys)")
	out := fs.String("out", "bench-out", "`dir` for results.md, results.json, pause.svg and the server logs")
	binary := fs.String("binary", "", "the build to migrate from (default: build one from --source)")
	newBinary := fs.String("new-binary", "", "the build to migrate to (default: build one from --source)")
	source := fs.String("source", ".", "the repository `dir` to build both from when --binary or --new-binary is missing")
	interval := fs.Duration("interval", 0, "how often each session types a line (default: max(2ms, N / --rate))")
	rate := fs.Int("rate", 2000, "`lines` a second all sessions together type, unless --interval is given")
	soak := fs.Duration("soak", 0, "soak: type for `DURATION` while migrating and killing workers, under the first --isolate mode (0: none; with it, the other measurements run only if asked for)")
	soakSessions := fs.Int("soak-sessions", 100, "sessions of the soak")
	soakMigrations := fs.Int("soak-migrations", 100, "migrations spread over the soak, alternating between the two builds")
	soakKills := fs.Int("soak-kills", 100, "SIGKILLs of a random worker spread over the soak")
	paste := fs.String("paste", "", "comma-separated line `counts` of a pasted slice literal, each timed under both builds (--binary, --new-binary); with it, the other measurements run only if asked for")
	flood := fs.Int("flood", 0, "password flood: a logged-in user's 1 + 1 while `N` connections guess passwords, under both builds (0: none; with it, the other measurements run only if asked for)")
	timeout := fs.Duration("timeout", time.Hour, "time allowed for each session count")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if *soak > 0 || *paste != "" || *flood > 0 {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["sessions"] {
			*sessions = ""
		}
		if !set["crash"] {
			*crash = 0
		}
	}
	if *soak < 0 || *soakSessions < 1 || *soakMigrations < 0 || *soakKills < 0 {
		return errors.New("bench: --soak, --soak-migrations and --soak-kills must not be negative, --soak-sessions positive")
	}
	var pastes []int
	for _, s := range splitList(*paste) {
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n < 1 {
			return fmt.Errorf("bench: --paste: %q is not a positive count", s)
		}
		pastes = append(pastes, n)
	}
	counts := []int{} // --sessions "": none, not the default
	for _, s := range splitList(*sessions) {
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n < 1 {
			return fmt.Errorf("bench: --sessions: %q is not a positive count", s)
		}
		counts = append(counts, n)
	}
	modes := splitList(*isolate)
	if len(modes) == 0 {
		return errors.New("bench: --isolate: no mode")
	}
	if *poolSize < 1 || *crashes < 1 || *rate < 1 || *crash < 0 || *long < 0 {
		return errors.New("bench: --pool-size, --crashes and --rate must be positive, --crash and --long not negative")
	}
	opts := bench.Options{
		Sessions: counts, Vars: *vars, Imports: splitList(*imports), Out: *out,
		Isolate: modes, PoolSize: *poolSize, Crash: *crash, Crashes: *crashes, Long: *long, Assign: *assign,
		Binary: absPath(*binary), NewBinary: absPath(*newBinary), Source: *source,
		Soak: *soak, SoakSessions: *soakSessions, SoakMigrations: *soakMigrations, SoakKills: *soakKills,
		Interval: *interval, Rate: *rate, Timeout: *timeout, Progress: stderr,
		Paste: pastes, Flood: *flood,
	}
	if *crash == 0 {
		opts.Crash = -1 // Options' zero is the default
	}
	if opts.Imports == nil {
		opts.Imports = []string{} // --imports "": none, not the default
	}
	res, err := bench.Run(ctx, opts)
	if len(res.Runs)+len(res.Crash)+len(res.Long)+len(res.Paste)+len(res.Flood) > 0 || res.Soak != nil {
		if werr := bench.WriteMarkdown(stdout, res); werr != nil {
			err = errors.Join(err, werr)
		}
		fmt.Fprintf(stderr, "results in %s\n", filepath.Join(*out, "results.md"))
	}
	return err
}

// absPath makes p absolute, so that the server can migrate to it from
// any working directory; "" stays "".
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
