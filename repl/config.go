package repl

import (
	"fmt"
	"log/slog"
	"time"
)

// Config is a server's settings, as its sessions and its registry read
// them; the zero value of each optional field selects the default given
// beside it.
type Config struct {
	Users        *Users   // required
	Version      string   // this build's version, shown at login and as sys.Version
	Unrestricted bool     // let sessions import os/exec, syscall, unsafe
	Admins       []string // users who may type :migrate

	// Restored is a snapshot whose namespaces users may take with
	// :attach ID: a staging server (serve --restore).
	Restored *SnapshotFile

	MaxSessions     int           // connections at once, logged in or not; default 256
	MaxLogins       int           // connections not yet logged in at once; default 64
	MaxLoginsPerIP  int           // connections not yet logged in at once from one IP address; default 16
	LoginTimeout    time.Duration // to complete a login; default 60s
	LoginDelay      time.Duration // after a wrong password; default 1s
	LoginChecks     int           // password checks (bcrypt) at once; default one per CPU but one, at least 1
	NegotiationWait time.Duration // for the client's first telnet answer; default 1s
	Logger          *slog.Logger  // default slog.Default()

	// Namespaces opens the sessions' namespaces; default: in this
	// process, where a line that crashes the process ends every session.
	Namespaces Namespaces
	// LogLines puts the text of a line that ended its worker in the log
	// (off: the log names the session, user and reason only).
	LogLines bool

	// Home is the directory of the users' own directories (home.go): the
	// history kept across logins, and the files of :save and :load. Empty:
	// history lasts a session, and :save and :load are refused.
	Home string
	// Transports wraps the connections of framed sessions (Framed) that
	// arrive from another process, by kind; a session of a kind not here
	// fails the migration that brings it.
	Transports map[string]Transport

	// Transcripts is the directory where each session's typed lines and
	// printed output are written with their times (transcript.go). Empty:
	// none are.
	Transcripts string

	// Observer is told of logins and evaluations (observer.go); default:
	// nobody.
	Observer Observer
}

// SetDefaults fills in the optional fields left zero with their defaults.
func (c *Config) SetDefaults() {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 256
	}
	if c.MaxLogins <= 0 {
		c.MaxLogins = 64
	}
	if c.MaxLoginsPerIP <= 0 {
		c.MaxLoginsPerIP = 16
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = time.Minute
	}
	if c.LoginDelay <= 0 {
		c.LoginDelay = time.Second
	}
	if c.NegotiationWait <= 0 {
		c.NegotiationWait = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Namespaces == nil {
		c.Namespaces = inProcess{}
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
}

// SessionInfo describes a session for :who and the status command.
type SessionInfo struct {
	ID    uint64
	User  string // empty while logging in
	Addr  string
	Since time.Time
	State string // logging in, idle, evaluating or watching

	// Worker is the process that evaluates the session's code, and
	// Memory its resident memory (shared with the other sessions it
	// holds); 0 before the first line, or when code runs in the server.
	Worker int
	Memory int64

	// Shared: its user allows :watch (:share); Watching: the session it
	// watches, 0 if none (its State is then "watching").
	Shared   bool
	Watching uint64
}

// WorkerString says where the session's code runs, for people.
func (i SessionInfo) WorkerString() string {
	if i.Worker == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%d MiB)", i.Worker, i.Memory>>20)
}
