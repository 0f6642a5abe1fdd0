package worker

import (
	"context"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// benchNamespace is a namespace like the bench's sessions' (imports, a
// struct type, a map, ten variables).
var benchNamespace = []string{
	`import "os"`, `import "sys"`, `import "strings"`, `import "sort"`, `import "fmt"`,
	"type Point struct { X, Y int; Label string }",
	"base := 1000000", "x := 41", `m := map[string]int{"one": 1, "two": 2, "three": 3}`,
	"v4 := 4", `s5 := "ababababab"`, `p6 := Point{X: 6, Y: 1, Label: "p"}`, "l7 := []int{1, 2, 3, 7}",
	"v8 := 8", `s9 := "ababababababababab"`,
}

// BenchmarkEvalHop is x + 1 evaluated in a worker, as the front does it,
// beside BenchmarkEvalInProcess: the cost of the hop (and of the
// checkpoint the worker takes after each line, before the next).
func BenchmarkEvalHop(b *testing.B) {
	pl := testPool(b, Config{})
	s := openSession(b, pl)
	for _, src := range benchNamespace {
		s.mustEval(src, "")
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ns.Eval(context.Background(), "x + 1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalInProcess(b *testing.B) {
	ns := namespace.New(namespace.Options{})
	defer ns.Close()
	for _, src := range benchNamespace {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ns.Eval(context.Background(), "x + 1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplace is a namespace built ahead of a migration brought up to
// a later state of its session (values only, as after a line like the
// bench's --assign), as a migration's recheck rounds do it, round trip
// included.
func BenchmarkReplace(b *testing.B) {
	pl := testPool(b, Config{})
	states := make([][]byte, 2)
	s := openSession(b, pl)
	for _, src := range benchNamespace {
		s.mustEval(src, "")
	}
	for i := range states {
		s.mustEval(fmt.Sprintf(`m["last"] = %d`, i), "")
		snap, _, err := s.ns.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		if states[i], err = cbor.Marshal(snap); err != nil {
			b.Fatal(err)
		}
	}
	ns, err := pl.Restore(namespace.Options{}, states[0])
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	i := 0
	for b.Loop() {
		i++
		if err := ns.Replace(states[i%2]); err != nil {
			b.Fatal(err)
		}
	}
}
