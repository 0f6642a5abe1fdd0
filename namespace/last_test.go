package namespace

import (
	"context"
	"reflect"
	"testing"
)

// TestLastValue checks `_`: the value the last expression printed, with
// its type; unchanged by what prints nothing, fails or panics; the blank
// identifier still discards; and carried by a migration.
func TestLastValue(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: `_`, err: "_ has no value yet"},
		{src: `import "fmt"`, value: noValue},
		{src: `type Celsius float64`, value: noValue},
		{src: `t := Celsius(21.5)`, value: noValue},
		{src: `t * 2`, value: `Celsius(43)`},
		{src: `_`, value: `Celsius(43)`},
		{src: `_ + 1`, value: `Celsius(44)`},
		{src: `_ + 1`, value: `Celsius(45)`},
		// Statements, fmt.Println, several values, a panic: unchanged.
		{src: `x := 1`, value: noValue},
		{src: `fmt.Println("hi")`, value: noValue},
		{src: `fmt.Sprint(1), 2`, err: "expected"},
		{src: `func two() (int, int) { return 1, 2 }`, value: noValue},
		{src: `two()`, value: `(1, 2)`},
		{src: `[]int{1}[5]`, err: "index out of range"},
		{src: `nosuch`, err: "undefined: nosuch"},
		{src: `_`, value: `Celsius(45)`},
		// The blank identifier is still blank.
		{src: `a, _ := two()`, value: noValue},
		{src: `for _, v := range []int{7} { x = v }`, value: noValue},
		{src: `var _ = 3`, value: noValue},
		{src: `x`, value: `7`},
		{src: `_ * 2`, value: `14`},
		{src: `y := _ + a`, value: noValue},
		{src: `y`, value: `15`},
		{src: `"s"`, value: `"s"`},
		{src: `_ + "!"`, value: `"s!"`},
		{src: `_ + 1`, err: "mismatched types"},
		// `_` takes each value's own type, not the one it had.
		{src: `1.5`, value: `1.5`},
		{src: `2.5`, value: `2.5`},
		{src: `true && !false`, value: `true`},
		{src: `!_`, value: `false`},
		{src: `x + 1`, value: `8`},
		{src: `_ + 1`, value: `9`},
		{src: `x > 1`, value: `true`},
		{src: `1 << 3`, value: `8`},
		{src: `_ / 3`, value: `2`},
		{src: `nil`, value: `nil`},
		{src: `_`, value: `2`},
		{src: `t`, value: `Celsius(21.5)`},
		{src: `float64(t)`, value: `21.5`},
		{src: `_ / 2`, value: `10.75`},
		{src: `[]Celsius{t}`, value: `[]Celsius{21.5}`},
	})
	for _, v := range ns.Vars() {
		if v.Name == lastName || v.Name == "_" {
			t.Errorf(":vars lists %s", v.Name)
		}
	}
	if got, err := ns.TypeOf(context.Background(), "_"); err != nil || got != "[]Celsius" {
		t.Errorf(":type _ = %q, %v; want []Celsius", got, err)
	}
	// A snapshot leaves it out: it changes at nearly every line, and
	// would make every namespace changed since a migration's precopy.
	_, snap, _ := carry(t, ns.Namespace)
	for _, v := range snap.Vars {
		if v.Name == lastName || v.Name == "_" {
			t.Errorf("the snapshot carries %s", v.Name)
		}
	}
	after, _ := migrate(t, ns)
	runSteps(t, after, []step{
		{src: `_`, err: `_ has no value yet`},
		{src: `[]Celsius{t}`, value: `[]Celsius{21.5}`},
		{src: `append(_, 3)`, value: `[]Celsius{21.5, 3}`},
		{src: `len(_)`, value: `2`},
	})
}

// TestHasBlank checks the cheap test before the walk.
func TestHasBlank(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"x + 1", false}, {"_", true}, {"_ + 1", true}, {"a_b", false}, {"_x", false}, {"x_", false},
		{"f(_)", true}, {"a, _ := f()", true}, {"é_", false},
	} {
		if got := hasBlank(tc.src); got != tc.want {
			t.Errorf("hasBlank(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// TestLastValueAssigned: a value of the type `_` already has is assigned
// to it, in the same slot of yaegi's global frame; only another type
// declares it again.
func TestLastValueAssigned(t *testing.T) {
	ns := newTestNS(t, false)
	slot := func() int64 {
		t.Helper()
		syms, ok := mainSymbols(ns.in)
		if !ok {
			t.Fatal("no main scope")
		}
		sym := syms.MapIndex(reflect.ValueOf(lastName))
		if !sym.IsValid() {
			t.Fatal("no _")
		}
		return sym.Elem().FieldByName("index").Int()
	}
	ns.mustEval(t, "x := 41")
	ns.mustEval(t, "x + 1")
	first := slot()
	for k := range 5 {
		if got := ns.mustEval(t, "x + 1").Value; got != "42" {
			t.Fatalf("x + 1 = %s", got)
		}
		if s := slot(); s != first {
			t.Fatalf("evaluation %d: _ in slot %d, was %d: declared again", k, s, first)
		}
	}
	if got := ns.mustEval(t, "_ * 2").Value; got != "84" {
		t.Errorf("_ * 2 = %s", got)
	}
	ns.mustEval(t, `"s"`)
	if slot() == first {
		t.Error("a string went into _'s int slot")
	}
	if got := ns.mustEval(t, `_ + "!"`).Value; got != `"s!"` {
		t.Errorf(`_ + "!" = %s`, got)
	}
}
