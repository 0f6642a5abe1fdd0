package serverproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests start this test binary as a stand-in for `translucent serve`:
// with fakeEnv set, TestMain plays the role it names instead of running
// the tests. It logs as the server does, on standard error.
const fakeEnv = "SERVERPROC_FAKE"

const waitFor = 20 * time.Second // a deadline for what should happen at once

func TestMain(m *testing.M) {
	if role := os.Getenv(fakeEnv); role != "" {
		os.Exit(fake(role))
	}
	os.Exit(m.Run())
}

func logf(msg string, args ...any) {
	fmt.Fprintf(os.Stderr, "time=2026-12-06T00:00:00Z level=INFO msg=%s pid=%d%s\n", msg, os.Getpid(), fmt.Sprint(args...))
}

// fake plays a server: "serve" listens until SIGTERM; "fail" exits before
// listening; "migrate" listens, starts a successor that serves and
// inherits its standard error, and exits; "stubborn" listens and ignores
// SIGTERM.
func fake(role string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if role == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	}
	if role == "fail" {
		logf(`"flag provided but not defined"`)
		return 2
	}
	logf("listening", " addr=127.0.0.1:", 20000+os.Getpid()%10000, ` connect="telnet 127.0.0.1"`)
	switch role {
	case "migrate":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), fakeEnv+"=serve")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // files: the child has them, not a goroutine of ours
		if err := cmd.Start(); err != nil {
			logf(`"migration failed"`, " err=", strconv.Quote(err.Error()))
			return 1
		}
		logf(`"migration committed"`, " new_pid=", cmd.Process.Pid)
		return 0
	case "stubborn":
		time.Sleep(time.Hour) // until SIGKILL
		return 1
	}
	select {
	case <-term:
	case <-time.After(time.Minute): // a failed test's successor, which no Stop knew of
		return 1
	}
	logf("stopping")
	return 0
}

func start(t *testing.T, role string, cfg Config) *Chain {
	t.Helper()
	cfg.Binary = os.Args[0]
	// A race-enabled child sleeps a second at exit by default.
	cfg.Env = append(cfg.Env, fakeEnv+"="+role, "GORACE=atexit_sleep_ms=0")
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(waitFor) })
	return c
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// TestStop: a server that listens, stopped; its log holds what it said
// on the way out, and no line comes after.
func TestStop(t *testing.T) {
	var copied bytes.Buffer
	c := start(t, "serve", Config{Log: &copied})
	l, err := c.WaitListening(ctx(t), c.First())
	if err != nil {
		t.Fatal(err)
	}
	if l.Pid != c.First() || c.Pid() != c.First() || !strings.HasPrefix(l.Addr, "127.0.0.1:") || l.Line.Get("connect") != "telnet 127.0.0.1" {
		t.Errorf("listening: %+v; first %d, serving %d", l, c.First(), c.Pid())
	}
	if err := c.Stop(waitFor); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Exited():
	default:
		t.Fatal("Stop returned before the first process was reaped")
	}
	if err := c.ExitErr(); err != nil {
		t.Errorf("exit: %v", err)
	}
	log := c.Log()
	if !strings.Contains(log, "msg=listening") || !strings.HasSuffix(log, "msg=stopping pid="+strconv.Itoa(c.First())+"\n") {
		t.Errorf("log:\n%s", log)
	}
	// Stop waited for the pipe's end, after the last copy was written.
	if copied.String() != log {
		t.Errorf("Config.Log got\n%s\nwant\n%s", copied.String(), log)
	}
	if _, err := c.Wait(ctx(t), func(Line) bool { return false }); !errors.Is(err, ErrEnded) {
		t.Errorf("Wait after Stop: %v, want ErrEnded", err)
	}
	if err := c.Stop(waitFor); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

