package dashboard

import (
	"context"
	"io"
	"time"

	"translucent/namespace"
)

// Source is what the dashboard shows and drives: the serving process.
type Source interface {
	// Status is the process and its sessions, now.
	Status() Status
	// Graph is the object graph of session id's namespace, taken live.
	Graph(id uint64) (namespace.Graph, error)
	// Migrate runs a migration, or a dry run, writing its report to out.
	// It fails when one is already under way, or it rolled back.
	Migrate(ctx context.Context, req Request, out io.Writer) error
	// CheckPassword checks a login at a session login's cost (its gate
	// and its delay after a wrong password); IsAdmin says who may use
	// the dashboard.
	CheckPassword(ctx context.Context, addr, name, password string) bool
	IsAdmin(name string) bool
}

// Status is a serving process and its sessions.
type Status struct {
	Pid         int       `json:"pid"`
	Version     string    `json:"version"`
	Predecessor *Process  `json:"predecessor,omitempty"` // the process this one took over from
	Sessions    []Session `json:"sessions"`
	// Terminal is the path of the browser terminal on the address this
	// dashboard is served on ("/" on --web), where a session can be
	// watched; "" where there is none (--http). The Handler sets it.
	Terminal string `json:"terminal,omitempty"`
}

// Process names a serving process.
type Process struct {
	Pid     int    `json:"pid"`
	Version string `json:"version"`
}

// Session is one client's session, as `translucent status` lists it.
type Session struct {
	ID     uint64    `json:"id"`
	User   string    `json:"user"` // empty while logging in
	Addr   string    `json:"addr"`
	Since  time.Time `json:"since"`
	State  string    `json:"state"`  // logging in, idle or evaluating
	Worker int       `json:"worker"` // the pid that evaluates its code; 0 before its first line
	Memory int64     `json:"memory"` // the worker's resident memory, bytes
}

// Request is a migration asked for from the page: the variables to leave
// out of every namespace (--drop), or a dry run.
type Request struct {
	Drop   []string `json:"drop"`
	DryRun bool     `json:"dryRun"`
}

// The events of a migration, in the order a stream receives them:
// "migration" (Started), one "phase" per phase as it ends, "paused" once
// every session is at rest, and "outcome". Times are nanoseconds since
// the migration started.

// Started is a migration that has begun.
type Started struct {
	Old      Process   `json:"old"`
	Binary   string    `json:"binary"`
	Drop     []string  `json:"drop"`
	Sessions []Session `json:"sessions"`
}

// PhaseEnded is a phase of the handoff that has ended (see
// migrate.Report.Phases for their names).
type PhaseEnded struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"ns"`
	At       time.Duration `json:"at"` // its end
}

// Paused is every session at rest in the old process, ready to move.
type Paused struct {
	Sessions []Pause `json:"sessions"`
}

// Pause is one session's pause: from when it came to rest (Still) to
// when it went on, in the new process or, rolled back, in the old one.
type Pause struct {
	ID       uint64        `json:"id"`
	Still    time.Duration `json:"still"`
	Duration time.Duration `json:"ns,omitempty"` // in Outcome
}

// Outcome is how a migration ended: committed to a new process, or
// rolled back with the reason.
type Outcome struct {
	OK         bool          `json:"ok"`
	Error      string        `json:"error,omitempty"`
	New        Process       `json:"new"`
	Sessions   []Pause       `json:"sessions"`
	Pause      time.Duration `json:"pause"` // the longest
	NotCarried []string      `json:"notCarried,omitempty"`
	At         time.Duration `json:"at"`
}
