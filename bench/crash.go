package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// CrashResult is the crash recovery measured under one isolation mode:
// one session (the culprit) types, one after another, lines that end the
// process evaluating them, while every other session (its neighbours)
// types a line every interval.
type CrashResult struct {
	Isolate  string        `json:"isolate"`
	Sessions int           `json:"sessions"`
	Crashes  int           `json:"crashes"`     // crashing lines typed
	Interval time.Duration `json:"interval_ns"` // each neighbour's typing
	Error    string        `json:"error,omitempty"`
	Notes    []string      `json:"notes,omitempty"`

	// Recovery is, per crashing line the culprit was answered, the time
	// from sending it to the culprit's next prompt.
	Recovery    Stats  `json:"recovery"`
	RolledBack  int    `json:"rolled_back"`  // crashing lines answered with rollbackPrefix
	Answer      string `json:"answer"`       // the culprit's first answer, or what ended it
	ServerEnded bool   `json:"server_ended"` // the serving process itself died
	ProcsBefore int    `json:"procs_before"` // the front and its workers before the crashes
	ProcsAfter  int    `json:"procs_after"`

	// The neighbours' typed lines, by when they were sent: in the second
	// before the first crashing line (Before), and from it to the
	// culprit's last answer (During).
	Before Stats      `json:"neighbours_before"`
	During Stats      `json:"neighbours_during"`
	Lines  LineCounts `json:"neighbour_lines"`
	// Hit is the neighbours that had a line rolled back or were told
	// between prompts that their worker ended (Notices in all).
	Hit     int `json:"neighbours_hit"`
	Notices int `json:"notices"`
	// Disconnected is the neighbours whose connection failed; StateLost
	// the sessions, culprit included, whose variable base (set before the
	// crashes) was not there afterwards.
	Disconnected int `json:"disconnected"`
	StateLost    int `json:"state_lost"`
}

// crashLine ends the process that evaluates it (SIGTRAP): in a worker,
// that worker; with --isolate none, the server.
const crashLine = "runtime.Breakpoint()"

