package namespace

import (
	"context"
	"runtime"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// BenchmarkNewFirstEval is the cost of a session's first evaluation: the
// interpreter is created then, with the symbols it needs.
func BenchmarkNewFirstEval(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ns := New(Options{})
		if _, err := ns.Eval(ctx, "1+1"); err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}

// BenchmarkNewFirstEvalFmt adds an import of fmt and a call of it.
func BenchmarkNewFirstEvalFmt(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ns := New(Options{})
		if _, err := ns.Eval(ctx, `import "fmt"`); err != nil {
			b.Fatal(err)
		}
		if _, err := ns.Eval(ctx, `fmt.Sprint(1)`); err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}

// BenchmarkYaegiFullStdlib is what a namespace would cost loading the whole
// standard library up front, as yaegi's REPL does.
func BenchmarkYaegiFullStdlib(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		i := interp.New(interp.Options{SourcecodeFilesystem: emptyFS{}})
		if err := i.Use(stdlib.Symbols); err != nil {
			b.Fatal(err)
		}
		if _, err := i.Eval("1+1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEval is one evaluation of an expression in a warm namespace.
// yaegi grows its global frame with each, so it slows as b.N grows.
func BenchmarkEval(b *testing.B) {
	ctx := context.Background()
	ns := New(Options{})
	defer ns.Close()
	if _, err := ns.Eval(ctx, "x := 1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ns.Eval(ctx, "x + 1"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeapPerNamespace reports the live heap each namespace costs after
// its first evaluation, without and with fmt, and with the whole standard
// library loaded as yaegi's REPL does.
func TestHeapPerNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap of 50 interpreters")
	}
	ctx := context.Background()
	const n = 50
	measure := func(setup func() interface{}) float64 {
		keep := make([]interface{}, n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for k := range keep {
			keep[k] = setup()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return float64(after.HeapAlloc-before.HeapAlloc) / n / 1024
	}
	eval := func(srcs ...string) func() interface{} {
		return func() interface{} {
			ns := New(Options{})
			for _, src := range srcs {
				if _, err := ns.Eval(ctx, src); err != nil {
					t.Fatal(err)
				}
			}
			return ns
		}
	}
	plain := measure(eval("1+1"))
	withFmt := measure(eval(`import "fmt"`, `fmt.Sprint(1)`))
	withHTTP := measure(eval(`import "net/http"`, `http.StatusOK`))
	full := measure(func() interface{} {
		i := interp.New(interp.Options{SourcecodeFilesystem: emptyFS{}})
		if err := i.Use(stdlib.Symbols); err != nil {
			t.Fatal(err)
		}
		if _, err := i.Eval("1+1"); err != nil {
			t.Fatal(err)
		}
		return i
	})
	t.Logf("heap per namespace: 1+1 %.0f KiB; import fmt %.0f KiB; import net/http %.0f KiB; yaegi with the whole stdlib %.0f KiB",
		plain, withFmt, withHTTP, full)
	if withFmt > full/2 {
		t.Errorf("a namespace that imported fmt costs %.0f KiB, the whole stdlib %.0f KiB", withFmt, full)
	}
}
