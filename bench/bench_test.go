package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects progress from whichever goroutine writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestRun builds the server twice from this repository and runs the whole
// benchmark at 1 and 20 sessions against the real processes.
func TestRun(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not installed: cannot build the server")
	}
	out := t.TempDir()
	var progress lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Sessions: []int{1, 20}, Out: out, Source: "..", Progress: &progress, Timeout: 5 * time.Minute})
	defer func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
			for _, n := range []int{1, 20} {
				if b, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("server-%d.log", n))); err == nil {
					t.Logf("server log at %d:\n%s", n, b)
				}
			}
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d measurements, want 2", len(res.Runs))
	}
	for _, r := range res.Runs {
		n := r.Sessions
		check := func(ok bool, format string, args ...any) {
			t.Helper()
			if !ok {
				t.Errorf("N=%d: "+format, append([]any{n}, args...)...)
			}
		}
		check(r.Error == "", "error %q", r.Error)
		check(r.Migration.OK, "migration failed: %s", r.Migration.Error)
		l := r.Lines
		check(l.Sent > 0 && l.Answered == l.Sent && l.Duplicated == 0 && l.Lost == 0 && l.Unexpected == 0, "lines %+v", l)
		check(l.ByOld > 0 && l.ByNew > 0 && l.ByOld+l.ByNew == l.Sent, "answered by old %d, new %d of %d", l.ByOld, l.ByNew, l.Sent)
		check(r.ConnectionsLost == 0, "%d connections lost: %v", r.ConnectionsLost, r.LostErrors)
		check(r.Migration.Pause.N == n && r.Migration.Pause.Max > 0, "pause %+v", r.Migration.Pause)
		check(r.Migration.HasFirstNew && r.Migration.FirstNewAnswer > 0, "no answer from the new process")
		rep := r.Migration.Report
		check(rep.Sessions == n && len(rep.Phases) == 6 && rep.Unchanged <= rep.Prebuilt, "report %+v", rep)
		check(r.RTTNoLoad.N == rttSamples && r.RTTNoLoad.P50 > 0, "x + 1 no load %+v", r.RTTNoLoad)
		check(n == 1 || r.RTTLoaded.N == rttSamples, "x + 1 loaded %+v", r.RTTLoaded)
		check(r.RSSBase > 0 && r.RSSNamespace > r.RSSBase && r.RSSAfter > 0, "RSS %d %d %d", r.RSSBase, r.RSSNamespace, r.RSSAfter)
		for _, c := range []Comparison{r.Restart, r.ListenerOnly} {
			check(c.Error == "" && c.Back == n && c.StateLost == n && c.Outage.N == n && c.Total > 0, "comparison %+v", c)
		}
		// Every process of the run is gone (a zombie waiting for an init
		// that does not reap is gone enough).
		for _, pid := range []int{r.Migration.Report.OldPid, r.Migration.Report.NewPid} {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				check(strings.Contains(string(b), "State:\tZ"), "process %d still running", pid)
			}
		}
	}

	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| N = 1 | N = 20 |", "**pause p50 / p99 / max**", "p99 pause, 1 session", "## Targets"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	var back Results
	if b, err := os.ReadFile(filepath.Join(out, "results.json")); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(b, &back); err != nil || len(back.Runs) != 2 || back.Runs[1].Lines != res.Runs[1].Lines {
		t.Errorf("results.json does not hold the results: %v", err)
	}
	if svg, err := os.ReadFile(filepath.Join(out, "pause.svg")); err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("pause.svg: %v, %.40q", err, svg)
	}
}
