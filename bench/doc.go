// Package bench measures translucent's live migration against real
// processes and real connections: `translucent bench`.
//
// For each session count N it starts a server (the first build), logs in
// N raw TCP clients in telnet line mode on loopback, declares a namespace
// in each (imports, a struct type, a map, variables), reads the server's
// RSS from /proc, times `x + 1`, and then migrates to the second build
// while every session types a line every interval without waiting for the
// answers. Each typed line, [2]int{base + k, os.Getpid()}, has an answer
// that names its session (base), its number (k) and the process that
// evaluated it, which is how the bench knows that every line was answered
// exactly once and when the new process answered first. The same run then
// restarts the server (stop, start, reconnect) and emulates a
// listener-only handoff, for comparison.
//
// What is always true:
//
//   - Every process the bench starts, and every successor a migration
//     makes, is tracked by a pidfd from the moment its pid is known and is
//     stopped before Run moves on (SIGTERM, then SIGKILL after a minute);
//     the bench signals no process it did not start.
//   - Every goroutine has an owner that waits for it: a client's reader
//     ends at stopReader or when its connection fails, a typer when the
//     typing stops, forEach's workers when their work is fed.
//   - A step that fails is recorded in the Measurement (Error, Notes,
//     Migration.Error) and the next session count still runs: the results
//     say how far each count got, never less than what was measured.
//   - Results are written after every session count (results.json,
//     results.md, pause.svg), so a crash at 10,000 keeps the earlier ones.
package bench
