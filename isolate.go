package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
	"translucent/repl"
	"translucent/worker"
)

// workerCmd is a worker process: it evaluates the sessions its front
// opens, on the descriptor the front gave it (see package worker).
func workerCmd() error {
	fd, err := strconv.Atoi(os.Getenv(worker.EnvFD))
	if err != nil || fd < 3 {
		return errors.New("worker: this command is started by 'translucent serve', not by hand")
	}
	// A runaway recursion ends the worker at a 128 MiB stack rather than
	// the runtime's 1 GB: sooner, and within the default memory limit.
	debug.SetMaxStack(128 << 20)
	if err := worker.Serve(os.NewFile(uintptr(fd), "front")); !errors.Is(err, io.EOF) {
		return err
	}
	return nil // the front closed: code sessions left running ends with the process
}

// workerPool makes a repl.Namespaces of a worker.Pool.
type workerPool struct{ *worker.Pool }

func (p workerPool) New(opts namespace.Options) (repl.Namespace, error) {
	return p.Pool.New(opts)
}

func (p workerPool) Restore(opts namespace.Options, s namespace.Snapshot) (repl.Namespace, error) {
	b, err := cbor.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding a snapshot: %w", err)
	}
	return p.Pool.Restore(opts, b)
}

func (p workerPool) RestoreIdle(opts namespace.Options, s namespace.Snapshot) (repl.Namespace, error) {
	b, err := cbor.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding a snapshot: %w", err)
	}
	return p.Pool.RestoreIdle(opts, b)
}

// namespaces returns where serve evaluates sessions' code, per --isolate,
// and a function that ends its workers.
func namespaces(f *serveFlags, log *slog.Logger) (repl.Namespaces, func(), error) {
	cfg := worker.Config{Memory: f.sessionMemory << 20, EvalTimeout: f.evalTimeout, Logger: log}
	switch f.isolate {
	case "none":
		return nil, func() {}, nil
	case "session":
		cfg.PerWorker = 1
	case "pool":
		cfg.PerWorker = f.poolSize
	default:
		return nil, nil, fmt.Errorf("serve: --isolate %q: want session, pool or none", f.isolate)
	}
	pool := worker.NewPool(cfg)
	return workerPool{pool}, func() { pool.Close() }, nil
}
