package serverproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrEnded is Wait's error once no process of the chain can write to its
// log any more.
var ErrEnded = errors.New("serverproc: the log ended: no process of the chain is left to write to it")

// Config says how Start starts a chain. Only Binary is required: the zero
// value of every other field starts `Binary serve` with no arguments, in
// this process's environment and process group, its log read through a
// pipe.
type Config struct {
	// Binary is the translucent executable.
	Binary string
	// Args follow "serve" on its command line.
	Args []string
	// Env is added to this process's environment.
	Env []string
	// LogFile, if set, is a file the chain's standard output and error are
	// appended to, instead of a pipe this process reads; the Chain reads
	// the file as it grows. A chain left running after this process ends
	// needs one: a server writing to a pipe nobody reads dies of SIGPIPE.
	LogFile string
	// Log, if set, receives a copy of every line read from the pipe, as it
	// is read. It is not used with LogFile.
	Log io.Writer
	// ProcessGroup starts the first process in a process group of its own,
	// which its successors inherit: Ctrl-C at a terminal then reaches
	// only this process, and Stop signals the whole group.
	ProcessGroup bool
}

// Chain is a translucent server started by Start: its first process and
// every successor, one log for all. Its methods may be called from any
// goroutine, but Stop and Release, which close the pidfds, not while
// WaitExit or another Stop runs.
type Chain struct {
	cfg     Config
	first   int
	exited  chan struct{} // closed once the first process is reaped
	exitErr error         // the first process's cmd.Wait; written before exited is closed
	logEnd  chan struct{} // closed when the pipe has no writer left; nil with LogFile

	mu      sync.Mutex
	lines   []string      // the log so far, append-only, parsed when asked for; guarded by mu
	grew    chan struct{} // closed, and replaced, at every new line and at the pipe's end; guarded by mu
	ended   bool          // the pipe has no writer left; guarded by mu
	file    *os.File      // LogFile, opened to read as it grows; guarded by mu
	partial []byte        // from file, a line not ended yet; guarded by mu
	procs   map[int]int   // pid → pidfd of each process of the chain; nil once released; guarded by mu
	serving int           // guarded by mu
}

// Start starts `cfg.Binary serve cfg.Args...`, and fails only if it
// cannot. It does not wait for the server to listen: WaitListening does.
// The caller must call Stop, or Release to leave the chain running.
func Start(cfg Config) (*Chain, error) {
	cmd := exec.Command(cfg.Binary, append([]string{"serve"}, cfg.Args...)...)
	if len(cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), cfg.Env...)
	}
	if cfg.ProcessGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	c := &Chain{cfg: cfg, exited: make(chan struct{}), grew: make(chan struct{}), procs: make(map[int]int)}
	// A real file, not an io.Writer, either way: successors inherit it,
	// and the first process's Wait must not wait for them.
	var w, pr *os.File
	var err error
	if cfg.LogFile != "" {
		if w, err = os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, fmt.Errorf("serverproc: opening the log: %w", err)
		}
		if c.file, err = os.Open(cfg.LogFile); err == nil {
			// The file may hold an earlier chain's lines.
			_, err = c.file.Seek(0, io.SeekEnd)
		}
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("serverproc: opening the log to read it: %w", err)
		}
	} else {
		if pr, w, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("serverproc: a pipe for the log: %w", err)
		}
		c.logEnd = make(chan struct{})
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close() // the child has its own copy; the pipe ends when the chain's last copy closes
	if err != nil {
		if pr != nil {
			pr.Close()
		}
		if c.file != nil {
			c.file.Close()
		}
		return nil, fmt.Errorf("serverproc: starting %s: %w", cfg.Binary, err)
	}
	c.first, c.serving = cmd.Process.Pid, cmd.Process.Pid
	// Before the reaper starts: until then the pid cannot be another's.
	c.mu.Lock()
	c.trackLocked(c.first)
	c.mu.Unlock()
	go func() { // ends when the first process exits
		c.exitErr = cmd.Wait()
		close(c.exited)
	}()
	if pr != nil {
		go c.read(pr) // ends when every process holding the pipe has closed it
	}
	return c, nil
}

// read records the pipe's lines until no process holds it any more.
func (c *Chain) read(pr *os.File) {
	defer close(c.logEnd)
	defer pr.Close()
	br := bufio.NewReader(pr) // no Scanner: a line of any length is one line
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			text = strings.TrimSuffix(text, "\n")
			if c.cfg.Log != nil {
				fmt.Fprintln(c.cfg.Log, text)
			}
			c.mu.Lock()
			c.addLocked(text)
			c.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	c.mu.Lock()
	c.ended = true
	close(c.grew)
	c.grew = make(chan struct{})
	c.mu.Unlock()
}

