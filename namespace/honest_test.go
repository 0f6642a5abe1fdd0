package namespace

import (
	"strings"
	"testing"
)

// honestSession declares what issue 13 found printed dishonestly.
var honestSession = []string{
	`import ("errors"; "fmt"; "strings")`,
	`type Celsius float64`,
	`type Fahrenheit float64`,
	`func (f Fahrenheit) String() string { return fmt.Sprintf("%.1f°F", float64(f)) }`,
	`type Shape interface{ Area() float64 }`,
	`type Rect struct{ W, H float64 }`,
	`func (r Rect) Area() float64 { return r.W * r.H }`,
	`type Stack[T any] struct{ items []T }`,
	`t := Celsius(21.5)`,
	`f := Fahrenheit(70)`,
	`var sh Shape = Rect{1, 2}`,
	`st := Stack[int]{}`,
	`shapes := []Shape{Rect{1, 1}}`,
	`temps := map[string]Celsius{"in": 21}`,
	`e := errors.New("boom 7")`,
	`long := strings.Repeat("a", 1000000)`,
}

// TestHonestOutput checks that values and variables show the types the
// session declared, and still do after a migration.
func TestHonestOutput(t *testing.T) {
	steps := []step{
		{src: `t`, value: `Celsius(21.5)`},
		{src: `f`, value: `70.0°F`},
		{src: `sh`, value: `Rect{W:1, H:2}`},
		{src: `shapes`, value: `[]Shape{Rect{W:1, H:1}}`},
		{src: `[]Shape{Rect{1, 1}}`, value: `[]Shape{Rect{W:1, H:1}}`},
		// yaegi keeps no type of its own for what an interface{} holds.
		{src: `[]interface{}{t, 1}`, value: `[]interface{}{21.5, 1}`},
		{src: `temps`, value: `map[string]Celsius{"in":21}`},
		// Types the session did not declare, held by an interface{}.
		{src: `any([]int{1})`, value: `[]int{1}`},
		{src: `any(struct{ A int }{1})`, value: `struct { A int }{A:1}`},
		{src: `[]any{1, "a", struct{ B string }{"x"}, map[string]int{"k": 1}, [2]bool{true}}`,
			value: `[]interface{}{1, "a", struct { B string }{B:"x"}, map[string]int{"k":1}, [2]bool{true, false}}`},
		{src: `any(struct{}{})`, value: `struct {}{}`},
		{src: `any(struct{ N int; R Rect }{1, Rect{}})`, value: `struct { N int; R Rect }{N:1, R:Rect{W:0, H:0}}`},
		{src: `[]struct{ A int }{{1}}`, value: `[]struct { A int }{{A:1}}`},
		{src: `any(&struct{ A int }{2})`, value: `&struct { A int }{A:2}`},
		{src: `st`, value: `Stack[int]{items:[]int(nil)}`},
		{src: `e`, value: `errors.New("boom 7")`},
		{src: `[]error{e}`, value: `[]error{errors.New("boom 7")}`},
		{src: `fmt.Errorf("at %d: %w", 3, e)`, value: `errors.New("at 3: boom 7")`},
		{src: `long`, value: `"` + strings.Repeat("a", maxStringBytes) + `…" (1000000 bytes)`},
		{src: `[]byte(long)`, value: `[]byte("` + strings.Repeat("a", maxStringBytes) + `…") (1000000 bytes)`},
	}
	wantVars := map[string]string{
		"t": "Celsius", "f": "Fahrenheit", "sh": "Shape", "st": "Stack[int]", "shapes": "[]Shape",
		"temps": "map[string]Celsius", "e": "error", "long": "string",
	}
	check := func(t *testing.T, ns testNS) {
		runSteps(t, ns, steps)
		got := map[string]string{}
		for _, v := range ns.Vars() {
			got[v.Name] = v.Type
		}
		for name, want := range wantVars {
			if got[name] != want {
				t.Errorf(":vars %s is %q, want %q", name, got[name], want)
			}
		}
	}
	ns := newTestNS(t, false)
	for _, src := range honestSession {
		ns.mustEval(t, src)
	}
	t.Run("session", func(t *testing.T) { check(t, ns) })
	t.Run("migrated", func(t *testing.T) {
		after, _ := migrate(t, ns)
		check(t, after)
	})
}
