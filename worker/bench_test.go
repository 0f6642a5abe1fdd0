package worker

import (
	"context"
	"testing"

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
