// Package front is the serving process: the one that holds the listeners
// and every client's connection, and runs no session's code.
//
// It owns, in one place, what a serving process does besides a session's
// conversation (package repl):
//
//   - the registry of sessions (registry.go): the accept loop, each
//     session (package repl) run on its own goroutine, the caps on
//     sessions and on connections logging in, the password gate
//     (gate.go); it is every session's repl.Host, and does a handoff's
//     work on all the sessions at once: pause and export, adopt
//     (handoff.go), one at a time (moves.go), the namespaces built ahead
//     and vouched for (prebuild.go), live snapshots (snapshot.go);
//   - its listeners, by name (listeners.go): telnet, the control socket
//     and the optional HTTP status page, taken afresh by a server's first
//     process and inherited by each successor;
//   - the SSH way in (ssh.go, relayproc.go): the SSH port and the Unix
//     socket of the relay process (package sshrelay), which move like the
//     other listeners, the relay's questions (passwords, keys) and
//     sessions on that socket, and the relay process itself, started once,
//     supervised by whichever process holds the listeners, stopped with
//     the server;
//   - where sessions' code runs (isolate.go): worker processes of this
//     binary, supervised by package worker, or this process itself;
//   - the control socket's commands (migration.go: migrate, status,
//     snapshot, and the incremental protocol's adopt, commit, abort);
//   - every kind of handoff to a newer build: whole (migration.go),
//     incremental and one session at a time (incremental.go), dry runs
//     (staging.go), with the namespaces restored ahead (precopy); the
//     successor's side is takeover.go, the protocol itself package migrate;
//   - the status page (statuspage.go), with the admins' dashboard (package
//     dashboard) below /dashboard/: dashboard.go is what it sees of this
//     process, and the events a migration publishes to it as it goes;
//   - the users file it generates when given none (users.go), the pidfile
//     and systemd's notification (notify.go), the collector held in the
//     pause (gc.go).
//
// Run's life: take the listeners (or receive them and every session from
// the predecessor), serve, and end in one of three ways: ctx ends (the
// sessions are told and closed); a successor commits (everything is left
// as it is, the successor owns it now); or an incremental migration gives
// the listener away and this process serves its remaining sessions until
// the last one leaves.
//
// Failures that tests inject into real processes come through Hooks, never
// from the environment: package main maps TRANSLUCENT_TEST_FAIL to them.
package front
