package main

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// httpAddr is the address of s's --http listener, from its log.
func httpAddr(t *testing.T, s *server) string {
	t.Helper()
	m := regexp.MustCompile(`msg="http listening" .*addr=(\S+)`).FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("no http address in the log:\n%s", s.log())
	}
	return m[1]
}

// scrape fetches /metrics from addr and parses it as Prometheus does.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	// A connection of its own each time: a kept-alive one may be the old
	// process's.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitFor}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// scrapePid scrapes addr until process pid answers: just after a
// migration, the old process may still accept a connection or two, until
// it has closed its copy of the listening socket.
func scrapePid(t *testing.T, addr string, pid int) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		m := scrape(t, addr)
		for _, l := range m["translucent_build_info"].GetMetric()[0].GetLabel() {
			if l.GetName() == "pid" && l.GetValue() == strconv.Itoa(pid) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d does not answer /metrics", pid)
		}
	}
}

// value is the value of the metric name with the labels given as
// name=value pairs: a counter's or gauge's value, a histogram's count.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.Metric {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.Label {
				found = found || lp.GetName() == k && lp.GetValue() == v
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	s := startServer(t, "--http", "127.0.0.1:0")
	addr := httpAddr(t, s)

	before := scrape(t, addr)
	if got := value(t, before, "translucent_logins_total"); got != 0 {
		t.Errorf("logins before any: %v", got)
	}
	if got := value(t, before, "translucent_build_info", "pid="+strconv.Itoa(s.pid())); got != 1 {
		t.Errorf("build_info: %v", got)
	}
	for _, l := range before["translucent_build_info"].Metric[0].Label {
		if l.GetName() == "version" && !strings.HasPrefix(l.GetValue(), testVersion+" (go") {
			t.Errorf("build_info version %q", l.GetValue())
		}
	}

	bad := dial(t, s, false)
	bad.login(testUser, "wrong")
	bad.expect(t, "Login incorrect")
	c := loggedIn(t, s)
	c.eval("x := 41")
	c.eval("x+1")
	c.eval("undefinedName")
	c.eval("ch := make(chan int)") // not carried by a migration

	m := scrape(t, addr)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"translucent_logins_total", nil, 1},
		{"translucent_login_failures_total", nil, 1},
		{"translucent_evaluations_total", []string{"outcome=ok"}, 3},
		{"translucent_evaluations_total", []string{"outcome=error"}, 1},
		{"translucent_evaluation_duration_seconds", nil, 4},
		{"translucent_sessions", []string{"state=idle"}, 1},
		{"translucent_sessions", []string{"state=logging_in"}, 1},
		{"translucent_migrations_total", []string{"outcome=committed"}, 0},
	} {
		if got := value(t, m, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	// The new process counts the migration that made it; its other
	// counters start again at 0, as after any restart.
	m = scrapePid(t, addr, pid)
	if got := value(t, m, "translucent_process_start_time_seconds"); got < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("process_start_time_seconds = %v", got)
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"translucent_migrations_total", []string{"outcome=committed"}, 1},
		{"translucent_migrations_total", []string{"outcome=rolled_back"}, 0},
		{"translucent_migration_pause_seconds", nil, 1},
		{"translucent_migration_values_not_carried_total", nil, 1},
		{"translucent_logins_total", nil, 0},
		{"translucent_sessions", []string{"state=idle"}, 1},
	} {
		if got := value(t, m, tt.name, tt.labels...); got != tt.want {
			t.Errorf("after the migration, %s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	for _, phase := range []string{"start", "quiesce", "transfer", "restore", "commit"} {
		if got := value(t, m, "translucent_migration_phase_duration_seconds", "phase="+phase); got != 1 {
			t.Errorf("phase %s observed %v times, want 1", phase, got)
		}
	}
	if sum := m["translucent_migration_pause_seconds"].Metric[0].Histogram.GetSampleSum(); sum <= 0 {
		t.Errorf("pause sum %v", sum)
	}
	// The session is told what was not carried, below a fresh prompt.
	c.expect(t, "not carried by the migration")
	c.expect(t, ">>> ")
	if got := c.eval("x+2"); got != "43" {
		t.Fatalf("x+2 after the migration: %q", got)
	}
	m = scrapePid(t, addr, pid)
	if got := value(t, m, "translucent_evaluations_total", "outcome=ok"); got != 1 {
		t.Errorf("evaluations in the new process: %v", got)
	}

	// A migration that rolls back is counted by the old process, which
	// goes on.
	t.Run("rollback", func(t *testing.T) {
		s := startServerEnv(t, []string{"TRANSLUCENT_TEST_FAIL=refuse"}, "--http", "127.0.0.1:0")
		addr := httpAddr(t, s)
		loggedIn(t, s)
		if out, err := migrateTo(t, s, binaryV2); err == nil {
			t.Fatalf("migrate succeeded:\n%s", out)
		}
		m := scrape(t, addr)
		if got := value(t, m, "translucent_build_info", "pid="+strconv.Itoa(s.pid())); got != 1 {
			t.Errorf("build_info: %v", got)
		}
		if got := value(t, m, "translucent_migrations_total", "outcome=rolled_back"); got != 1 {
			t.Errorf("rolled back migrations: %v", got)
		}
		if got := value(t, m, "translucent_migration_pause_seconds"); got != 1 {
			t.Errorf("pauses observed: %v", got)
		}
	})
}
