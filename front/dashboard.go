package front

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"translucent/dashboard"
	"translucent/migrate"
	"translucent/namespace"
	"translucent/repl"
)

// dashSource is the dashboard's view of this process (dashboard.Source).
type dashSource struct {
	m    *migrator
	pred *dashboard.Process // the process this one took over from
}

func (d dashSource) Status() dashboard.Status {
	return dashboard.Status{Pid: os.Getpid(), Version: d.m.cfg.Version, Predecessor: d.pred, Sessions: dashSessions(d.m.srv.list())}
}

func dashSessions(list []repl.SessionInfo) []dashboard.Session {
	out := make([]dashboard.Session, len(list))
	for i, s := range list {
		out[i] = dashboard.Session{ID: s.ID, User: s.User, Addr: s.Addr, Since: s.Since, State: s.State, Worker: s.Worker, Memory: s.Memory}
	}
	return out
}

// Graph snapshots the one session live, as the snapshot command does.
func (d dashSource) Graph(id uint64) (namespace.Graph, error) {
	f, err := d.m.srv.snapshot([]uint64{id})
	if err != nil {
		return namespace.Graph{}, err
	}
	if len(f.Sessions) == 0 {
		if len(f.Skipped) > 0 {
			return namespace.Graph{}, fmt.Errorf("no graph now: %s", f.Skipped[0])
		}
		return namespace.Graph{}, fmt.Errorf("no session %d", id)
	}
	ns := f.Sessions[0].Namespace
	if ns == nil { // nothing evaluated yet
		return namespace.Graph{Nodes: []namespace.GraphNode{}, Edges: []namespace.GraphEdge{}}, nil
	}
	return ns.Graph()
}

func (d dashSource) Migrate(ctx context.Context, req dashboard.Request, out io.Writer) error {
	r := d.m.defaults()
	r.drop = req.Drop
	if req.DryRun {
		return d.m.dryRun(ctx, r, out)
	}
	_, err := d.m.run(ctx, r, out)
	return err
}

func (d dashSource) CheckPassword(ctx context.Context, addr, name, password string) bool {
	ok, _ := d.m.srv.checkPassword(ctx, addr, "dashboard", name, password)
	return ok
}

func (d dashSource) IsAdmin(name string) bool { return d.m.srv.cfg.IsAdmin(name) }

// migrationEvents tells the dashboard about one migration as it goes.
// Each method publishes without waiting (dashboard.Hub).
type migrationEvents struct {
	hub   *dashboard.Hub
	start time.Time
}

func (m *migrator) startEvents(binary string, drop []string) *migrationEvents {
	e := &migrationEvents{hub: m.events, start: time.Now()}
	if drop == nil {
		drop = []string{}
	}
	e.hub.Publish("migration", dashboard.Started{
		Old:    dashboard.Process{Pid: os.Getpid(), Version: m.cfg.Version},
		Binary: binary, Drop: drop, Sessions: dashSessions(m.srv.list()),
	})
	return e
}

func (e *migrationEvents) phase(p migrate.Phase) {
	e.hub.Publish("phase", dashboard.PhaseEnded{Name: p.Name, Duration: p.Duration, At: time.Since(e.start)})
}

// paused is every session at rest, as Pause exported them.
func (e *migrationEvents) paused(sessions []repl.Exported) {
	if !e.hub.Listening() {
		return // it is the pause: make nothing nobody will see
	}
	e.hub.Publish("paused", dashboard.Paused{Sessions: e.pauses(sessions, time.Time{})})
}

func (e *migrationEvents) pauses(sessions []repl.Exported, end time.Time) []dashboard.Pause {
	out := make([]dashboard.Pause, len(sessions))
	for i, s := range sessions {
		out[i] = dashboard.Pause{ID: s.ID, Still: s.Still.Sub(e.start)}
		if !end.IsZero() {
			out[i].Duration = end.Sub(s.Still)
		}
	}
	return out
}

// outcome is the migration's end: committed to a new process, or err.
// The sessions' pause ended at end: committed or resumed, as Handoff
// timed it.
func (e *migrationEvents) outcome(sessions []repl.Exported, end time.Time, rep migrate.Report, newVersion string, err error) {
	o := dashboard.Outcome{OK: err == nil, Pause: rep.Pause, NotCarried: rep.Lost, Sessions: e.pauses(sessions, end), At: time.Since(e.start)}
	if err != nil {
		o.Error = err.Error()
	} else {
		o.New = dashboard.Process{Pid: rep.NewPid, Version: newVersion}
	}
	e.hub.Publish("outcome", o)
}
