package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestTypeOf: :type's answers, and that it runs nothing of the user's.
func TestTypeOf(t *testing.T) {
	ns := newTestNS(t, false)
	for _, src := range []string{
		`import "strings"`,
		`import "time"`,
		`type Point struct{ X, Y int }`,
		`func (p Point) Norm() int { return p.X }`,
		`calls := 0`,
		`func bump() (int, error) { calls++; return calls, nil }`,
		`p := Point{1, 2}`,
		`xs := []string{"a"}`,
		`var e error`,
		`type Celsius float64`,
		`t := Celsius(21.5)`,
		`temps := []Celsius{t}`,
		`v := any(t)`,
	} {
		ns.mustEval(t, src)
	}
	for _, tc := range []struct{ src, want, err string }{
		{"p", "Point", ""},
		{"p.X + 1", "int", ""},
		{"xs[0]", "string", ""},
		{"len(xs)", "int", ""},
		{"1 + 2", "int", ""}, // the type it takes in a statement
		{`"a" + "b"`, "string", ""},
		{"float64(p.X)", "float64", ""},
		{"time.Second", "time.Duration", ""},
		{"time.Duration(5)", "time.Duration", ""},
		{"bump()", "(int, error)", ""},
		{"strings.Split(\"a,b\", \",\")", "[]string", ""},
		{"p.Norm", "func() int", ""},
		// What the session declared, as it spells it (reflect: float64).
		{"t", "Celsius", ""},
		{"t * 2", "Celsius", ""},
		{"-t", "Celsius", ""},
		{"temps", "[]Celsius", ""},
		{"temps[0] + 1", "Celsius", ""},
		{"float64(t)", "float64", ""},
		{"v", "float64", ""}, // an interface{} keeps no declared type
		{"bump() + 1", "", "depends on a call"},
		{"x +", "", "not an expression"},
		{"nope", "", "undefined"},
	} {
		got, err := ns.TypeOf(context.Background(), tc.src)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf(":type %s = %q, %v; want an error with %q", tc.src, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf(":type %s = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
	if got := ns.mustEval(t, "calls").Value; got != "0" {
		t.Errorf(":type ran bump: calls = %s", got)
	}
	if _, err := ns.TypeOf(context.Background(), "bump() * 2"); !errors.Is(err, ErrNotStatic) {
		t.Errorf("a call inside: %v, want ErrNotStatic", err)
	}
}