// addLocked records a line, and a process that says it listens as one of
// the chain's. Only that line is parsed here: a bench's server logs
// hundreds of thousands, which nobody may ask for.
func (c *Chain) addLocked(text string) {
	c.lines = append(c.lines, text)
	if strings.Contains(text, "msg=listening ") {
		if ln, ok := listening(parse(text)); ok {
			c.trackLocked(ln.Pid)
		}
	}
	close(c.grew)
	c.grew = make(chan struct{})
}

// syncLocked records the lines a LogFile gained since the last call.
func (c *Chain) syncLocked() {
	if c.file == nil {
		return
	}
	b, _ := io.ReadAll(c.file) // from where the last call stopped
	if len(b) == 0 {
		return
	}
	b = append(c.partial, b...)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		c.addLocked(string(b[:i]))
		b = b[i+1:]
	}
	c.partial = slices.Clone(b)
}

// trackLocked makes pid one of the chain's, and reports whether it is:
// false if it is gone already or the chain was released.
func (c *Chain) trackLocked(pid int) bool {
	if c.procs == nil {
		return false
	}
	if _, ok := c.procs[pid]; ok {
		return true
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	c.procs[pid] = fd
	return true
}

// First is the process Start started, the caller's child.
func (c *Chain) First() int { return c.first }

// Exited is closed once the first process has exited and been reaped.
func (c *Chain) Exited() <-chan struct{} { return c.exited }

// ExitErr waits until Exited is closed and returns the first process's
// exit as exec.Cmd.Wait reports it: nil for status 0.
func (c *Chain) ExitErr() error {
	<-c.exited
	return c.exitErr
}

// Pid is the process that serves, as far as the chain was told: First,
// until Follow names a successor.
func (c *Chain) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serving
}

// Follow records that pid serves now, a successor a migration reported,
// and makes it one of the chain's if it is not yet.
func (c *Chain) Follow(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trackLocked(pid)
	c.serving = pid
}

// texts returns the log's lines so far, unparsed.
func (c *Chain) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	return c.lines[:len(c.lines):len(c.lines)] // append-only: the caller may keep it
}

// Lines returns the log so far.
func (c *Chain) Lines() []Line {
	texts := c.texts()
	lines := make([]Line, len(texts))
	for i, t := range texts {
		lines[i] = parse(t)
	}
	return lines
}

