// Package worker evaluates sessions' code in worker processes that the
// serving process (the front) starts and supervises, so that a line which
// ends its process (a fatal error such as concurrent map writes, a stack
// overflow, a signal, running out of memory, a limit) ends only that
// process: the front restores the session in a fresh worker as it was
// before the line, and tells its user why.
//
// The front holds a Pool; each session holds a *Namespace from it, which
// has the methods of a *namespace.Namespace that a session uses. A worker
// is this same binary, run as "translucent worker", that calls Serve.
//
// # What always holds
//
//   - The front runs no interpreted code. A worker holds one session
//     (Config.PerWorker 1, the default) or a few; it ends when the front
//     closes its socket, and the front ends it when it holds no session.
//     Workers are started by the pool's own goroutines, at most spawners at
//     once; once a worker has died, one spare is kept started ahead for the
//     next rollback (this binary takes about a tenth of a second to start,
//     most of it yaegi's symbol tables).
//   - After every evaluation, and before it starts the next one, a worker
//     sends a checkpoint: the namespace's snapshot (when it changed). So
//     when a worker ends, whatever the cause, the front holds each of its
//     sessions' state from before the line that was running, and restores
//     it in another worker (rehome). The evaluation under way ends with a
//     *RolledBack error (namespace.ErrRolledBack); a session with no line
//     running is told between prompts. Nothing is re-run: statements run
//     once, and values that snapshots cannot carry (channels, funcs) are
//     named, as in a migration.
//   - An interrupt always wins. Eval interrupts a line whose context ends
//     (Ctrl-C, a client gone, a migration, Config.EvalTimeout); a line that
//     has not stopped within Config.StopGrace (time.Sleep, a deadlock) has
//     its worker ended, and is rolled back. A session never waits for the
//     death of a worker the front ended: the worker dies in the idle class
//     (Yield), which on a busy machine can take any time.
//   - One session never waits on another: each Namespace's output is
//     written to its client by its own goroutine (pump), within a window
//     of outputWindow bytes per session that the worker may send ahead of
//     what the client took. A client that does not read stops the code
//     that prints, nothing else.
//   - A worker past its memory (Config.Memory per session it holds, read
//     from /proc every 250 ms), one that does not read its socket, one that
//     does not answer a question within callTimeout, and one that breaks
//     the wire (the session's own code can write to its descriptor) is
//     ended like one that crashed.
//
// # Wire
//
// Front and worker speak over a SOCK_STREAM socket pair (the worker's end
// is descriptor 3, named by EnvFD): payloads up to a 64 MiB snapshot, no
// descriptors, and a byte stream needs no reassembly. Every frame is
//
//	kind u8 | session u64 | length u32 | payload
//
// with integers big-endian, and a payload that is CBOR (decoded with
// fixed limits) but for output, which is raw bytes. The worker speaks
// first: a hello with WireVersion and its pid; the front refuses any other
// version (a binary without the worker command never says hello, and is
// refused with its own words). Each kind has a size limit (frameLimit),
// checked before any of the payload is read, and a payload grows only as
// its bytes arrive.
//
//	front → worker                       worker → front
//	O open(version, state)        ──▶    ◀── o opened(err)
//	E eval(src)                   ──▶    ◀── p output(bytes)…  d done(line, outcome)
//	                                     ◀── s saved(line, state | err)
//	I interrupt                   ──▶
//	C call(id, op, args)          ──▶    ◀── r reply(id, …)
//	A ack(n): output written      ──▶
//	X close                       ──▶
package worker
