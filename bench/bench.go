package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"translucent/migrate"
)

// Options says what to measure. The zero value of each field selects the
// default beside it; Out is required.
type Options struct {
	Sessions []int    // session counts, one measurement each under each Isolate mode; nil: 1, 100, 1000, 10000; empty: none
	Vars     int      // variables per namespace, at least 3 (base, x, m); default 10
	Imports  []string // packages each namespace imports besides "os" and "sys"; default strings, sort, fmt
	Out      string   // directory for results.md, results.json, pause.svg and the server logs

	// Isolate is the servers' --isolate modes (none, session, pool): every
	// measurement is taken under each, side by side in one run, so that a
	// shared machine's load weighs on them alike; default session, pool.
	// PoolSize is --pool-size in pool mode; default 16.
	Isolate  []string
	PoolSize int

	// Crash is the session count of the crash recovery measured under
	// each mode, in which one session types Crashes lines that end the
	// process evaluating them; default 20 sessions and 10 lines, negative
	// Crash: none.
	Crash, Crashes int

	// Long is how many times one session evaluates x + 1 in the long-life
	// run under each mode; 0: none.
	Long int

	// Assign makes each typed line also store its number in the session's
	// map m, so that every namespace changes between the precopy and the
	// pause and a migration must carry each one in its pause: the worst
	// case, where the default lines (expressions) change nothing.
	Assign bool

	// Soak, when positive, is how long SoakSessions sessions (default
	// 100) under the first Isolate mode type while the bench runs
	// SoakMigrations migrations (default 100) between the two builds and
	// SoakKills SIGKILLs of a worker (default 100), evenly spread.
	Soak                                    time.Duration
	SoakSessions, SoakMigrations, SoakKills int

	// Paste is the line counts of a pasted slice literal, each timed
	// under both builds; empty: none. Flood, when positive, is how many
	// connections guess passwords while a logged-in user times 1 + 1
	// (FloodSamples times, default 200) under both builds.
	Paste        []int
	Flood        int
	FloodSamples int

	// Binary and NewBinary are the builds migrated from and to. When
	// either is empty, both are built from Source (default ".", the
	// repository root) with versions bench-v1 and bench-v2.
	Binary, NewBinary string
	Source            string

	// Interval is how often each session types a line; 0 scales it with
	// the session count (max(2ms, N / Rate)) to keep the offered load near
	// Rate lines a second (at most 500 a session), while a short interval
	// at small counts means a line is typed soon after the server stops
	// reading. Rate defaults to 2,000, which two cores serve with room to
	// spare in the server's process; a line evaluated in a worker costs
	// more (a round trip between two processes), and 2,000 a second can
	// keep the two cores busy.
	Interval time.Duration
	Rate     int
	Timeout  time.Duration // for each session count; default 1h
	Parallel int           // logins and namespace set-ups at once; default 16 (a server's --max-logins-per-ip)
	Progress io.Writer     // a line per step; nil discards
}

// Results is one bench run.
type Results struct {
	Started  time.Time     `json:"started"`
	Machine  Machine       `json:"machine"`
	Client   string        `json:"client"`
	Vars     int           `json:"vars"`
	Imports  []string      `json:"imports"`
	Binary   string        `json:"binary"`
	New      string        `json:"new_binary"`
	Isolate  []string      `json:"isolate"`
	PoolSize int           `json:"pool_size"`
	Rate     int           `json:"rate"`             // lines a second offered, unless Interval is set
	Assign   bool          `json:"assign,omitempty"` // typed lines change the namespace
	Runs     []Measurement `json:"runs"`
	Crash    []CrashResult `json:"crash,omitempty"`
	Long     []LongResult  `json:"long,omitempty"`
	Soak     *SoakResult   `json:"soak,omitempty"`
	Paste    []PasteResult `json:"paste,omitempty"`
	Flood    []FloodResult `json:"flood,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	MemTotal  int64  `json:"mem_total"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	FDLimit   uint64 `json:"fd_limit"` // hard RLIMIT_NOFILE, inherited by the servers
	LoadAvg   string `json:"load_avg"` // at the start: the machine is shared
}

