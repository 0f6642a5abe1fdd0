package worker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"translucent/namespace"
)

// TestComplete: Tab's question crosses the wire to the worker that holds
// the declarations, and back.
func TestComplete(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval(`import "strings"`, "")
	s.mustEval("type Point struct{ X, Y int }", "")
	s.mustEval("func (p Point) Norm() int { return p.X }", "")
	s.mustEval("point := Point{1, 2}", "")
	for _, tc := range []struct {
		src, after string
		start      int
		want       string
	}{
		{"poi", "", 0, "point"},
		{"point.N", " + 1", 6, "Norm"},
		{"strings.HasP", "", 8, "HasPrefix"},
		{`import "strc`, `"`, 8, "strconv"},
	} {
		c := s.ns.Complete(tc.src+tc.after, len(tc.src))
		if c.Start != tc.start || !slices.Contains(c.Candidates, tc.want) {
			t.Errorf("Complete(%q) = %+v, want %q from %d", tc.src, c, tc.want, tc.start)
		}
	}
}

// TestCompleteRightAfterALine: Tab typed ahead meets the worker taking
// its checkpoint of the line before (which holds the interpreter): it
// waits for it rather than answer without the new name.
func TestCompleteRightAfterALine(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	for k := range 30 {
		name := fmt.Sprintf("fresh%d", k)
		s.mustEval(name+" := 1", "")
		if c := s.ns.Complete(name, len(name)); !slices.Contains(c.Candidates, name) {
			t.Fatalf("Complete(%q) right after its declaration = %+v", name, c)
		}
	}
}

// TestTypeOf: :type's question, asked of the worker.
func TestTypeOf(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("type Point struct{ X, Y int }", "")
	s.mustEval("p := Point{1, 2}", "")
	if got, err := s.ns.TypeOf(context.Background(), "p.X"); got != "int" || err != nil {
		t.Errorf("TypeOf(p.X) = %q, %v", got, err)
	}
	if _, err := s.ns.TypeOf(context.Background(), "nope"); err == nil {
		t.Error("TypeOf(nope): no error")
	}
}

// TestCheckCompletion: an answer that does not fit the word the front
// asked about is nothing, whatever a worker says.
func TestCheckCompletion(t *testing.T) {
	src, pos := "x := fm", 7
	ok := namespace.Completion{Start: 5, Prefix: "fmt", Candidates: []string{"fmt"}, Total: 1}
	many := make([]string, namespace.MaxCandidates+1)
	for k := range many {
		many[k] = fmt.Sprintf("fm%03d", k)
	}
	for _, tc := range []struct {
		name string
		c    namespace.Completion
		keep bool
	}{
		{"fits", ok, true},
		{"start after the cursor", namespace.Completion{Start: 8, Prefix: "fmt", Candidates: []string{"fmt"}, Total: 1}, false},
		{"negative start", namespace.Completion{Start: -1, Total: 0}, false},
		{"prefix not the word's", namespace.Completion{Start: 5, Prefix: "os", Candidates: []string{"os"}, Total: 1}, false},
		{"candidate not the prefix's", namespace.Completion{Start: 5, Prefix: "fm", Candidates: []string{"fmt", "os"}, Total: 2}, false},
		{"too many", namespace.Completion{Start: 5, Prefix: "fm", Candidates: many, Total: len(many)}, false},
		{"total under the count", namespace.Completion{Start: 5, Prefix: "fmt", Candidates: []string{"fmt"}, Total: 0}, false},
	} {
		got := checkCompletion(tc.c, src, pos)
		if kept := got.Start == tc.c.Start && len(got.Candidates) == len(tc.c.Candidates); kept != tc.keep {
			t.Errorf("%s: kept = %v, want %v", tc.name, kept, tc.keep)
		}
		if !tc.keep && (got.Start != pos || len(got.Candidates) != 0) {
			t.Errorf("%s: refused as %+v, want nothing at the cursor", tc.name, got)
		}
	}
}

// BenchmarkComplete: Tab through a worker, in a namespace with 200
// declarations; it reports the p99.
func BenchmarkComplete(b *testing.B) {
	pl := testPool(b, Config{})
	s := openSession(b, pl)
	s.mustEval(`import "strings"`, "")
	for k := range 50 {
		s.mustEval(fmt.Sprintf("type T%d struct{ A, B int; Name string }", k), "")
		s.mustEval(fmt.Sprintf("func (t T%d) Method%d() int { return t.A }", k, k), "")
		s.mustEval(fmt.Sprintf("v%d := T%d{A: %d}", k, k, k), "")
		s.mustEval(fmt.Sprintf("const c%d = %d", k, k), "")
	}
	for _, src := range []string{"v4", "v42.", "strings.Has"} {
		b.Run(src, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if c := s.ns.Complete(src, len(src)); c.Total == 0 {
					b.Fatalf("%q: no candidates", src)
				}
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
}