// TestExitBeforeListening: waiting for a server that failed to start ends
// with ErrEnded, at once, with a pipe, and with a log file when the
// chain's process group says nothing is left to write to it.
func TestExitBeforeListening(t *testing.T) {
	for _, file := range []bool{false, true} {
		t.Run(fmt.Sprint("file=", file), func(t *testing.T) {
			var cfg Config
			if file {
				cfg.LogFile = filepath.Join(t.TempDir(), "log")
				cfg.ProcessGroup = true
			}
			c := start(t, "fail", cfg)
			_, err := c.WaitListening(ctx(t), 0)
			if !errors.Is(err, ErrEnded) || !strings.Contains(err.Error(), "waiting for a process to log that it listens") {
				t.Errorf("WaitListening: %v, want ErrEnded", err)
			}
			var exit *exec.ExitError
			if err := c.ExitErr(); !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("exit: %v, want status 2", err)
			}
			if tail := c.Tail(1); !strings.Contains(tail, `msg="flag provided but not defined"`) {
				t.Errorf("tail: %q", tail)
			}
		})
	}
}

// TestMigration: a successor that inherited the log is one of the chain's;
// Follow makes it the serving one; Stop ends it, though it is not our
// child. With a pipe, a log file, and a log file and a process group.
func TestMigration(t *testing.T) {
	for _, tt := range []struct {
		name         string
		file, pgroup bool
	}{
		{"pipe", false, false},
		{"file", true, false},
		{"file and group", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config
			if tt.file {
				cfg.LogFile = filepath.Join(t.TempDir(), "log")
				// An earlier run's line, which is not this chain's.
				os.WriteFile(cfg.LogFile, []byte("time=x level=INFO msg=listening pid=1 addr=127.0.0.1:1\n"), 0o600)
			}
			cfg.ProcessGroup = tt.pgroup
			c := start(t, "migrate", cfg)
			committed, err := c.Wait(ctx(t), func(l Line) bool { return l.Get("msg") == "migration committed" })
			if err != nil {
				t.Fatal(err)
			}
			next, _ := strconv.Atoi(committed.Get("new_pid"))
			l, err := c.WaitListening(ctx(t), next)
			if err != nil {
				t.Fatal(err)
			}
			if l.Pid != next || c.Lines()[0].Get("pid") != strconv.Itoa(c.First()) {
				t.Errorf("listening %+v, want pid %d; log:\n%s", l, next, c.Log())
			}
			c.Follow(next)
			if c.Pid() != next {
				t.Errorf("serving %d after Follow(%d)", c.Pid(), next)
			}
			<-c.Exited()
			if !Alive(next) {
				t.Fatalf("the successor %d is not running", next)
			}
			if err := c.WaitExit(next, 10*time.Millisecond); err == nil {
				t.Errorf("WaitExit: the successor %d has exited", next)
			}
			if err := c.Stop(waitFor); err != nil {
				t.Fatal(err)
			}
			if err := c.WaitExit(next, waitFor); err != nil {
				t.Errorf("after Stop: %v", err)
			}
			if !strings.Contains(c.Log(), "msg=stopping pid="+strconv.Itoa(next)) {
				t.Errorf("the successor was not stopped by SIGTERM:\n%s", c.Log())
			}
		})
	}
}

// TestStopKills: a server that ignores SIGTERM is killed, and Stop says
// so.
func TestStopKills(t *testing.T) {
	c := start(t, "stubborn", Config{})
	if _, err := c.WaitListening(ctx(t), c.First()); err != nil {
		t.Fatal(err)
	}
	err := c.Stop(100 * time.Millisecond)
	if want := fmt.Sprintf("processes [%d] did not end within 100ms of SIGTERM; killed", c.First()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Stop: %v, want %q", err, want)
	}
	var exit *exec.ExitError
	if err := c.ExitErr(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("exit: %v, want SIGKILL", err)
	}
}

// TestWaitDeadline: Wait gives up with its context, and may count.
func TestWaitDeadline(t *testing.T) {
	c := start(t, "serve", Config{})
	if _, err := c.WaitListening(ctx(t), c.First()); err != nil {
		t.Fatal(err)
	}
	seen := 0
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Wait(short, func(Line) bool { seen++; return seen == 2 })
	if !errors.Is(err, context.DeadlineExceeded) || seen != 1 {
		t.Errorf("Wait for a second line: %v after %d lines, want a deadline after 1", err, seen)
	}
}

func TestStartFails(t *testing.T) {
	_, err := Start(Config{Binary: filepath.Join(t.TempDir(), "nothing")})
	if err == nil || !strings.Contains(err.Error(), "serverproc: starting ") {
		t.Errorf("Start of no binary: %v", err)
	}
}
