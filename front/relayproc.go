package front

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The relay process is started by a server's first process (or by a
// successor that finds none). The exit of the process that started it, at
// each migration, does not end it; in a process group of its own, like a
// worker, a terminal's Ctrl-C or hang-up reaches only the front. Not in a
// session of its own: the kernel schedules each session apart (autogroup),
// and a relay so scheduled waited up to 165 ms for a CPU while a new
// process started beside the old one, when the fronts, in the server's
// session, waited at most 32 ms (perf sched, on a loaded 2-core machine).
// Its pid goes to each successor in the handoff's meta. The front that
// holds the listeners supervises it: a relay that dies is started again,
// at most maxRelayRestarts times in relayRestartWindow; a clean stop of
// the server stops it.
const (
	maxRelayRestarts   = 5
	relayRestartWindow = time.Minute
	relayStopWait      = 5 * time.Second
)

// relayProc supervises the relay process.
type relayProc struct {
	binary string   // this build (a test's seam)
	args   []string // ssh-relay's
	sshLn  *os.File // the SSH listener's descriptor, the relay's fd 3
	log    *slog.Logger

	mu       sync.Mutex
	pid      int         // the relay's; guarded by mu
	pidfd    int         // refers to it; guarded by mu
	cmd      *exec.Cmd   // non-nil when this process started it (to reap it); guarded by mu
	restarts []time.Time // guarded by mu
	ended    bool        // stop or detach was called; guarded by mu

	quit    *os.File      // closing it ends the watcher (detach, stop)
	quitR   *os.File      // the watcher polls it
	watched chan struct{} // closed when the watcher has returned
}

// newRelayProc returns the supervisor of the relay for ls (which has the
// ssh and relay listeners), using hostKey.
func newRelayProc(ls *listeners, hostKey string, log *slog.Logger) (*relayProc, error) {
	f, err := ls.ssh.File()
	if err != nil {
		return nil, err
	}
	exe, err := executable()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &relayProc{
		binary: exe,
		args:   []string{"ssh-relay", "--listen", "fd:3", "--front", ls.relay.Addr().String(), "--host-key", hostKey},
		sshLn:  f, log: log, pidfd: -1, quit: w, quitR: r, watched: make(chan struct{}),
	}, nil
}

// run takes over the relay of pid, if it is this server's and alive, or
// starts one, then watches it in a goroutine that ends with stop or detach.
func (p *relayProc) run(pid int) error {
	if pid > 0 {
		if fd, err := p.adopt(pid); err != nil {
			p.log.Warn("ssh relay: the predecessor's is gone; starting one", "relay", pid, "err", err)
		} else {
			p.mu.Lock()
			p.pid, p.pidfd = pid, fd
			p.mu.Unlock()
			p.log.Info("ssh relay: the predecessor's goes on", "relay", pid)
		}
	}
	if p.Pid() == 0 {
		if err := p.start(); err != nil {
			close(p.watched)
			return err
		}
	}
	go p.watch() // ends with stop or detach
	return nil
}

// adopt opens pid, after checking that it is this server's relay.
func (p *relayProc) adopt(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if err != nil || len(args) < 2 || args[1] != "ssh-relay" || !slices.Contains(args, p.args[4]) { // its --front
		unix.Close(fd)
		return -1, fmt.Errorf("process %d is not this server's ssh relay (%q)", pid, args)
	}
	return fd, nil
}

// start starts a relay of this build.
func (p *relayProc) start() error {
	cmd := exec.Command(p.binary, p.args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{p.sshLn}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not Setsid: see above
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ssh relay: %w", err)
	}
	fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("ssh relay: %w", err)
	}
	p.mu.Lock()
	p.pid, p.pidfd, p.cmd = cmd.Process.Pid, fd, cmd
	p.mu.Unlock()
	p.log.Info("ssh relay started", "relay", cmd.Process.Pid, "binary", p.binary)
	return nil
}

// Pid is the relay's pid, 0 if none runs.
func (p *relayProc) Pid() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// watch waits for the relay to end, and starts it again, until stop or
// detach, or too many restarts.
func (p *relayProc) watch() {
	defer close(p.watched)
	for {
		p.mu.Lock()
		fd := p.pidfd
		p.mu.Unlock()
		if !p.waitExit(fd, -1) {
			return // stop or detach
		}
		p.mu.Lock()
		if p.ended {
			p.mu.Unlock()
			return
		}
		status := p.reapLocked()
		now := time.Now()
		p.restarts = append(slices.DeleteFunc(p.restarts, func(t time.Time) bool { return now.Sub(t) > relayRestartWindow }), now)
		n := len(p.restarts)
		p.mu.Unlock()
		if n > maxRelayRestarts {
			p.log.Error("ssh relay: it keeps ending; not starting it again (SSH is down until the server restarts)", "exit", status, "restarts", n-1, "within", relayRestartWindow)
			return
		}
		p.log.Warn("ssh relay ended; starting it again (its SSH connections ended with it)", "exit", status)
		if err := p.start(); err != nil {
			p.log.Error("ssh relay: cannot start it again", "err", err)
			return
		}
	}
}

// waitExit waits for the process of pidfd to exit (true) or for quit to
// be closed (false), at most timeout (-1: no limit; false when it passes).
func (p *relayProc) waitExit(pidfd int, timeout time.Duration) bool {
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}, {Fd: int32(p.quitR.Fd()), Events: unix.POLLIN}}
	if timeout >= 0 {
		fds = fds[:1] // stop's own wait: quit is closed already
	}
	for {
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents != 0
	}
}

// reapLocked collects the exit status of a relay this process started,
// and closes its pidfd. The caller holds p.mu.
func (p *relayProc) reapLocked() string {
	status := "unknown (not this process's child)"
	if p.cmd != nil {
		p.cmd.Wait()
		status = p.cmd.ProcessState.String()
		p.cmd = nil
	}
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
	p.pid, p.pidfd = 0, -1
	return status
}

// detach stops watching the relay, which goes on for a successor.
func (p *relayProc) detach() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.ended = true
	p.mu.Unlock()
	p.quit.Close()
	<-p.watched
}

// stop ends the relay and its SSH connections: the server stops.
func (p *relayProc) stop() {
	if p == nil {
		return
	}
	p.detach()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pid == 0 {
		return
	}
	unix.PidfdSendSignal(p.pidfd, unix.SIGTERM, nil, 0)
	if !p.waitExit(p.pidfd, relayStopWait) {
		p.log.Warn("ssh relay did not stop on SIGTERM; killing it", "relay", p.pid)
		unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
		p.waitExit(p.pidfd, relayStopWait)
	}
	pid := p.pid
	p.reapLocked()
	p.log.Info("ssh relay stopped", "relay", pid)
}

// hostKeyPath is the relay's host key file: asked, or in the private
// directory.
func hostKeyPath(asked string) (string, error) {
	if asked != "" {
		return filepath.Abs(asked)
	}
	dir, err := privateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "ssh_host_ed25519_key"), nil
}
