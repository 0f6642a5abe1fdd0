// Package demo is the talk's walk-through ("Translucent Inter-Process
// Service Migration", PyCon 2004), driven end to end against real
// processes: `translucent demo` runs it, and its test is the project's
// end-to-end test of a migration as an operator and a user see it.
//
// Run builds two versions of the server from source (or takes two
// prebuilt ones), starts the old one on free loopback ports, logs a
// scripted telnet client in, fills its namespace, migrates with the real
// `translucent migrate` command while an HTTP request loop runs against the
// same process, and checks what the talk promised: the same connection and
// namespace, a new pid, a new version, and no failed request.
//
// What is always true:
//   - Every process Run starts is in one process group of its own (the old
//     server's; its successor inherits it), so that Ctrl-C in the terminal
//     reaches only the demo, and the demo ends the servers itself. Run ends
//     that group before it returns, unless Options.Keep asks to leave the
//     migrated server running and the walk-through got to its end.
//   - Everything printed about the servers is their real output: pids,
//     versions, the migrate command's report and their log lines (time
//     stamps left out). Run never makes a number up.
//   - Run returns nil only if every check held.
package demo