// Measurement is what was measured at one session count under one mode.
type Measurement struct {
	Sessions int           `json:"sessions"`
	Isolate  string        `json:"isolate"` // the servers' --isolate
	Interval time.Duration `json:"interval_ns"`
	Error    string        `json:"error,omitempty"` // what ended this measurement early
	Notes    []string      `json:"notes,omitempty"`

	Login    time.Duration `json:"login_ns"`    // connecting and logging in every session
	Populate time.Duration `json:"populate_ns"` // declaring every namespace

	// RSS is the serving process's alone (the front's, with workers).
	RSSBase             int64 `json:"rss_base"`      // the server with no session
	RSSIdle             int64 `json:"rss_idle"`      // with N sessions logged in, idle
	RSSNamespace        int64 `json:"rss_namespace"` // with N namespaces declared
	RSSAfter            int64 `json:"rss_after"`     // the process serving after the migration
	IdlePerSession      int64 `json:"idle_per_session"`
	NamespacePerSession int64 `json:"namespace_per_session"`
	ServerFDs           int   `json:"server_fds"` // open in the server at N, before the migration

	// PSS is the whole server's: the front and its workers (serverMemory),
	// at the same moments as RSS.
	PSSBase                int64 `json:"pss_base"`
	PSSIdle                int64 `json:"pss_idle"`
	PSSNamespace           int64 `json:"pss_namespace"`
	PSSAfter               int64 `json:"pss_after"`
	PSSIdlePerSession      int64 `json:"pss_idle_per_session"`
	PSSNamespacePerSession int64 `json:"pss_namespace_per_session"`
	Processes              int   `json:"processes"`       // front and workers with N namespaces
	ProcessesAfter         int   `json:"processes_after"` // the new front and its workers, as PSSAfter

	RTTNoLoad Stats `json:"rtt_no_load"` // x + 1, one session alone typing
	RTTLoaded Stats `json:"rtt_loaded"`  // x + 1 while the other N-1 sessions type
	Typing    Stats `json:"typing"`      // every typed line, send to answer

	Migration       MigrationResult `json:"migration"`
	Lines           LineCounts      `json:"lines"`
	ConnectionsLost int             `json:"connections_lost"`
	LostErrors      []string        `json:"lost_errors,omitempty"`

	Restart      Comparison `json:"restart"`
	ListenerOnly Comparison `json:"listener_only"`
}

// MigrationResult is the live migration measured while sessions type.
type MigrationResult struct {
	Attempted bool            `json:"attempted"`
	OK        bool            `json:"ok"`
	Error     string          `json:"error,omitempty"`
	Report    migrate.Summary `json:"report"`
	Total     time.Duration   `json:"total_ns"` // the migrate command, start to exit
	// Pause is, over the sessions with a line in flight while the migrate
	// command ran, each one's longest time from a line sent to its answer.
	Pause            Stats `json:"pause"`
	SessionsInFlight int   `json:"sessions_in_flight"` // with a line in flight while migrate ran
	// BlackoutPause is Pause for the lines in flight during the server's
	// own pause (quiesce to commit), over the sessions that had one.
	BlackoutPause    Stats `json:"blackout_pause"`
	SessionsBlackout int   `json:"sessions_blackout"`
	// StartTyping is every line sent and answered during the start phase,
	// while the old process serves and the new one starts; AfterTyping
	// every line sent after the migrate command returned.
	StartTyping Stats `json:"start_typing"`
	AfterTyping Stats `json:"after_typing"`
	// Timeline is the same lines by when they were sent, window by
	// window, from just before the migrate command to the end of typing.
	Timeline       []Window      `json:"timeline,omitempty"`
	FirstNewAnswer time.Duration `json:"first_new_answer_ns"`
	HasFirstNew    bool          `json:"has_first_new"`
}

// LineCounts is the exactly-once check over every session's typed lines.
type LineCounts struct {
	Sent       int `json:"sent"`
	Answered   int `json:"answered"`    // answered at least once
	Duplicated int `json:"duplicated"`  // answers beyond the first
	Lost       int `json:"lost"`        // never answered with the line's value
	RolledBack int `json:"rolled_back"` // of Lost, answered that the worker running it ended
	Unexpected int `json:"unexpected"`  // answers that were no typed line's
	ByOld      int `json:"by_old"`      // answers from the old process
	ByNew      int `json:"by_new"`      // answers from the new process
}

// Comparison is a way of changing builds other than live migration.
type Comparison struct {
	Method    string        `json:"method"`
	Handoff   time.Duration `json:"handoff_ns"` // restart: stop to listening; listener-only: the migrate command
	Total     time.Duration `json:"total_ns"`   // until every session is logged in again
	Outage    Stats         `json:"outage"`     // per session: disconnected to logged in again
	Back      int           `json:"back"`       // sessions logged in again
	StateLost int           `json:"state_lost"` // sessions whose variables were gone
	Error     string        `json:"error,omitempty"`
}

