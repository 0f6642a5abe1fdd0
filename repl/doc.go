// Package repl is one session of a translucent server: a telnet
// connection logs in and then reads, evaluates and prints Go in a namespace
// of its own. Its record (SessionState) is what a migration carries, and
// the session's side of a handoff is here (Pause, Export, Receive,
// Prebuild, Vouch); the registry that runs sessions and hands them all
// over is package front's, which a session knows only as a Host.
//
// What always holds:
//   - Every connection is served by one goroutine (Session.Run) that owns
//     its editor and namespace; evaluations in a session are therefore
//     serialised. A second goroutine per connection (input.pump) only reads
//     the socket, so that Ctrl-C reaches a running evaluation and typed-ahead
//     input waits, in order, in input.buf.
//   - Nothing a session does reaches another: output of evaluated code goes
//     to its own client, a panic is recovered in its own goroutine, and
//     closing its connection ends both of its goroutines and its running
//     line. Where its code runs is Config.Namespaces': in a worker process
//     (package worker, wired by main), a line that ends its process comes
//     back as namespace.ErrRolledBack, which the session tells its user and
//     logs; in this process (the default, and serve --isolate none), such a
//     line ends the server.
//   - A client that answers our WILL ECHO gets server-side line editing
//     (golang.org/x/term); one that never negotiates (nc) gets plain line
//     mode and edits locally.
//   - Session.Run ends when its client leaves, logs out or its context
//     ends, with both of its goroutines. What runs sessions, and moves them
//     to another process, is their Host (package front's registry): a
//     session knows of it only the short Host interface.
//   - Nothing a user keeps on disk is on the evaluation path: the history
//     file (Config.Home/USER/history, 0600 in a 0700 directory) is read at
//     login and written, atomically, at logout; a migration carries the
//     history in the session's record. :save and :load reach only
//     Config.Home/USER/files (os.Root). A transcript (Config.Transcripts,
//     off by default) is the one file written as the session goes.
//   - A session's output reaches its watchers (:watch, watch.go) through a
//     bounded buffer each, never by waiting: a watcher that does not read
//     loses what it missed, and is told so; the watched session goes on.
//     Nothing a watcher types reaches the session it watches.
//   - Tab completion and :type ask the namespace (its worker) a bounded
//     question and run none of the user's code.
package repl