// crash measures the crash recovery at n sessions under mode. Like
// measure, it records a failed step in the result and stops there.
func (r *runner) crash(ctx context.Context, n int, mode string) (cr CrashResult) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	n = max(n, 2)
	cr = CrashResult{Isolate: mode, Sessions: n, Interval: r.interval(n)}
	lbl := "crash recovery, " + label(n, mode)
	fail := func(format string, args ...any) CrashResult {
		cr.Error = fmt.Sprintf(format, args...)
		return cr
	}
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-crash-%d-%s.log", n, mode)))
	if err != nil {
		return fail("%v", err)
	}
	defer logFile.Close()
	srv, clients, err := r.sessions(ctx, n, mode, "k", logFile)
	defer func() {
		for _, c := range clients {
			c.stopReader()
			c.close()
		}
		if srv == nil {
			return
		}
		if err := srv.Stop(time.Minute); err != nil && !cr.ServerEnded {
			cr.Notes = append(cr.Notes, "stopping the server: "+err.Error())
		}
	}()
	if err != nil {
		return fail("%v", err)
	}
	culprit, neighbours := clients[0], clients[1:]
	if out, err := culprit.eval(`import "runtime"`, time.Now().Add(time.Minute)); err != nil || out != "" {
		return fail("import \"runtime\": %q, %v", out, err)
	}
	if mem, err := serverMemory(srv.Pid()); err == nil {
		cr.ProcsBefore = mem.Procs
	}

	ty := newTyping(cr.Interval)
	defer ty.halt()
	for _, c := range neighbours {
		ty.start(c)
	}
	pace(ctx, time.Second)
	r.logf("%s: %d neighbours typing every %v; the culprit types %s %d times", lbl, len(neighbours), cr.Interval, crashLine, r.opts.Crashes)

	from := time.Now()
	var recovery []time.Duration
	for i := range r.opts.Crashes {
		t := time.Now()
		out, err := culprit.eval(crashLine, time.Now().Add(2*time.Minute))
		d := time.Since(t)
		cr.Crashes++
		if err != nil {
			// With no worker, the line takes the server down: there is
			// nothing left to recover, for anyone.
			cr.ServerEnded = srv.WaitExit(srv.Pid(), 5*time.Second) == nil
			if i == 0 {
				cr.Answer = fmt.Sprintf("the connection ended (%v)", err)
			}
			if !cr.ServerEnded {
				cr.Notes = append(cr.Notes, fmt.Sprintf("crash %d: the culprit's connection failed: %v", i+1, err))
			}
			break
		}
		if i == 0 {
			cr.Answer = firstLine(out)
		}
		if strings.HasPrefix(out, rollbackPrefix) {
			cr.RolledBack++
			recovery = append(recovery, d)
		} else if len(cr.Notes) < 5 {
			cr.Notes = append(cr.Notes, fmt.Sprintf("crash %d answered %q", i+1, firstLine(out)))
		}
	}
	until := time.Now()
	cr.Recovery = Summarize(recovery)
	// The neighbours go on a little: a line typed just before the last
	// crash's answer may still wait for a restore.
	pace(ctx, 500*time.Millisecond)
	ty.halt()
	for _, c := range neighbours {
		c.waitAnswered(time.Now().Add(time.Minute))
		c.stopReader()
	}
	if mem, err := serverMemory(srv.Pid()); err == nil && !cr.ServerEnded {
		cr.ProcsAfter = mem.Procs
	}

	var before, during []time.Duration
	for _, c := range neighbours {
		t := c.tally(srv.Pid(), -1)
		cr.Lines.Sent += t.sent
		cr.Lines.Answered += t.answered
		cr.Lines.Duplicated += t.duplicated
		cr.Lines.Lost += t.lost
		cr.Lines.RolledBack += t.rolledBack
		cr.Lines.Unexpected += t.unexpected
		cr.Lines.ByOld += t.byOld
		cr.Notices += t.notices
		if t.rolledBack > 0 || t.notices > 0 {
			cr.Hit++
		}
		if c.failure() != nil {
			cr.Disconnected++
		}
		if t.unexpected > 0 && len(cr.Notes) < 5 {
			cr.Notes = append(cr.Notes, fmt.Sprintf("session %d: unexpected answers %q", c.idx, c.unexpected))
		}
		for _, l := range c.lines() {
			switch {
			case l.sent.Before(from.Add(-time.Second)):
			case l.sent.Before(from):
				before = append(before, l.latency)
			case !l.sent.After(until):
				during = append(during, l.latency)
			}
		}
	}
	cr.Before, cr.During = Summarize(before), Summarize(during)

	// Every session, the culprit too, still has what it declared before.
	var lost atomic.Int64
	forEach(ctx, n, r.opts.Parallel, func(i int) error {
		c := clients[i]
		if i > 0 && c.failure() != nil {
			lost.Add(1)
			return nil
		}
		out, err := c.eval("base", time.Now().Add(time.Minute))
		if err != nil || out != strconv.Itoa(c.base) {
			lost.Add(1)
		}
		return nil
	})
	cr.StateLost = int(lost.Load())
	r.logf("%s: recovery p50 %v p99 %v over %d; neighbours p50 %v p99 %v before, %v / %v during; %d of %d hit, %d disconnected; state lost in %d; server ended %v",
		lbl, cr.Recovery.P50, cr.Recovery.P99, cr.Recovery.N, cr.Before.P50, cr.Before.P99, cr.During.P50, cr.During.P99, cr.Hit, len(neighbours), cr.Disconnected, cr.StateLost, cr.ServerEnded)
	return cr
}

// sessions starts a server under mode, logs in n sessions and declares
// each one's namespace: what the crash and long-life runs start from.
// It returns the server and clients it started, even with an error, for
// the caller to stop and close.
func (r *runner) sessions(ctx context.Context, n int, mode, prefix string, logFile *os.File) (*server, []*client, error) {
	srv, err := startServer(ctx, r.bin1, r.control(prefix, n, mode), logFile, r.serveArgs("127.0.0.1:0", n, mode)...)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the server: %w", err)
	}
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(i)
	}
	failed, err := forEach(ctx, n, r.opts.Parallel, func(i int) error {
		c := clients[i]
		if _, err := c.login(ctx, srv.addr, benchUser, benchPassword, time.Now().Add(5*time.Minute)); err != nil {
			return err
		}
		for _, line := range r.namespaceLines(c) {
			out, err := c.eval(line, time.Now().Add(5*time.Minute))
			if err != nil {
				return err
			}
			if out != "" {
				return fmt.Errorf("%s: %s", line, out)
			}
		}
		return nil
	})
	if failed > 0 || err != nil {
		err = errors.Join(fmt.Errorf("%d of %d sessions did not start", failed, n), err)
	}
	return srv, clients, err
}
