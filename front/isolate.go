package front

import (
	"fmt"
	"log/slog"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
	"translucent/repl"
	"translucent/worker"
)

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
func namespaces(c Config, log *slog.Logger) (repl.Namespaces, func(), error) {
	cfg := worker.Config{Memory: c.SessionMemory, EvalTimeout: c.EvalTimeout, Logger: log}
	switch c.Isolate {
	case "none":
		return nil, func() {}, nil
	case "session":
		cfg.PerWorker = 1
	case "pool":
		cfg.PerWorker = c.PoolSize
	default:
		return nil, nil, fmt.Errorf("serve: --isolate %q: want session, pool or none", c.Isolate)
	}
	pool := worker.NewPool(cfg)
	return workerPool{pool}, func() { pool.Close() }, nil
}
