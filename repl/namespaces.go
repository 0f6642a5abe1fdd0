package repl

import (
	"context"

	"github.com/fxamacker/cbor/v2"

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

// inProcess evaluates every namespace in this process: what a server
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

// checkpointed is implemented by a namespace that keeps its state encoded
// outside the interpreter (a worker's checkpoint, see
// worker.Namespace.Checkpoint): when ok, state is the CBOR of the
// namespace's snapshot as it is now, and sum its SHA-256, known without
// asking the interpreter anything.
type checkpointed interface {
	Checkpoint() (state, sum []byte, lost []string, ok bool)
}

// checkpoint returns ns's checkpoint, if it has one that is ns as it is.
func checkpoint(ns Namespace) (state, sum []byte, lost []string, ok bool) {
	if c, is := ns.(checkpointed); is {
		return c.Checkpoint()
	}
	return nil, nil, nil, false
}

// idleRestorer is implemented by Namespaces that can restore at the
// lowest CPU priority where the code runs (worker processes): Prebuild's
// work is ahead of need.
type idleRestorer interface {
	RestoreIdle(opts namespace.Options, s namespace.Snapshot) (Namespace, error)
}

// restoreIdle restores s through nss, idly if nss can.
func restoreIdle(nss Namespaces, opts namespace.Options, s namespace.Snapshot) (Namespace, error) {
	if r, ok := nss.(idleRestorer); ok {
		return r.RestoreIdle(opts, s)
	}
	return nss.Restore(opts, s)
}

// replacer is implemented by a namespace that can be made another
// snapshot in place (worker.Namespace.Replace): cheaply, for a namespace
// restored ahead whose session changed only values since.
type replacer interface {
	Replace(state []byte) error
}

// replace makes ns the snapshot s, if ns can be; false means ns is of no
// use any more (close it) and s must be restored afresh.
func replace(ns Namespace, s namespace.Snapshot) bool {
	r, ok := ns.(replacer)
	if !ok {
		return false
	}
	state, err := cbor.Marshal(s)
	return err == nil && r.Replace(state) == nil
}

// Local reports whether the sessions' code runs in this process, as it
// does by default (Namespaces nil, or set to none of the workers').
func (c *Config) Local() bool {
	_, ok := c.Namespaces.(inProcess)
	return c.Namespaces == nil || ok
}
