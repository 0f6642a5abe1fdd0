package front

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"translucent/migrate"
	"translucent/repl"
)

// metrics are a serving process's Prometheus metrics, served at /metrics
// (an http.Handler: the status page mounts it, and so can any other HTTP
// listener of the front). The registry is this process's own, not the
// global default: a successor starts its own, and its counters start at 0,
// which Prometheus treats as any restart (rate and increase see a reset).
// translucent_build_info carries the pid and version, and
// translucent_process_start_time_seconds the start, to tell the processes
// apart.
//
// Each migration is counted once, by the process that lives on: a
// committed one by the new process (which learns the old process's phases
// and when the pause began from the handoff's header), one that rolled
// back by the old process.
type metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	sessions func() []repl.SessionInfo // set once the REPL server exists, before serving

	logins, loginFailures prometheus.Counter
	evals                 *prometheus.CounterVec
	evalSeconds           prometheus.Histogram
	rollbacks             prometheus.Counter
	migrations            *prometheus.CounterVec
	phaseSeconds          *prometheus.HistogramVec
	pauseSeconds          prometheus.Histogram
	notCarried            prometheus.Counter
}

// sessionStates are the states of translucent_sessions, always all
// present.
var sessionStates = []string{"logging_in", "idle", "evaluating", "watching"}

// newMetrics registers this process's metrics; workerEnds, if not nil,
// counts the workers that ended holding sessions.
func newMetrics(version string, workerEnds func() int64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := promauto.With(m.reg)
	m.logins = f.NewCounter(prometheus.CounterOpts{Name: "translucent_logins_total", Help: "Logins: passwords checked and right."})
	m.loginFailures = f.NewCounter(prometheus.CounterOpts{Name: "translucent_login_failures_total", Help: "Passwords checked and wrong."})
	m.evals = f.NewCounterVec(prometheus.CounterOpts{Name: "translucent_evaluations_total",
		Help: "Inputs evaluated, by outcome: ok, error, interrupted, rolled_back."}, []string{"outcome"})
	m.evalSeconds = f.NewHistogram(prometheus.HistogramOpts{Name: "translucent_evaluation_duration_seconds",
		Help:    "Time to evaluate one input, in its worker or in this process.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}) // 100µs to 26s
	m.rollbacks = f.NewCounter(prometheus.CounterOpts{Name: "translucent_rollbacks_total",
		Help: "Lines that ended their worker: their session was restored from before the line."})
	m.migrations = f.NewCounterVec(prometheus.CounterOpts{Name: "translucent_migrations_total",
		Help: "Whole migrations, by outcome: committed (counted by the new process), rolled_back (by the old)."}, []string{"outcome"})
	m.phaseSeconds = f.NewHistogramVec(prometheus.HistogramOpts{Name: "translucent_migration_phase_duration_seconds",
		Help:    "Duration of each phase of a migration: start, recheck, quiesce, transfer, restore, commit.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"phase"}) // 0.5ms to 131s
	m.pauseSeconds = f.NewHistogram(prometheus.HistogramOpts{Name: "translucent_migration_pause_seconds",
		Help:    "The pause sessions saw in a migration: from the old process pausing them to the new one taking over (or the old one resuming).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)})
	m.notCarried = f.NewCounter(prometheus.CounterOpts{Name: "translucent_migration_values_not_carried_total",
		Help: "Values a committed migration could not carry (channels, funcs, goroutines), named to their users."})
	for _, o := range []string{"ok", "error", "interrupted", "rolled_back"} {
		m.evals.WithLabelValues(o)
	}
	for _, o := range []string{"committed", "rolled_back"} {
		m.migrations.WithLabelValues(o)
	}

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "translucent_process_start_time_seconds",
			Help: "When this serving process started (each migration starts a new one), in seconds since the epoch."},
			func() float64 { return float64(processStart.UnixNano()) / 1e9 }),
		sessionCollector{m},
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "translucent_build_info",
		Help:        "This serving process: its pid and build version; always 1.",
		ConstLabels: prometheus.Labels{"pid": strconv.Itoa(os.Getpid()), "version": version}})
	info.Set(1)
	m.reg.MustRegister(info)
	if workerEnds != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "translucent_worker_crashes_total",
			Help: "Worker processes that ended holding sessions (a crash, a limit): each rolled back the sessions it held."},
			func() float64 { return float64(workerEnds()) }))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// processStart is when this process began, as near as Go can tell.
var processStart = time.Now()

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// Login and Evaluated make metrics a repl.Observer.
func (m *metrics) Login(ok bool) {
	if ok {
		m.logins.Inc()
	} else {
		m.loginFailures.Inc()
	}
}

func (m *metrics) Evaluated(outcome string, took time.Duration) {
	m.evals.WithLabelValues(outcome).Inc()
	m.evalSeconds.Observe(took.Seconds())
	if outcome == "rolled_back" {
		m.rollbacks.Inc()
	}
}

// migrated records a whole migration.
func (m *metrics) migrated(outcome string, phases []migrate.Phase, pause time.Duration, notCarried int) {
	m.migrations.WithLabelValues(outcome).Inc()
	for _, p := range phases {
		m.phaseSeconds.WithLabelValues(p.Name).Observe(p.Duration.Seconds())
	}
	if pause >= 0 {
		m.pauseSeconds.Observe(pause.Seconds())
	}
	m.notCarried.Add(float64(notCarried))
}

// arrived records the migration that made this process, committed: the
// old process's phases up to quiesce, and the rest as this process saw
// them (received at received, READY at ready, COMMIT at committed).
func (m *metrics) arrived(old meta, received, ready, committed time.Time) {
	phases := old.Phases
	if old.SentAt != 0 {
		phases = append(phases, migrate.Phase{Name: "transfer", Duration: received.Sub(time.Unix(0, old.SentAt))})
	}
	phases = append(phases, migrate.Phase{Name: "restore", Duration: ready.Sub(received)}, migrate.Phase{Name: "commit", Duration: committed.Sub(ready)})
	pause := time.Duration(-1) // unknown: an older build did not say
	if old.PausedAt != 0 {
		pause = committed.Sub(time.Unix(0, old.PausedAt))
	}
	m.migrated("committed", phases, pause, old.NotCarried)
}

// sessionCollector counts the sessions by state at each scrape.
type sessionCollector struct{ m *metrics }

var sessionsDesc = prometheus.NewDesc("translucent_sessions", "Open sessions, by state: logging_in, idle, evaluating, watching (:watch).", []string{"state"}, nil)

func (c sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	count := map[string]int{}
	if c.m.sessions != nil {
		for _, s := range c.m.sessions() {
			count[strings.ReplaceAll(s.State, " ", "_")]++
		}
	}
	for _, st := range sessionStates {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(count[st]), st)
	}
}
