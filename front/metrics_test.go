package front

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"translucent/migrate"
	"translucent/repl"
)

func TestMetricsObserver(t *testing.T) {
	m := newMetrics("v1", func() int64 { return 2 })
	m.sessions = func() []repl.SessionInfo {
		return []repl.SessionInfo{{State: "idle"}, {State: "logging in"}, {State: "watching"}, {State: "idle"}}
	}
	m.Login(true)
	m.Login(false)
	m.Login(false)
	for _, o := range []string{"ok", "ok", "error", "rolled_back"} {
		m.Evaluated(o, time.Millisecond)
	}
	for _, tt := range []struct {
		name string
		got  float64
		want float64
	}{
		{"logins", testutil.ToFloat64(m.logins), 1},
		{"login failures", testutil.ToFloat64(m.loginFailures), 2},
		{"ok", testutil.ToFloat64(m.evals.WithLabelValues("ok")), 2},
		{"rolled back", testutil.ToFloat64(m.evals.WithLabelValues("rolled_back")), 1},
		{"rollbacks", testutil.ToFloat64(m.rollbacks), 1},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.evalSeconds); n != 1 {
		t.Errorf("evaluation histogram: %d series", n)
	}

	// The handler serves the text format, sessions by state included.
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`translucent_sessions{state="idle"} 2`,
		`translucent_sessions{state="logging_in"} 1`,
		`translucent_sessions{state="watching"} 1`,
		`translucent_sessions{state="evaluating"} 0`,
		`translucent_worker_crashes_total 2`,
		`translucent_build_info{pid=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestMetricsArrived(t *testing.T) {
	m := newMetrics("v2", nil)
	paused := time.Now().Add(-30 * time.Millisecond)
	sent := paused.Add(10 * time.Millisecond)
	received := sent.Add(5 * time.Millisecond)
	ready, committed := received.Add(5*time.Millisecond), received.Add(10*time.Millisecond)
	old := meta{Phases: []migrate.Phase{{Name: "start", Duration: time.Millisecond}, {Name: "quiesce", Duration: 10 * time.Millisecond}},
		PausedAt: paused.UnixNano(), SentAt: sent.UnixNano(), NotCarried: 3}
	m.arrived(old, received, ready, committed)
	if got := testutil.ToFloat64(m.migrations.WithLabelValues("committed")); got != 1 {
		t.Errorf("committed = %v", got)
	}
	if got := testutil.ToFloat64(m.notCarried); got != 3 {
		t.Errorf("not carried = %v", got)
	}
	// One observation per phase: the old process's two and the new one's
	// transfer, restore and commit.
	if n := testutil.CollectAndCount(m.phaseSeconds); n != 5 {
		t.Errorf("%d phases observed, want 5", n)
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`translucent_migration_pause_seconds_sum 0.025`,
		`translucent_migration_phase_duration_seconds_sum{phase="transfer"} 0.005`,
		`translucent_migration_phase_duration_seconds_sum{phase="commit"} 0.005`,
		`translucent_migration_pause_seconds_count 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// From an older build that sent no times: the phases it sent and this
	// process's own, no pause.
	m = newMetrics("v2", nil)
	m.arrived(meta{}, received, ready, committed)
	if n := testutil.CollectAndCount(m.pauseSeconds); n != 1 {
		t.Errorf("pause series: %d", n)
	}
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "translucent_migration_pause_seconds_count 0") {
		t.Errorf("a pause observed without its start")
	}
}