const (
	benchUser     = "bench"
	benchPassword = "bench-password"
	clientKind    = "raw TCP in line mode: answers no telnet negotiation, sends whole lines ending in LF, strips IAC sequences from what it reads"
)

// Run measures every session count of opts and writes results.md,
// results.json and pause.svg into opts.Out after each one, so that a
// later count failing leaves the earlier ones written. It returns an error
// only when it cannot measure at all (no build, no output directory) or
// cannot write the results; a count that fails is a Measurement with Error set.
func Run(ctx context.Context, opts Options) (Results, error) {
	if opts.Out == "" {
		return Results{}, errors.New("bench: no output directory")
	}
	if opts.Sessions == nil {
		opts.Sessions = []int{1, 100, 1000, 10000}
	}
	for _, n := range opts.Sessions {
		if n < 1 {
			return Results{}, fmt.Errorf("bench: %d sessions", n)
		}
	}
	if len(opts.Isolate) == 0 {
		opts.Isolate = []string{"session", "pool"}
	}
	for _, m := range opts.Isolate {
		if m != "none" && m != "session" && m != "pool" {
			return Results{}, fmt.Errorf("bench: isolate mode %q: want none, session or pool", m)
		}
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 16
	}
	if opts.Crash == 0 {
		opts.Crash = 20
	}
	if opts.Crashes <= 0 {
		opts.Crashes = 10
	}
	if opts.SoakSessions <= 0 {
		opts.SoakSessions = 100
	}
	if opts.SoakMigrations < 0 {
		opts.SoakMigrations = 0
	}
	if opts.SoakKills < 0 {
		opts.SoakKills = 0
	}
	if opts.Vars == 0 {
		opts.Vars = 10
	}
	opts.Vars = max(opts.Vars, 3)
	if opts.Imports == nil {
		opts.Imports = []string{"strings", "sort", "fmt"}
	}
	if opts.Source == "" {
		opts.Source = "."
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Hour
	}
	if opts.Rate <= 0 {
		opts.Rate = 2000
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return Results{}, err
	}
	// Unix socket paths are short (108 bytes): the control sockets live
	// in a short temporary directory rather than under Out.
	tmp, err := os.MkdirTemp("", "tb")
	if err != nil {
		return Results{}, err
	}
	defer os.RemoveAll(tmp)

	r := &runner{opts: opts, tmp: tmp, bin1: opts.Binary, bin2: opts.NewBinary}
	if r.bin1 == "" || r.bin2 == "" {
		r.bin1, r.bin2 = filepath.Join(tmp, "translucent-v1"), filepath.Join(tmp, "translucent-v2")
		for _, b := range []struct{ path, version string }{{r.bin1, "bench-v1"}, {r.bin2, "bench-v2"}} {
			r.logf("building %s (version %s)", b.path, b.version)
			if err := build(ctx, opts.Source, b.path, b.version); err != nil {
				return Results{}, err
			}
		}
	}
	if r.users, err = writeUsers(tmp); err != nil {
		return Results{}, err
	}

	res := Results{
		Started: time.Now(), Machine: machine(), Client: clientKind,
		Vars: opts.Vars, Imports: opts.Imports, Binary: r.bin1, New: r.bin2,
		Isolate: opts.Isolate, PoolSize: opts.PoolSize, Rate: opts.Rate, Assign: opts.Assign,
	}
	// The modes take turns at each session count, rather than each mode
	// running every count in a row, so that a change in the shared
	// machine's load falls on them alike.
	for _, n := range opts.Sessions {
		for _, mode := range opts.Isolate {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			run := Measurement{Sessions: n, Isolate: mode}
			if why := r.wouldNotFit(res.Runs, n, mode); why != "" {
				run.Error = why
			} else {
				run = r.measure(ctx, n, mode)
			}
			if run.Error != "" {
				r.logf("%s: %s", label(n, mode), run.Error)
			}
			res.Runs = append(res.Runs, run)
			if err := WriteAll(opts.Out, res); err != nil {
				return res, err
			}
		}
	}
	for _, mode := range opts.Isolate {
		if opts.Crash < 0 || ctx.Err() != nil {
			break
		}
		cr := r.crash(ctx, opts.Crash, mode)
		if cr.Error != "" {
			r.logf("crash recovery, %s: %s", label(opts.Crash, mode), cr.Error)
		}
		res.Crash = append(res.Crash, cr)
		if err := WriteAll(opts.Out, res); err != nil {
			return res, err
		}
	}
	for _, mode := range opts.Isolate {
		if opts.Long <= 0 || ctx.Err() != nil {
			break
		}
		lr := r.long(ctx, opts.Long, mode)
		if lr.Error != "" {
			r.logf("long life, isolate=%s: %s", mode, lr.Error)
		}
		res.Long = append(res.Long, lr)
		if err := WriteAll(opts.Out, res); err != nil {
			return res, err
		}
	}
	if opts.Soak > 0 && ctx.Err() == nil {
		sr := r.soak(ctx, opts.Isolate[0])
		if sr.Error != "" {
			r.logf("soak, %s: %s", label(opts.SoakSessions, opts.Isolate[0]), sr.Error)
		}
		res.Soak = &sr
		if err := WriteAll(opts.Out, res); err != nil {
			return res, err
		}
	}
	// The builds take turns at each paste length, as the modes do at each
	// session count.
	for _, n := range opts.Paste {
		for _, bin := range r.builds() {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			r.logf("paste of %d lines, %s", n, bin)
			pr := r.paste(ctx, bin, n)
			if pr.Error != "" {
				r.logf("paste of %d lines, %s: %s", n, bin, pr.Error)
			}
			res.Paste = append(res.Paste, pr)
			if err := WriteAll(opts.Out, res); err != nil {
				return res, err
			}
		}
	}
	for _, bin := range r.builds() {
		if opts.Flood <= 0 || ctx.Err() != nil {
			break
		}
		if opts.FloodSamples <= 0 {
			opts.FloodSamples = 200
		}
		r.logf("password flood of %d connections, %s", opts.Flood, bin)
		fr := r.flood(ctx, bin, opts.Flood, opts.FloodSamples)
		if fr.Error != "" {
			r.logf("password flood, %s: %s", bin, fr.Error)
		}
		res.Flood = append(res.Flood, fr)
		if err := WriteAll(opts.Out, res); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
}

// label names a session count and mode in progress lines.
func label(n int, mode string) string { return fmt.Sprintf("N=%d isolate=%s", n, mode) }

// wouldNotFit says why n sessions under mode would not fit in memory, by
// the largest smaller count already measured under that mode, or "" when
// they would (or nothing says otherwise). A migration needs room for the
// server and a successor as large. It saves starting, say, ten thousand
// worker processes only for populate to stop them part way.
func (r *runner) wouldNotFit(done []Measurement, n int, mode string) string {
	var ref *Measurement
	for i := range done {
		m := &done[i]
		if m.Isolate == mode && m.Sessions < n && m.Sessions >= 100 && m.PSSNamespace > 0 && (ref == nil || m.Sessions > ref.Sessions) {
			ref = m
		}
	}
	avail, err := memAvailable()
	if ref == nil || err != nil {
		return ""
	}
	need := ref.PSSBase + ref.PSSNamespacePerSession*int64(n)
	if 2*need <= avail-1<<30 {
		return ""
	}
	return fmt.Sprintf("not run: at N = %s this mode held %s per session (front and workers, PSS); %s sessions would need about %s, and a successor as much again, of the %s available",
		count(ref.Sessions), kib(ref.PSSNamespacePerSession), count(n), mib(need), mib(avail))
}

// runner holds what every session count shares.
type runner struct {
	opts       Options
	tmp        string
	bin1, bin2 string
	users      string
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.opts.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// build compiles the server in source to out with version.
func build(ctx context.Context, source, out, version string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version="+version, "-o", out, ".")
	cmd.Dir = source
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: building %s: %w\n%s", version, err, b)
	}
	return nil
}

// writeUsers writes a users file with the bench's user. Its bcrypt cost is
// the minimum, 4: a login at the default cost (10) takes ~60 ms of CPU, so
// 10,000 logins would take minutes of the two cores and measure bcrypt.
// The server accepts any bcrypt cost (repl.ParseUsers).
func writeUsers(dir string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "users")
	return path, os.WriteFile(path, []byte(benchUser+":"+string(hash)+"\n"), 0o600)
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		m.FDLimit = rl.Max
	}
	return m
}

// forEach runs f(i) for every i in [0, n) on at most workers goroutines,
// stopping early only when ctx ends. It returns how many failed and the
// first failure.
func forEach(ctx context.Context, n, workers int, f func(i int) error) (failed int, first error) {
	var mu sync.Mutex
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() { // ends when idx is closed
			defer wg.Done()
			for i := range idx {
				if err := f(i); err != nil {
					mu.Lock()
					failed++
					if first == nil {
						first = fmt.Errorf("session %d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return failed, first
}
