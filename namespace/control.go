package namespace

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// yaegi v0.16.1 can interrupt an evaluation only from inside
// EvalWithContext, which returns as soon as its context is done while the
// evaluation goroutine it started may still be running (a `for {}` between
// two checks, a blocking native call). The next evaluation would then use the
// interpreter concurrently with it, and the stale one resumes once the next
// Execute resets the global frame's run id. So a Namespace runs
// Interpreter.Eval on a goroutine of its own, whose end it can wait for, and
// does what EvalWithContext does around it through the fields below:
//
//	mutex      guards done and cancelChan
//	done       closed to abort blocked channel operations of running code
//	cancelChan compile channel operations in their cancellable form
//	id         run id; frames whose id differs stop at their next step
//
// The offsets are looked up by name and type at init; a yaegi whose layout
// differs fails every test instead of corrupting memory.
var yaegiFields = func() (f struct{ id, mutex, done, cancelChan uintptr }) {
	t := reflect.TypeOf(interp.Interpreter{})
	offset := func(name string, want reflect.Type) uintptr {
		sf, ok := t.FieldByName(name)
		if !ok || sf.Type != want || len(sf.Index) != 1 {
			panic(fmt.Sprintf("namespace: yaegi Interpreter has no field %s %v; this package needs github.com/traefik/yaegi v0.16.1", name, want))
		}
		return sf.Offset
	}
	f.id = offset("id", reflect.TypeOf(uint64(0)))
	f.mutex = offset("mutex", reflect.TypeOf(sync.RWMutex{}))
	f.done = offset("done", reflect.TypeOf((chan struct{})(nil)))
	f.cancelChan = offset("cancelChan", reflect.TypeOf(false))
	return f
}()

// armInterpreter makes done the channel that aborts i's channel operations,
// as EvalWithContext does before it evaluates. Only the goroutine that may use
// i calls it, between evaluations.
func armInterpreter(i *interp.Interpreter, done chan struct{}) {
	p := unsafe.Pointer(i)
	mu := (*sync.RWMutex)(unsafe.Add(p, yaegiFields.mutex))
	mu.Lock()
	*(*chan struct{})(unsafe.Add(p, yaegiFields.done)) = done
	*(*bool)(unsafe.Add(p, yaegiFields.cancelChan)) = true
	mu.Unlock()
}

// stopInterpreter does what EvalWithContext does when its context is done:
// it bumps the run id, which stops every interpreted loop and call of i
// (including goroutines started by earlier evaluations) at its next step.
// The caller closes the done channel it armed. Safe from any goroutine.
func stopInterpreter(i *interp.Interpreter) {
	atomic.AddUint64((*uint64)(unsafe.Add(unsafe.Pointer(i), yaegiFields.id)), 1)
}
