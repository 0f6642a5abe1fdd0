// Package bench measures translucent's live migration against real
// processes and real connections: `translucent bench`.
//
// For each session count N, and at each count under each isolation mode
// in turn (Options.Isolate: the servers' --isolate, none, session or
// pool), it starts a server (the first build), logs in N raw TCP clients
// in telnet line mode on loopback, declares a namespace in each (imports,
// a struct type, a map, variables), reads the server's memory from /proc,
// times `x + 1`, and then migrates to the second build while every
// session types a line every interval without waiting for the answers.
// Each typed line, [2]int{base + k, sys.Pid}, has an answer that names its
// session (base), its number (k) and the serving process, which is how
// the bench knows that every line was answered exactly once and when the
// new process answered first. It is sys.Pid, not os.Getpid(): with
// workers, os.Getpid() is a worker's pid, which changes when a worker is
// restarted as well as across a migration. The same run then restarts the
// server (stop, start, reconnect) and emulates a listener-only handoff,
// for comparison.
//
// Memory is the whole server's: the serving process (the front) and its
// direct children, its workers, as PSS (proportional set size, from
// /proc/PID/smaps_rollup), so that pages every worker shares (the
// binary's) count once.
//
// After the session counts, under each mode, it measures the crash
// recovery (Options.Crash): one session types lines that end the process
// evaluating them (runtime.Breakpoint()) one after another, while the
// others type; it times the culprit's rollback and the others' lines, and
// checks that none of them was disconnected or lost a variable. Then,
// when Options.Long is set, the long life: one session evaluates x + 1
// that many times, and the front's and workers' memory and the median
// time are read window by window.
//
// When Options.Soak is set, the soak: SoakSessions sessions under the
// first mode type for that long while the bench runs SoakMigrations
// migrations, alternating between the two builds, and SoakKills SIGKILLs
// of a random worker of the serving process, each spread evenly; it then
// counts connections and lines lost, duplicated and rolled back, notices,
// migrations committed and failed, checks every session's base, and
// gives the pause over all the migrations.
//
// What is always true:
//
//   - Every server process the bench starts, and every successor a
//     migration makes, is tracked by a pidfd from the moment its pid is
//     known and is stopped before Run moves on (SIGTERM, then SIGKILL
//     after a minute); the bench signals no process it did not start.
//     Workers are the servers' to start and end: the bench reads their
//     memory, and only the soak signals them (SIGKILL, to a child of the
//     serving process whose second argument is "worker").
//   - Every goroutine has an owner that waits for it: a client's reader
//     ends at stopReader or when its connection fails, a typer when the
//     typing halts, forEach's workers when their work is fed.
//   - A step that fails is recorded in its result (Error, Notes,
//     Migration.Error) and the next one still runs: the results say how
//     far each got, never less than what was measured. A session count
//     that would not fit in memory under a mode, by what a smaller count
//     took under that mode, is recorded as not run.
//   - Results are written after every session count, mode, crash
//     recovery and long life (results.json, results.md, pause.svg), so a
//     crash at 10,000 keeps the earlier ones.
package bench
