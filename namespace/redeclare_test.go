package namespace

import (
	"strings"
	"testing"
)

// TestRedeclare checks that a declaration made again replaces the old one
// in the session and in the journal a migration replays, and that Vars
// lists only what the user declared.
func TestRedeclare(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: `type Point struct{ X, Y int }`, value: noValue},
		{src: `func (p Point) Sum() int { return p.X + p.Y }`, value: noValue},
		{src: `p := Point{1, 2}`, value: noValue},
		{src: `type Point struct{ X, Y, Z int }`, value: noValue},
		{src: `Point{1, 2, 3}`, value: `Point{X:1, Y:2, Z:3}`},
		{src: `var q Point`, value: noValue},
		{src: `q`, value: `Point{X:0, Y:0, Z:0}`},
		{src: `p.X`, value: `1`},
		{src: `func f() int { return 1 }`, value: noValue},
		{src: `func f() int { return 2 }`, value: noValue},
		{src: `f()`, value: `2`},
		{src: `const (A = 1; B = 2)`, value: noValue},
		{src: `const A = 3`, value: noValue},
		{src: `A + B`, value: `5`},
		{src: `for i := 0; i < 3; i++ {}`, value: noValue},
		{src: `for k, v := range []int{4} { _, _ = k, v }`, value: noValue},
		{src: `var failed int = undefinedthing`, err: "undefined: undefinedthing"},
		{src: `alsoFailed := undefinedthing`, err: "1:15: undefined: undefinedthing"}, // yaegi: "constant definition loop"
		{src: `x := 1`, value: noValue},
	})
	journal := strings.Join(ns.Journal(), "\n")
	if strings.Count(journal, "type Point") != 1 || strings.Contains(journal, "X, Y int }") || strings.Contains(journal, "Sum()") ||
		strings.Count(journal, "func f()") != 1 || !strings.Contains(journal, "const A = 3") {
		t.Errorf("journal keeps replaced declarations:\n%s", journal)
	}
	wantVars := "p q x"
	vars := func(ns testNS) string {
		var names []string
		for _, v := range ns.Vars() {
			names = append(names, v.Name)
		}
		return strings.Join(names, " ")
	}
	if got := vars(ns); got != wantVars {
		t.Errorf("Vars = %s, want %s", got, wantVars)
	}
	after, _ := migrate(t, ns)
	runSteps(t, after, []step{
		{src: `Point{1, 2, 3}`, value: `Point{X:1, Y:2, Z:3}`},
		{src: `q`, value: `Point{X:0, Y:0, Z:0}`},
		{src: `p.X + p.Y`, value: `3`},
		{src: `f()`, value: `2`},
		{src: `A + B`, value: `5`},
	})
	if got := vars(after); got != wantVars {
		t.Errorf("after a migration, Vars = %s, want %s", got, wantVars)
	}
}

// TestUndefinedNames: a declaration that uses a name nobody declared
// fails as Go says it (yaegi's own words are "constant definition loop"),
// and leaves no trace of the name: before, it then evaluated to nothing,
// without an error, and the interpreter failed on the next use.
func TestUndefinedNames(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: `type Point struct{ X, Y int }`, value: noValue},
		{src: `x := 1`, value: noValue},
		{src: `y := undefinedName`, err: "1:6: undefined: undefinedName"},
		{src: `undefinedName`, err: "1:1: undefined: undefinedName"},
		{src: `undefinedName + 1`, err: "1:1: undefined: undefinedName"},
		{src: `y`, err: "1:1: undefined: y"},
		{src: `var v undefinedType`, err: "1:7: undefined: undefinedType"},
		{src: `p := Point{X: nope}`, err: "1:15: undefined: nope"},
		{src: "z := x +\n  gone", err: "2:3: undefined: gone"},
		{src: `f := func() int { k := 1; return k + lost }`, err: "1:38: undefined: lost"},
		{src: `[2]any{nope.X, 1}`, err: "1:8: undefined: nope"},
		{src: `len([]int{gone.Y})`, err: "1:11: undefined: gone"},
		{src: `q := Point{X: x, Y: len("ab")}`, value: noValue},
		{src: `q`, value: `Point{X:1, Y:2}`},
	})
}
