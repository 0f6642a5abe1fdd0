package repl

import (
	"errors"
	"time"

	"translucent/namespace"
)

// An Observer is told what the sessions do, for a server's metrics (the
// front adapts it to Prometheus; this package counts nothing itself). Its
// methods are called from the sessions' goroutines, at once from many, and
// must not block.
type Observer interface {
	// Login is told of each password checked: ok, or wrong.
	Login(ok bool)
	// Evaluated is told of each input evaluated, how long it took, and
	// how it ended: "ok", "error", "interrupted" or "rolled_back" (the
	// line ended its worker; the session was restored from before it).
	Evaluated(outcome string, took time.Duration)
}

// noObserver is the Observer of a server given none.
type noObserver struct{}

func (noObserver) Login(bool)                      {}
func (noObserver) Evaluated(string, time.Duration) {}

// outcome names how an evaluation ended, for Observer.Evaluated.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, namespace.ErrRolledBack):
		return "rolled_back"
	case errors.Is(err, namespace.ErrInterrupted):
		return "interrupted"
	default:
		return "error"
	}
}
