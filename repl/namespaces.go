package repl

import (
	"context"

	"translucent/namespace"
)

// Namespace is a session's namespace: a *namespace.Namespace in this
// process, or one that runs in a worker process (package worker), which
// adds namespace.ErrRolledBack to Eval's errors.
type Namespace interface {
	Eval(ctx context.Context, src string) (namespace.Result, error)
	Vars() []namespace.Var
	Imports() []string
	Snapshot(drop ...string) (namespace.Snapshot, []string, error)
	Revision() (rev uint64, settled bool)
	Drop(name string) error
	Undrop(name string) bool
	Dropped() []string
	Close()
}

// Namespaces opens the sessions' namespaces wherever they are evaluated.
type Namespaces interface {
	New(opts namespace.Options) (Namespace, error)
	Restore(opts namespace.Options, s namespace.Snapshot) (Namespace, error)
}

// inProcess evaluates every namespace in this process: what a Server
// without Config.Namespaces does (tests, and serve --isolate none).
type inProcess struct{}

func (inProcess) New(opts namespace.Options) (Namespace, error) { return namespace.New(opts), nil }

func (inProcess) Restore(opts namespace.Options, s namespace.Snapshot) (Namespace, error) {
	return namespace.Restore(opts, s)
}

// worker is implemented by a namespace that runs in another process.
type worker interface {
	Worker() (pid int, rss int64)
}
