package namespace

import (
	"strings"
	"testing"
)

// TestClearErrors checks errors in the Go toolchain's words, with
// positions and hints, and the Go 1.22 syntax rewritten for yaegi; and
// that what the lines declared survives a migration.
func TestClearErrors(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: `}`, err: "1:1: unexpected }: it closes no {"},
		{src: `x := 1 }`, err: "1:8: unexpected }"},
		{src: `fmt.Println("hi")`, err: `1:1: fmt is not imported (type import "fmt")`},
		{src: `rand.Intn(3)`, err: `rand is not imported (type import "math/rand")`},
		{src: `import "fmt"`, value: noValue},
		{src: `fmt.Prinln(1)`, err: "1:1: undefined: fmt.Prinln (did you mean Println?)"},
		{src: `a, b := 1`, err: "1:1: assignment mismatch: 2 variables but 1 value"},
		{src: `a, b := 1, 2, 3`, err: "1:1: assignment mismatch: 2 variables but 3 values"},
		{src: `var c, d = 1`, err: "1:5: assignment mismatch: 2 variables but 1 value"},
		{src: `func two() (int, int) { return 1, 2 }`, value: noValue},
		{src: `a, b := two()`, value: noValue},
		{src: `total := 0`, value: noValue},
		{src: `for i := range 3 { total += i }`, value: noValue},
		{src: `total`, value: "3"},
		{src: `n := int64(4)`, value: noValue},
		{src: `for i := range n { total += int(i) }`, value: noValue},
		{src: `total`, value: "9"},
		{src: `for range 2 { total++ }`, value: noValue},
		{src: `outer: for i := range 3 { for j := range 3 { if j > i { continue outer }; total++ } }`, value: noValue},
		{src: `total`, value: "17"},
		{src: `func sum(n int) (s int) { for i := range n { s += i }; return s }`, value: noValue},
		{src: `sum(5)`, value: "10"},
		{src: `for i, v := range []string{"a"} { _, _ = i, v }`, value: noValue},
		{src: `[]int{1}[5]`, err: "panic: runtime error: index out of range [5] with length 1"},
		{src: `s := []int{1, 2}`, value: noValue},
		{src: `k := 7`, value: noValue},
		{src: `s[k]`, err: "index out of range [7] with length 2"},
		{src: `var np *int`, value: noValue},
		{src: `*np`, err: "panic: runtime error: invalid memory address or nil pointer dereference"},
		{src: `type node struct{ n int }`, value: noValue},
		{src: `var nn *node`, value: noValue},
		{src: `nn.n`, err: "panic: runtime error: invalid memory address or nil pointer dereference"},
		{src: `nn = &node{3}; nn.n + *(&k)`, value: "10"},
		{src: `if k > 1 { "big" } else { "small" }`, err: `1:12: "big" is not used`},
		{src: `for i := 0; i < 1; i++ { i }`, err: "1:26: i is not used"},
		{src: `func g() int { k + 1; return 0 }`, err: "1:16: k + 1 is not used"},
		{src: `ch := make(chan int, 1); ch <- 1; if k > 1 { (<-ch); println() }`, value: noValue},
		{src: `k; k + 1`, value: "8"},
		{src: `"ab"[5]`, err: "index out of range [5] with length 2"},
		{src: `var q int; q = 5`, value: noValue},
		{src: `q`, value: "5"},
		{src: `totl`, err: "undefined: totl (did you mean total?)"},
	})
	after, _ := migrate(t, ns)
	runSteps(t, after, []step{
		{src: `sum(4)`, value: "6"},
		{src: `q + total`, value: "22"},
	})
	for _, v := range ns.Vars() {
		if strings.HasPrefix(v.Name, reservedPrefix) {
			t.Errorf("Vars lists %s", v.Name)
		}
	}
}

// TestInternalErrorNamed checks that a panic inside yaegi becomes a
// sentence naming the construct.
func TestInternalErrorNamed(t *testing.T) {
	c, err := parseChunk("for x := range []int(nil) { _ = x }")
	if err != nil {
		t.Fatal(err)
	}
	got := New(Options{}).explain(c, &internalError{compiling: true, p: "nil type"}, nil).Error()
	if want := "the interpreter (yaegi) failed on this range loop"; !strings.HasPrefix(got, want) || strings.Contains(got, "nil type") {
		t.Errorf("explain = %q, want it to begin %q without yaegi's words", got, want)
	}
}

// TestRangeOverFunc checks that a range over a function, which yaegi
// cannot compile, is named as such, in every form it is recognised in,
// and that the namespace goes on.
func TestRangeOverFunc(t *testing.T) {
	ns := newTestNS(t, false)
	const want = "range over a function"
	runSteps(t, ns, []step{
		{src: `func count(yield func(int) bool) { for i := 0; i < 3; i++ { if !yield(i) { return } } }`, value: noValue},
		{src: `seq := count`, value: noValue},
		{src: `total := 0`, value: noValue},
		{src: `for x := range count { total += x }`, err: want + " (count;"},
		{src: `for x := range seq { total += x }`, err: want + " (seq;"},
		{src: `for x := range func(yield func(int) bool) {} { total += x }`, err: want + " (a function literal;"},
		{src: `if true { for range seq {} }`, err: want},
		{src: `count(func(x int) bool { total += x; return true })`, value: noValue},
		{src: `total`, value: `3`},
		{src: `for i := range 3 { total += i }`, value: noValue},
		{src: `total`, value: `6`},
	})
}
