package front

import (
	"log/slog"
	"time"

	"translucent/repl"
)

// Config is a serving process's configuration: serve's flags, as fields.
// Zero values mean the defaults named.
type Config struct {
	// Listen is the telnet address; HTTP, when set, the status page's;
	// Web, when set, the browser terminal's (package web). Each moves with
	// the process to its successors.
	Listen, HTTP, Web string
	// Control is the control socket's path (migrate, status, snapshot).
	Control string
	// SSH, when set, is the SSH address: a relay process (package
	// sshrelay) terminates SSH there and relays each session to this
	// process; SSHHostKey is its host key file ("": in the private
	// directory), made on first start.
	SSH, SSHHostKey string
	// Users is the htpasswd file of users; "" creates an admin with a
	// random password in the private directory, shared by every server of
	// this user started without one.
	Users string
	// Restore makes a staging server: the sessions of this snapshot file
	// are offered to :attach.
	Restore string
	// Precopy is set by a migrating process for its successor: a snapshot
	// file of namespaces to restore before the handoff's pause.
	Precopy string
	// Pidfile, when set, holds the serving process's pid, rewritten by
	// each successor.
	Pidfile string
	// Announce shows each session a one-line notice after a migration.
	Announce bool

	// Grace is how long a running line may finish before a migration
	// interrupts it (default 2s); MigrateTimeout bounds a migration asked
	// for by SIGHUP or :migrate (0: 30s plus 10ms per session); Strict
	// aborts one when a value cannot be carried.
	Grace, MigrateTimeout time.Duration
	Strict                bool

	// Isolate is where sessions' code runs: "pool" (default, PoolSize
	// sessions per worker process), "session" (a worker each) or "none"
	// (this process). SessionMemory (bytes, per session a worker holds)
	// and EvalTimeout are the workers' limits; 0 is none.
	Isolate       string
	PoolSize      int
	SessionMemory int64
	EvalTimeout   time.Duration

	// REPL is the sessions' configuration. Users, Namespaces, Restored,
	// Version and Logger are set by Run.
	REPL repl.Config

	// Version is this build's, as sys.Version and status show it.
	Version string
	// Args are serve's arguments as given: a successor is started with
	// them again (less Precopy, with the users file this process settled on).
	Args []string
	// Logger receives the process's log; it is given the pid.
	Logger *slog.Logger
	// Hooks inject failures, for tests that drive real processes.
	Hooks Hooks
}

// Hooks are called at points of a handoff where the end-to-end tests make
// a process fail as a real one might. A nil hook does nothing; production
// runs have none.
type Hooks struct {
	// BeforeReceive runs in a successor before it receives the handoff;
	// BeforeReady after it adopted every session, before READY.
	BeforeReceive, BeforeReady func()
	// Adopted may refuse what a successor adopted: the migration then
	// rolls back, as for any failed restore.
	Adopted func() error
	// BeforeCommit runs in the old process between READY and COMMIT.
	BeforeCommit func()
	// OnUpdate runs in a successor as it takes an update of the
	// namespaces it built ahead, before the pause (applyUpdates).
	OnUpdate func()
}

func call(f func()) {
	if f != nil {
		f()
	}
}
