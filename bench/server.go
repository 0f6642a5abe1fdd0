package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"translucent/migrate"
)

// server is a chain of `translucent serve` processes on one address: the
// process the bench started and each successor a migration made. Only the
// goroutine running the benchmark calls its methods.
type server struct {
	addr    string // host:port, the same for the whole chain
	control string

	cmd    *exec.Cmd     // the first process, our child
	exited chan struct{} // closed once cmd is reaped

	mu    sync.Mutex
	procs map[int]int // pid → pidfd of every process of the chain seen alive; guarded by mu
	pid   int         // the serving process; guarded by mu

	listening chan listenLine // every "msg=listening" line of the chain
	logDone   chan struct{}   // closed when every process of the chain has closed the log pipe
}

type listenLine struct {
	pid  int
	addr string
}

var reListening = regexp.MustCompile(`msg=listening pid=(\d+) addr=(\S+)`)

// startServer starts `bin serve` with args (plus the control socket), its
// standard error appended to logFile, and waits until it logs that it
// listens. The caller must call stop.
func startServer(ctx context.Context, bin, control string, logFile *os.File, args ...string) (*server, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	args = append([]string{"serve", "--control", control}, args...)
	if knowsFlag(bin, "home") {
		// The users' history files in the run's own directory: not in
		// this user's private directory, where every earlier run's
		// sessions (one user) would have left 500 lines of history for
		// each new session to load and carry through each migration.
		args = append(args, "--home", filepath.Join(filepath.Dir(control), "home"))
	}
	cmd := exec.Command(bin, args...)
	// A real pipe rather than an io.Writer: successors inherit it, and
	// cmd.Wait must not wait for them.
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &server{
		control:   control,
		cmd:       cmd,
		exited:    make(chan struct{}),
		procs:     make(map[int]int),
		listening: make(chan listenLine, 16),
		logDone:   make(chan struct{}),
	}
	s.track(cmd.Process.Pid)
	go func() { // ends when the first process exits
		cmd.Wait()
		close(s.exited)
	}()
	go s.readLog(pr, logFile) // ends when every process of the chain has exited
	l, err := s.waitListening(ctx, cmd.Process.Pid, 2*time.Minute)
	if err != nil {
		s.kill()
		return nil, err
	}
	s.addr = l.addr
	s.setPid(l.pid)
	return s, nil
}

// readLog copies the chain's log to logFile and picks out the lines that
// say a process listens.
func (s *server) readLog(pr *os.File, logFile *os.File) {
	defer close(s.logDone)
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if logFile != nil {
			fmt.Fprintln(logFile, line)
		}
		if m := reListening.FindStringSubmatch(line); m != nil {
			pid, _ := strconv.Atoi(m[1])
			s.track(pid)
			select {
			case s.listening <- listenLine{pid, m[2]}:
			default: // nobody is waiting for this many; the pid is tracked anyway
			}
		}
	}
	io.Copy(io.Discard, pr)
}

// waitListening waits for process pid (0: any) to log that it listens.
func (s *server) waitListening(ctx context.Context, pid int, timeout time.Duration) (listenLine, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l := <-s.listening:
			if pid == 0 || l.pid == pid {
				return l, nil
			}
		case <-s.logDone:
			return listenLine{}, errors.New("the server exited before listening (see its log)")
		case <-ctx.Done():
			return listenLine{}, ctx.Err()
		case <-t.C:
			return listenLine{}, fmt.Errorf("no process logged that it listens within %v", timeout)
		}
	}
}

// track keeps a pidfd for pid, so that signals reach that process and no
// other that might reuse its number later.
func (s *server) track(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[pid]; ok {
		return
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	s.procs[pid] = fd
}

func (s *server) setPid(pid int) {
	s.track(pid)
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
}

// Pid is the serving process.
func (s *server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// signal sends sig to pid through its pidfd.
func (s *server) signal(pid int, sig syscall.Signal) error {
	s.mu.Lock()
	fd, ok := s.procs[pid]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("process %d is not one of the server's", pid)
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// waitExit waits until pid has exited (reaped or not), or timeout.
func (s *server) waitExit(pid int, timeout time.Duration) error {
	s.mu.Lock()
	fd, ok := s.procs[pid]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if err := pollExit(fd, timeout); err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	return nil
}

// pollExit waits until the process of pidfd fd has exited, or timeout.
func pollExit(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("still running after %v", timeout)
		}
		// A pidfd polls readable once its process has exited.
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for exit: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
}

// stop ends the serving process with SIGTERM (SIGKILL after a minute),
// then every other process of the chain still alive, and waits for the
// log to close.
func (s *server) stop() error {
	var errs []error
	pid := s.Pid()
	if err := s.signal(pid, syscall.SIGTERM); err == nil {
		if err := s.waitExit(pid, time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("SIGTERM did not stop it: %w", err))
		}
	}
	s.kill()
	return errors.Join(errs...)
}

// kill ends, with SIGKILL, every process of the chain that is still alive,
// waits for them, releases the pidfds and waits for the log to close.
func (s *server) kill() {
	s.mu.Lock()
	procs := s.procs
	s.procs = make(map[int]int)
	s.mu.Unlock()
	for _, fd := range procs {
		if unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0) == nil {
			pollExit(fd, time.Minute)
		}
		unix.Close(fd)
	}
	<-s.exited
	select {
	case <-s.logDone:
	case <-time.After(time.Minute): // a process we never heard of holds the pipe
	}
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
