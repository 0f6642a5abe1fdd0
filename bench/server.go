package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"translucent/migrate"
	"translucent/serverproc"
)

// server is a chain of `translucent serve` processes on one address: the
// process the bench started and each successor a migration made. Follow
// tells it which one serves after a migration.
type server struct {
	*serverproc.Chain
	addr    string // host:port, the same for the whole chain
	control string
}

// startServer starts `bin serve` with args (plus the control socket), a
// copy of its log written to logFile, and waits until it logs that it
// listens. The caller must call Stop.
func startServer(ctx context.Context, bin, control string, logFile *os.File, args ...string) (*server, error) {
	args = append([]string{"--control", control}, args...)
	if knowsFlag(bin, "home") {
		// The users' history files in the run's own directory: not in
		// this user's private directory, where every earlier run's
		// sessions (one user) would have left 500 lines of history for
		// each new session to load and carry through each migration.
		args = append(args, "--home", filepath.Join(filepath.Dir(control), "home"))
	}
	cfg := serverproc.Config{Binary: bin, Args: args}
	if logFile != nil { // not a nil *os.File in an io.Writer
		cfg.Log = logFile
	}
	c, err := serverproc.Start(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	l, err := c.WaitListening(ctx, c.First())
	if err != nil {
		c.Stop(time.Minute)
		return nil, fmt.Errorf("%w (see its log)", err)
	}
	return &server{Chain: c, addr: l.Addr, control: control}, nil
}

// migrate runs `bin migrate --json` to newBin, allowing the server
// timeout for the migration, and returns its report and when it started
// and ended. The command is killed a minute after timeout: a server stuck
// where its timeout is not checked must not stall the bench.
func (s *server) migrate(ctx context.Context, bin, newBin string, timeout time.Duration) (sum migrate.Summary, start, end time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "migrate", "--json", "--control", s.control, "--binary", newBin, "--timeout", timeout.String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start = time.Now()
	err = cmd.Run()
	end = time.Now()
	if err != nil && ctx.Err() != nil {
		return sum, start, end, fmt.Errorf("migrate: no answer %v after the migration's own timeout of %v; command killed", time.Minute, timeout)
	}
	if err != nil {
		return sum, start, end, fmt.Errorf("migrate: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return sum, start, end, fmt.Errorf("migrate --json: %w in %q (a build from before --json?)", err, stdout.String())
	}
	if sum.NewPid == 0 || len(sum.Phases) == 0 {
		return sum, start, end, fmt.Errorf("migrate --json: no new pid or no phases in %q", stdout.String())
	}
	return sum, start, end, nil
}

// sessions asks the serving process how many sessions it has
// (`translucent status`).
func (s *server) sessions(ctx context.Context, bin string) (int, error) {
	out, err := exec.CommandContext(ctx, bin, "status", "--control", s.control).Output()
	if err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	return countSessions(string(out))
}

// countSessions counts the sessions in the output of `translucent status`:
// lines about the process, a header, one line per session, and perhaps,
// after a blank line, the other process of an incremental migration.
func countSessions(status string) (int, error) {
	_, table, ok := strings.Cut(status, "\nID ")
	if !ok {
		return 0, fmt.Errorf("status: no table of sessions in %q", status)
	}
	if i := strings.Index(table, "\n\n"); i >= 0 {
		table = table[:i+1]
	}
	return strings.Count(table, "\n") - 1, nil
}

// procStatus returns a field of /proc/PID/status in bytes (fields given
// in kB) or as a count.
func procStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// rss is a process's resident set size in bytes.
func rss(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// openFDs counts a process's open descriptors.
func openFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// memAvailable is the kernel's estimate of memory available for new work.
func memAvailable() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			f := strings.Fields(v)
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n * 1024, err
		}
	}
	return 0, errors.New("/proc/meminfo: no MemAvailable")
}

// memory is what a server holds: its serving process (the front) and that
// process's direct children, its workers when it has any.
type memory struct {
	PSS      int64 // front and workers, bytes
	FrontPSS int64
	Procs    int // the front and its workers
}

// serverMemory measures the serving process pid and its workers as PSS
// (proportional set size, /proc/PID/smaps_rollup): each page shared by k
// processes counts 1/k in each, so a sum over processes counts the
// binary's pages, which a thousand workers share, once, as RSS would not.
// A worker that ends while it is read is left out.
func serverMemory(pid int) (memory, error) {
	front, err := pss(pid)
	if err != nil {
		return memory{}, err
	}
	m := memory{PSS: front, FrontPSS: front, Procs: 1}
	kids, err := children(pid)
	if err != nil {
		return m, err
	}
	for _, k := range kids {
		if p, err := pss(k); err == nil {
			m.PSS += p
			m.Procs++
		}
	}
	return m, nil
}

// pss is a process's proportional set size in bytes.
func pss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Pss:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/smaps_rollup: no Pss", pid)
}

// children lists pid's direct children from /proc/PID/task/*/children
// (each thread's own), or, on a kernel without that file, by scanning
// every process's parent in /proc/*/stat.
func children(pid int) ([]int, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if errors.Is(err, os.ErrNotExist) && len(kids) == 0 {
			if _, serr := os.Stat(fmt.Sprintf("/proc/%d/task/%s", pid, t.Name())); serr == nil {
				return childrenByScan(pid) // the thread is there, the file is not
			}
			continue // the thread ended
		}
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids, nil
}

// childrenByScan finds pid's children by their parent in /proc/*/stat.
func childrenByScan(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, e := range ents {
		k, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentOf(k); err == nil && ppid == pid {
			kids = append(kids, k)
		}
	}
	return kids, nil
}

// parentOf reads a process's parent from /proc/PID/stat, whose second
// field, the command name in parentheses, may itself hold spaces and
// parentheses: the fields after the last ')' are state, then ppid.
func parentOf(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	return strconv.Atoi(f[1])
}

// knowsFlag reports whether bin's serve has flag name (builds before it
// refuse it), from its usage.
func knowsFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	return strings.Contains(string(out), "  -"+name+" ")
}
