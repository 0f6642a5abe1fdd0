// Package namespace evaluates Go for one REPL session: a Namespace is one
// yaegi interpreter, created by its first Eval, fed chunks of source one at
// a time.
//
// What is always true:
//
//   - At most one goroutine uses a namespace's interpreter at a time: the
//     holder of its token. Eval hands the token to a goroutine of the
//     namespace that compiles and runs the chunk and puts the token back
//     when it ends, which can be after Eval returned ErrInterrupted (code
//     blocked in a native call such as time.Sleep cannot be stopped; until
//     it returns, Eval says ErrBusy). Namespaces share nothing but read-only
//     symbol tables, and may be used in parallel.
//   - A chunk whose first token is import, type, func, const or var is
//     file-level declarations; anything else is statements run at top
//     level. Only a chunk that is one expression has a value, printed in Go
//     syntax with the names the session declared (Celsius(21.5),
//     []Shape{Rect{W:1, H:1}}), as Vars names types; a value with a String
//     method prints its text; an error of any type prints as errors.New of
//     its message, which is what inspect shows and what a migration
//     restores when it cannot carry the error's type; strings, like
//     slices, print their first 200 bytes and their length. Fit wraps
//     such a value to a window. Source that more input could complete is
//     ErrIncomplete, the test yaegi's own REPL makes.
//   - Evaluated code never takes the host down with a panic: a panic in a
//     chunk is the chunk's error, and every go statement is rewritten before
//     compilation so that its goroutine recovers and reports
//     "panic in goroutine: ..." on Options.Stderr (yaegi re-raises such
//     panics on a bare goroutine). So do callbacks given to time.AfterFunc
//     and context.AfterFunc. Not covered: goroutines that other native code
//     starts for an interpreted function, and infinite recursion, which
//     overflows the Go stack (a fatal error, not a panic).
//   - Cancelling Eval's context stops all interpreted code of the
//     namespace, its goroutines included, at their next step or channel
//     operation; Close does the same for good and drops their later output.
//   - Evaluated code sees only the packages it imports, loaded into the
//     interpreter on import (the whole standard library costs an
//     interpreter 1.4 MiB and milliseconds), plus "sys" (sys.Version). It
//     cannot import source from the host. Restricted, the default, is
//     yaegi's default symbol set: os.Exit and log.Fatal panic, os/exec,
//     syscall and unsafe are missing, the environment is a private empty
//     one. It is not a sandbox: files and the network are reachable.
//   - fmt.Print*, os.Stdout, os.Stderr and log write to Options.Stdout and
//     Options.Stderr, one write at a time; os.Stdin is empty.
//   - Journal holds the source of every import, type, func and const
//     declaration that compiled, in order; replaying it in a new namespace
//     declares the same. Variables are not in it: Vars lists them, and their
//     values are in the interpreter.
//   - Snapshot turns a namespace into plain data for another process, and
//     Restore turns that back into an equal namespace: the journal,
//     replayed (init functions left out, no statement re-run); each
//     variable, declared with the type yaegi has for it (A, not another
//     struct type of the same fields; Celsius, not float64) where it was
//     declared among the journal's entries, so that functions using it
//     replay; and the values, a flat graph of nodes in which pointers to one
//     place stay one place (aliasing and cycles survive), as do copies of a
//     slice or map, and interfaces keep their dynamic type. Snapshot names
//     every value it does not carry (channels, funcs, sync values, open
//     files, package types with unexported state and no encoding of their
//     own, interpreted values behind a native interface such as
//     fmt.Stringer), which Restore leaves at its zero value; an error whose
//     type cannot be carried becomes errors.New of its message. Restore
//     trusts nothing in a Snapshot: it refuses what is not declarations or
//     types, returns an error rather than panic, and gives up after
//     restoreTimeout or past maxRestoreBytes of values.
//   - Revision tells whether a snapshot taken earlier still holds, without
//     taking another: it changes with every evaluation, and the namespace
//     is settled only while none of its code can run (no evaluation, no
//     goroutine it started, no pending context.AfterFunc callback, never
//     a time.AfterFunc timer or a finalizer). Go statements are counted by
//     the same rewriting that guards them.
//
// Known yaegi behaviour a user can meet: goroutines that read or write
// global variables race with later evaluations, which grow the global frame
// (the race detector reports it); f(g()) with a multi-valued g fails inside
// functions; var declarations referring to variables made with := fail
// ("variable definition loop"); types declared in code print with their
// name only when no other declared struct type has the same fields, and
// yaegi lets values of such types, or of a named type and its underlying
// type, be assigned to each other; inside an interface{} it cannot tell
// them apart at all. A value of an interpreted type stored in an
// interface converts to a native interface (x.(fmt.Stringer)) by
// evaluating again the expression that stored it.
// fmt.Printf("%T", v) prints yaegi's wrapper type (stdlib._fmt_Stringer)
// for a value of a declared type with a String or Error method, and the
// underlying type (float64) for one without: yaegi hands native fmt a
// reflect value that carries no declared name, and fmt's %T asks reflect.
// Printing the expression itself, or :vars, names the type.
package namespace
