package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"translucent/serverproc"
)

// startServer starts `bin serve args...` in a process group of its own,
// its standard output and error appended to logPath.
//
// The log is a file, not a pipe: the successor inherits it, and a
// successor left running (--keep) must not die of SIGPIPE when the demo
// that read the pipe exits. Its own process group: Ctrl-C at the terminal
// interrupts the demo, which then ends the servers itself, and one
// kill(-pgid) reaches the successor too, which inherits the group.
func startServer(bin string, args []string, logPath string) (*serverproc.Chain, error) {
	return serverproc.Start(serverproc.Config{Binary: bin, Args: args, LogFile: logPath, ProcessGroup: true})
}

// logTail is the end of the servers' log, for an error message.
func (d *demo) logTail() string {
	return "server log (" + d.logPath + "):\n" + d.srv.Tail(30)
}

// waitLog waits for a line from process pid (any pid, if 0) with message
// msg, and returns it. It fails once no process of the chain is left, or
// after d.
func (d *demo) waitLog(ctx context.Context, pid int, msg string, timeout time.Duration) (serverproc.Line, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := d.srv.Wait(ctx, func(l serverproc.Line) bool {
		return l.Get("msg") == msg && (pid == 0 || l.Get("pid") == strconv.Itoa(pid))
	})
	if err != nil {
		return l, fmt.Errorf("demo: waiting for the server to log %q: %w\n%s", msg, err, d.logTail())
	}
	return l, nil
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
