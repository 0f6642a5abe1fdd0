package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the old server process Run started, and through its process
// group, its successor.
type server struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once cmd has been waited for
	waitErr error         // cmd.Wait's answer; read after exited is closed
}

// startServer starts bin with args in a process group of its own, its
// standard output and error appended to logPath.
//
// The log is a file, not a pipe: the successor inherits it, and a
// successor left running (--keep) must not die of SIGPIPE when the demo
// that read the pipe exits.
func startServer(bin string, args []string, logPath string) (*server, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: Ctrl-C at the terminal interrupts the demo,
	// which then ends the servers itself, and one kill(-pgid) reaches the
	// successor too, which inherits the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { // ends when the old process exits
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// hasExited reports whether the old process has ended.
func (s *server) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// logLines returns the log's lines so far, parsed where they are slog's.
func (s *server) logLines() []logLine {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var lines []logLine
	for _, t := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if t != "" {
			l, _ := parseLogLine(t)
			lines = append(lines, l)
		}
	}
	return lines
}

// logTail is the end of the log, for an error message.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "server log (" + s.logPath + "):\n" + strings.Join(lines, "\n")
}

// waitLog polls the log until a line from process pid (any pid, if 0)
// with message msg appears, and returns it. It fails if the old process
// exits first (unless it is not the one awaited), or after d.
func (s *server) waitLog(ctx context.Context, pid int, msg string, d time.Duration) (logLine, error) {
	var found logLine
	err := poll(ctx, d, func() (bool, error) {
		for _, l := range s.logLines() {
			if l.get("msg") == msg && (pid == 0 || l.get("pid") == strconv.Itoa(pid)) {
				found = l
				return true, nil
			}
		}
		if (pid == 0 || pid == s.pid()) && s.hasExited() {
			return false, fmt.Errorf("the server exited (%v) before it logged %q", s.waitErr, msg)
		}
		return false, nil
	})
	if err != nil {
		return logLine{}, fmt.Errorf("demo: %w\n%s", err, s.logTail())
	}
	return found, nil
}

// stop ends the process group: SIGTERM, then after d SIGKILL. other is
// the successor's pid (0 if none), which is not our child: it is polled.
func (s *server) stop(other int, d time.Duration) error {
	pgid := s.pid() // Setpgid made the old process the group's leader
	syscall.Kill(-pgid, syscall.SIGTERM)
	gone := func() (bool, error) { return s.hasExited() && (other == 0 || !alive(other)), nil }
	if poll(context.Background(), d, gone) == nil {
		return nil
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	if err := poll(context.Background(), 5*time.Second, gone); err != nil {
		return fmt.Errorf("demo: the servers (process group %d) did not end on SIGTERM nor SIGKILL", pgid)
	}
	return fmt.Errorf("demo: the servers (process group %d) did not end on SIGTERM within %v; killed", pgid, d)
}

// alive reports whether process pid exists and is not a zombie. A
// successor is not our child, so we cannot wait for it; once its parent
// (the old server) is gone, whoever adopted it reaps it, perhaps late.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// poll calls cond every 10ms until it holds, fails, ctx ends, or d passes.
// It is for what cannot be waited for: a process that is not our child, a
// line in a file another process writes.
func poll(ctx context.Context, d time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("still waiting after %v", d)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// build runs `go build` for one version of the server.
func build(ctx context.Context, source, out, version string) ([]string, error) {
	args := []string{"go", "build", "-ldflags", "-X main.version=" + version, "-o", out, "."}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = source
	if b, err := cmd.CombinedOutput(); err != nil {
		return args, fmt.Errorf("demo: %s (in %s): %w\n%s", strings.Join(args, " "), source, err, b)
	}
	return args, nil
}

// checkSource makes sure dir is this project's source before building it.
func checkSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	first, _, _ := strings.Cut(string(b), "\n")
	if err != nil || strings.TrimSpace(first) != "module translucent" {
		return "", fmt.Errorf("demo: %s is not translucent's source (no go.mod of module translucent there); run the demo from the repository's root, or pass --source DIR, or two builds with --binary OLD --new-binary NEW", abs)
	}
	return abs, nil
}