// Log returns the log so far as text, each line ended by a newline.
func (c *Chain) Log() string {
	var b strings.Builder
	for _, t := range c.texts() {
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return b.String()
}

// Tail returns the log's last n lines, for an error message.
func (c *Chain) Tail(n int) string {
	texts := c.texts()
	return strings.Join(texts[max(0, len(texts)-n):], "\n")
}

// Wait calls cond on each line of the log, from the first, in order, as
// they come, and returns the first line it holds for. cond may count. Wait
// fails when ctx ends, and with ErrEnded once the log can have no more
// lines.
func (c *Chain) Wait(ctx context.Context, cond func(Line) bool) (Line, error) {
	start := time.Now()
	var tick <-chan time.Time
	if c.cfg.LogFile != "" {
		// Nothing tells of a file's growth but reading it.
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for next := 0; ; {
		c.mu.Lock()
		// Decided before reading: a line written just before the end is
		// read below.
		ended := c.endedLocked()
		c.syncLocked()
		lines, grew := c.lines[next:], c.grew
		c.mu.Unlock()
		for _, t := range lines {
			next++
			if l := parse(t); cond(l) {
				return l, nil
			}
		}
		if ended {
			return Line{}, ErrEnded
		}
		select {
		case <-grew:
		case <-tick:
		case <-ctx.Done():
			return Line{}, fmt.Errorf("serverproc: still waiting after %v: %w", time.Since(start).Round(time.Millisecond), ctx.Err())
		}
	}
}

// endedLocked reports whether the log can have no more lines: the pipe
// has no writer left, or (with LogFile) the process group is empty.
// Without a process group nothing says that no successor still writes to
// a LogFile: one the chain has not heard of yet may.
func (c *Chain) endedLocked() bool {
	switch {
	case c.logEnd != nil:
		return c.ended
	case c.cfg.ProcessGroup:
		return !c.groupAlive()
	}
	return false
}

// groupAlive reports whether the chain's process group has a process left
// that is not a zombie. A successor is not our child: once its parent is
// gone, whoever adopted it reaps it, perhaps late.
func (c *Chain) groupAlive() bool {
	pgid := c.first // Setpgid made the first process the group's leader
	if unix.Kill(-pgid, 0) != nil {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pgrp, err := stat(pid); err == nil && pgrp == pgid && state != 'Z' {
			return true
		}
	}
	return false
}

// WaitListening waits for process pid (any process of the chain, if 0) to
// log that it listens, and returns what it said.
func (c *Chain) WaitListening(ctx context.Context, pid int) (Listening, error) {
	l, err := c.Wait(ctx, func(l Line) bool {
		ln, ok := listening(l)
		return ok && (pid == 0 || ln.Pid == pid)
	})
	if err != nil {
		who := "a process"
		if pid != 0 {
			who = "process " + strconv.Itoa(pid)
		}
		return Listening{}, fmt.Errorf("waiting for %s to log that it listens: %w", who, err)
	}
	ln, _ := listening(l)
	return ln, nil
}

// WaitExit waits until process pid has exited, reaped or not, and fails
// after timeout. A process already gone has exited.
func (c *Chain) WaitExit(pid int, timeout time.Duration) error {
	c.mu.Lock()
	fd, ok := c.procs[pid]
	c.mu.Unlock()
	if !ok {
		var err error
		if fd, err = unix.PidfdOpen(pid, 0); err != nil {
			return nil // gone
		}
		defer unix.Close(fd)
	}
	if err := waitFd(fd, timeout); err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	return nil
}

// Stop ends the chain: SIGTERM to each of its processes that is alive (to
// the process group, with Config.ProcessGroup, which must then be empty),
// SIGKILL to any still alive after timeout. It reaps the first process,
// waits up to timeout more for the log to end, and releases the chain. Its
// error says what had to be killed, or survived even that. Stop after
// Stop or Release does nothing.
func (c *Chain) Stop(timeout time.Duration) error {
	c.mu.Lock()
	released := c.procs == nil
	c.syncLocked() // a successor's listening line in a LogFile
	c.mu.Unlock()
	if released {
		return nil
	}
	var err error
	c.signal(unix.SIGTERM)
	if term := c.waitGone(timeout); term != "" {
		c.signal(unix.SIGKILL)
		if left := c.waitGone(timeout); left != "" {
			err = fmt.Errorf("serverproc: %s did not end on SIGTERM nor SIGKILL", left)
		} else {
			err = fmt.Errorf("serverproc: %s did not end within %v of SIGTERM; killed", term, timeout)
		}
	}
	select {
	case <-c.exited:
	case <-time.After(timeout): // it survived SIGKILL: said above
	}
	if c.logEnd != nil {
		select {
		case <-c.logEnd:
		case <-time.After(timeout): // a process the chain never heard of holds the pipe
		}
	}
	c.Release()
	return err
}

// signal sends sig to every process of the chain, or to its process
// group.
func (c *Chain) signal(sig syscall.Signal) {
	if c.cfg.ProcessGroup {
		unix.Kill(-c.first, sig)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fd := range c.procs {
		unix.PidfdSendSignal(fd, sig, nil, 0) // one gone already has nothing to stop
	}
}

// waitGone waits up to timeout for every process of the chain to exit,
// and for its process group to be empty, and says what is still alive
// ("" if nothing).
func (c *Chain) waitGone(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	// Not under mu, which the pipe's reader needs: a process that cannot
	// write its last lines cannot exit.
	c.mu.Lock()
	procs := maps.Clone(c.procs)
	c.mu.Unlock()
	var left []int
	for pid, fd := range procs {
		if waitFd(fd, time.Until(deadline)) != nil {
			left = append(left, pid)
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		return fmt.Sprintf("processes %v", left)
	}
	if !c.cfg.ProcessGroup {
		return ""
	}
	// A successor the chain has not heard of, which nothing can wait for.
	for c.groupAlive() {
		if time.Now().After(deadline) {
			return fmt.Sprintf("process group %d", c.first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

// Release forgets the chain's processes without stopping them, and closes
// what the Chain holds of them: for a chain left running. A LogFile is
// read one last time; the pipe, if any, is read on until its end. It must not run concurrently with Stop
// or WaitExit, which use the descriptors it closes.
func (c *Chain) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fd := range c.procs {
		unix.Close(fd)
	}
	c.procs = nil
	c.syncLocked() // the last lines, written by now when Stop releases
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// waitFd waits until the process of pidfd fd has exited, or fails after
// timeout; with a timeout of 0 it only looks.
func waitFd(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ms := max(0, int(time.Until(deadline).Milliseconds()))
		// A pidfd polls readable once its process has exited.
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for an exit: %w", err)
		}
		if n > 0 {
			return nil
		}
		if ms == 0 {
			return fmt.Errorf("still running after %v", timeout)
		}
	}
}

// Alive reports whether process pid exists and is not a zombie. It is for
// a process that is not the caller's child, which the caller cannot wait
// for: once its parent is gone, whoever adopted it reaps it, perhaps late.
func Alive(pid int) bool {
	if unix.Kill(pid, 0) != nil {
		return false
	}
	state, _, err := stat(pid)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return state != 'Z'
}

// stat reads a process's state and process group from /proc/PID/stat.
func stat(pid int) (state byte, pgrp int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: not as expected: %q", pid, b)
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0][0], pgrp, err
}
