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
	Sessions []int    // session counts, one measurement each; default 1, 100, 1000, 10000
	Vars     int      // variables per namespace, at least 3 (base, x, m); default 10
	Imports  []string // packages each namespace imports besides "os"; default strings, sort, fmt
	Out      string   // directory for results.md, results.json, pause.svg and the server logs

	// Binary and NewBinary are the builds migrated from and to. When
	// either is empty, both are built from Source (default ".", the
	// repository root) with versions bench-v1 and bench-v2.
	Binary, NewBinary string
	Source            string

	// Interval is how often each session types a line; 0 scales it with
	// the session count (max(2ms, N × 0.5ms)) to keep the offered load
	// near 2,000 lines a second (500 at one session), which two cores serve
	// with room to spare, while a short interval at small counts means a
	// line is typed soon after the server stops reading.
	Interval time.Duration
	Timeout  time.Duration // for each session count; default 1h
	Parallel int           // logins and namespace set-ups at once; default 32
	Progress io.Writer     // a line per step; nil discards
}

// Results is one bench run.
type Results struct {
	Started time.Time     `json:"started"`
	Machine Machine       `json:"machine"`
	Client  string        `json:"client"`
	Vars    int           `json:"vars"`
	Imports []string      `json:"imports"`
	Binary  string        `json:"binary"`
	New     string        `json:"new_binary"`
	Runs    []Measurement `json:"runs"`
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

// Measurement is what was measured at one session count.
type Measurement struct {
	Sessions int           `json:"sessions"`
	Interval time.Duration `json:"interval_ns"`
	Error    string        `json:"error,omitempty"` // what ended this measurement early
	Notes    []string      `json:"notes,omitempty"`

	Login    time.Duration `json:"login_ns"`    // connecting and logging in every session
	Populate time.Duration `json:"populate_ns"` // declaring every namespace

	RSSBase             int64 `json:"rss_base"`      // the server with no session
	RSSIdle             int64 `json:"rss_idle"`      // with N sessions logged in, idle
	RSSNamespace        int64 `json:"rss_namespace"` // with N namespaces declared
	RSSAfter            int64 `json:"rss_after"`     // the process serving after the migration
	IdlePerSession      int64 `json:"idle_per_session"`
	NamespacePerSession int64 `json:"namespace_per_session"`
	ServerFDs           int   `json:"server_fds"` // open in the server at N, before the migration

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
	Answered   int `json:"answered"`   // answered at least once
	Duplicated int `json:"duplicated"` // answers beyond the first
	Lost       int `json:"lost"`       // never answered
	Unexpected int `json:"unexpected"` // answers that were no typed line's
	ByOld      int `json:"by_old"`     // answers from the old process
	ByNew      int `json:"by_new"`     // answers from the new process
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
	if len(opts.Sessions) == 0 {
		opts.Sessions = []int{1, 100, 1000, 10000}
	}
	for _, n := range opts.Sessions {
		if n < 1 {
			return Results{}, fmt.Errorf("bench: %d sessions", n)
		}
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
	if opts.Parallel <= 0 {
		opts.Parallel = 32
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
	}
	for _, n := range opts.Sessions {
		if ctx.Err() != nil {
			break
		}
		run := r.measure(ctx, n)
		if run.Error != "" {
			r.logf("N=%d: %s", n, run.Error)
		}
		res.Runs = append(res.Runs, run)
		if err := WriteAll(opts.Out, res); err != nil {
			return res, err
		}
	}
	return res, ctx.Err()
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
