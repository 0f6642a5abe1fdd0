// Package serverproc drives a translucent server from outside, as a chain
// of processes: Start runs `translucent serve`, and every successor a
// migration starts, which takes the listening port and the connections
// over, writes to the same log and counts as the same server. The
// end-to-end tests, `translucent demo` and `translucent bench` drive real
// servers through it.
//
// What is always true:
//   - The chain has one log, the standard output and error of the process
//     Start started, which every successor inherits: a pipe the Chain
//     reads (the default), or a file (Config.LogFile). Every line is kept,
//     in the order written; Lines and Wait give them as Lines, parsed where
//     they are log/slog's text format.
//   - A process is one of the chain's when Start started it, when it logged
//     `msg=listening` in the chain's log, or when the caller said so with
//     Follow. The Chain holds a pidfd for each, so a signal it sends never
//     reaches a process that took a dead one's number.
//   - Nothing waits without a deadline: Wait and WaitListening end with
//     their context, WaitExit and Stop after the time they are given.
//     Wait fails with ErrEnded, rather than waiting on, once no process of
//     the chain can write another line.
//   - Stop leaves no process of the chain running, and returns an error if
//     one had to be killed. The first process is the caller's child and is
//     always reaped; a successor is not, and is reaped by whoever adopted
//     it.
//
// The package knows only the command line (`serve` and its flags are the
// caller's) and one line of the log, the one that says a process listens:
//
//	time=... level=INFO msg=listening pid=4242 addr=127.0.0.1:2323 ...
package serverproc
