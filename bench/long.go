package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LongResult is one session evaluating x + 1 many times, one after
// another, under one isolation mode: whether a session that has lived
// long costs more memory or time than a young one. yaegi grows an
// interpreter's global frame with every evaluation; a worker rebuilds a
// session's interpreter from its snapshot every 1,000 evaluations
// (worker.Config.Recycle), and the in-process server never does.
type LongResult struct {
	Isolate  string        `json:"isolate"`
	Evals    int           `json:"evals"` // done
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
	Windows  []LongWindow  `json:"windows"`
	// MemoryRatio and TimeRatio are the last window's PSS and median over
	// the first's.
	MemoryRatio float64 `json:"memory_ratio"`
	TimeRatio   float64 `json:"time_ratio"`
}

// LongWindow is the evaluations since the previous window.
type LongWindow struct {
	Through  int   `json:"through"` // evaluations done at its end
	RTT      Stats `json:"rtt"`     // each x + 1, sent to prompt
	PSS      int64 `json:"pss"`     // front and workers, at its end
	FrontPSS int64 `json:"front_pss"`
	Procs    int   `json:"procs"`
}

// longWindows are where the windows of n evaluations end: after the
// first 1,000, then at every multiple of 10,000, then at n.
func longWindows(n int) []int {
	var ends []int
	for e := 1000; e < n; e = (e/10000 + 1) * 10000 {
		ends = append(ends, e)
	}
	return append(ends, n)
}

// long has one session evaluate x + 1 n times under mode.
func (r *runner) long(ctx context.Context, n int, mode string) (lr LongResult) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	lr = LongResult{Isolate: mode}
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-long-%s.log", mode)))
	if err != nil {
		lr.Error = err.Error()
		return lr
	}
	defer logFile.Close()
	srv, clients, err := r.sessions(ctx, 1, mode, "l", logFile)
	defer func() {
		for _, c := range clients {
			c.close()
		}
		if srv != nil {
			if err := srv.Stop(time.Minute); err != nil && lr.Error == "" {
				lr.Error = "stopping the server: " + err.Error()
			}
		}
	}()
	if err != nil {
		lr.Error = err.Error()
		return lr
	}
	c := clients[0]
	r.logf("long life, isolate=%s: x + 1, %d times", mode, n)
	start := time.Now()
	d := make([]time.Duration, 0, 10000)
	for _, end := range longWindows(n) {
		d = d[:0]
		for lr.Evals < end {
			if ctx.Err() != nil {
				lr.Error = ctx.Err().Error()
				return lr
			}
			t := time.Now()
			out, err := c.eval("x + 1", time.Now().Add(time.Minute))
			if err != nil || out != "42" {
				lr.Error = fmt.Sprintf("evaluation %d: x + 1 answered %q, %v", lr.Evals+1, out, err)
				return lr
			}
			d = append(d, time.Since(t))
			lr.Evals++
		}
		w := LongWindow{Through: end, RTT: Summarize(d)}
		if mem, err := serverMemory(srv.Pid()); err == nil {
			w.PSS, w.FrontPSS, w.Procs = mem.PSS, mem.FrontPSS, mem.Procs
		}
		lr.Windows = append(lr.Windows, w)
		lr.Duration = time.Since(start)
		r.logf("long life, isolate=%s: %d evaluations: x + 1 p50 %v p99 %v; %d processes, PSS %s", mode, end, w.RTT.P50, w.RTT.P99, w.Procs, mib(w.PSS))
	}
	first, last := lr.Windows[0], lr.Windows[len(lr.Windows)-1]
	if first.PSS > 0 {
		lr.MemoryRatio = float64(last.PSS) / float64(first.PSS)
	}
	if first.RTT.P50 > 0 {
		lr.TimeRatio = float64(last.RTT.P50) / float64(first.RTT.P50)
	}
	return lr
}
