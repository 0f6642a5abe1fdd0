package namespace

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestComplete: what Tab offers, row by row, in a namespace with
// declarations and imports.
func TestComplete(t *testing.T) {
	ns := newTestNS(t, false)
	for _, src := range []string{
		`import "strings"`,
		`import str "strconv"`,
		`import "time"`,
		`type Point struct{ X, Y int; label string }`,
		`func (p Point) Norm() int { return p.X*p.X + p.Y*p.Y }`,
		`func (p *Point) Move(dx int) { p.X += dx }`,
		`type Line struct{ From, To Point }`,
		`var pointer = &Point{1, 2, "a"}`,
		`p := Point{1, 2, "b"}`,
		`l := Line{}`,
		`d := time.Second`,
		`func printAll() {}`,
		`const printWidth = 80`,
		`var sb strings.Builder`,
	} {
		ns.mustEval(t, src)
	}
	for _, tc := range []struct {
		name, src string
		start     int      // where the word begins
		want      []string // every one of these is a candidate
		not       []string // none of these is
		prefix    string   // Prefix, when not empty
	}{
		{"a variable and a func", "pri", 0, []string{"printAll", "printWidth", "print", "println"}, nil, "print"},
		{"a package name", "x := stri", 5, []string{"strings", "string"}, []string{"strconv"}, "string"},
		{"an aliased package", "st", 0, []string{"str", "strings", "string", "struct"}, []string{"strconv"}, "str"},
		{"package members", "strings.Has", 8, []string{"HasPrefix", "HasSuffix"}, []string{"hasPrefix"}, "Has"},
		{"alias members", "str.Ato", 4, []string{"Atoi"}, nil, "Atoi"},
		{"no unexported package members", "time.", 5, []string{"Second", "Duration"}, []string{"_time_Location"}, ""},
		{"fields and methods", "p.", 2, []string{"X", "Y", "label", "Norm", "Move"}, []string{"Xlabel"}, ""},
		{"through a pointer", "pointer.N", 8, []string{"Norm"}, nil, "Norm"},
		{"a field's type", "l.From.", 7, []string{"X", "Norm"}, []string{"From"}, ""},
		{"a native type's methods", "d.Mi", 2, []string{"Microseconds", "Milliseconds", "Minutes"}, nil, "Mi"},
		{"a package type's methods", "sb.Wr", 3, []string{"WriteString", "WriteByte"}, nil, "Write"},
		{"after a call: nothing", "f().X", 4, nil, []string{"X"}, ""},
		{"import path", `import "str`, 8, []string{"strings", "strconv"}, []string{"fmt"}, "str"},
		{"import path with a name", `import s "encoding/j`, 10, []string{"encoding/json"}, nil, "encoding/json"},
		{"import block", "import (\n\t\"fmt\"\n\t\"o", 18, []string{"os", "os/signal"}, nil, "os"},
		{"sys", `import "sy`, 8, []string{"sys", "sync"}, nil, "sy"},
		{"a string is not an import", `s := "str`, 9, nil, []string{"strings"}, ""},
		{"after a string", `s := "a" + le`, 11, []string{"len"}, nil, "len"},
		{"in a rune", `r := 'a`, 7, nil, []string{"append"}, ""},
		{"unknown variable", "nope.", 5, nil, nil, ""},
		{"keywords", "fu", 0, []string{"func"}, nil, "func"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ns.Complete(tc.src, len(tc.src))
			if c.Start != tc.start {
				t.Errorf("Complete(%q).Start = %d, want %d", tc.src, c.Start, tc.start)
			}
			for _, w := range tc.want {
				if !slices.Contains(c.Candidates, w) {
					t.Errorf("Complete(%q) lacks %q: %v", tc.src, w, c.Candidates)
				}
			}
			for _, w := range tc.not {
				if slices.Contains(c.Candidates, w) {
					t.Errorf("Complete(%q) offers %q", tc.src, w)
				}
			}
			if tc.prefix != "" && c.Prefix != tc.prefix {
				t.Errorf("Complete(%q).Prefix = %q, want %q", tc.src, c.Prefix, tc.prefix)
			}
			if !sort.StringsAreSorted(c.Candidates) {
				t.Errorf("candidates not sorted: %v", c.Candidates)
			}
			word := tc.src[c.Start:]
			for _, cand := range c.Candidates {
				if !strings.HasPrefix(cand, word) || !strings.HasPrefix(cand, c.Prefix) {
					t.Errorf("candidate %q does not begin with %q and %q", cand, word, c.Prefix)
				}
			}
		})
	}
}

// TestCompleteEdges: positions out of range, the middle of a line, a
// namespace never evaluated.
func TestCompleteEdges(t *testing.T) {
	ns := newTestNS(t, false)
	for _, pos := range []int{-1, 100} {
		if c := ns.Complete("abc", pos); c.Start < 0 || c.Start > 3 || len(c.Candidates) != 0 {
			t.Errorf("Complete(abc, %d) = %+v", pos, c)
		}
	}
	if c := ns.Complete("le + x", 2); c.Start != 0 || !slices.Contains(c.Candidates, "len") {
		t.Errorf("mid-line: %+v", c)
	}
	if c := ns.Complete(strings.Repeat("x", 3*maxCompleteSource)+" ma", 3*maxCompleteSource+3); c.Start != 3*maxCompleteSource+1 || !slices.Contains(c.Candidates, "make") {
		t.Errorf("long source: start %d", c.Start)
	}
	c := ns.Complete(`import "`, 8)
	if c.Total <= MaxCandidates && len(c.Candidates) != c.Total || len(c.Candidates) > MaxCandidates {
		t.Errorf("import paths: %d of %d", len(c.Candidates), c.Total)
	}
}

// declare200 gives ns 200 declarations: types, funcs, vars and consts.
func declare200(tb testing.TB, ns testNS) {
	tb.Helper()
	ns.mustEval(tb, `import "strings"`)
	for k := range 50 {
		ns.mustEval(tb, fmt.Sprintf("type T%d struct{ A, B int; Name string }", k))
		ns.mustEval(tb, fmt.Sprintf("func (t T%d) Method%d() int { return t.A }", k, k))
		ns.mustEval(tb, fmt.Sprintf("v%d := T%d{A: %d}", k, k, k))
		ns.mustEval(tb, fmt.Sprintf("const c%d = %d", k, k))
	}
}

// BenchmarkComplete: Tab in a namespace with 200 declarations, for a name
// and for a member; it reports the p99 of the calls.
func BenchmarkComplete(b *testing.B) {
	ns := newTestNS(b, false)
	declare200(b, ns)
	for _, src := range []string{"v4", "v42.", "strings.Has", `import "encoding/`} {
		b.Run(src, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				if c := ns.Complete(src, len(src)); c.Total == 0 {
					b.Fatalf("%q: no candidates", src)
				}
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
}
