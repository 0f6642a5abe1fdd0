package namespace

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testVersion = "translucent test (go1.26.8)"

// syncBuffer is an io.Writer that tests can wait on.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// waitFor waits until the buffer contains want, failing the test after
// a deadline.
func (s *syncBuffer) waitFor(t testing.TB, want string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := s.b.String(), s.changed
		s.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waiting for %q; have %q", want, got)
		}
	}
}

type testNS struct {
	*Namespace
	stdout, stderr *syncBuffer
}

func newTestNS(t testing.TB, unrestricted bool) testNS {
	t.Helper()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	ns := New(Options{Stdout: stdout, Stderr: stderr, Version: testVersion, Unrestricted: unrestricted})
	t.Cleanup(ns.Close)
	return testNS{ns, stdout, stderr}
}

// eval evaluates src with a deadline that fails the test.
func (ns testNS) eval(t testing.TB, src string) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := ns.Eval(ctx, src)
	if errors.Is(err, ErrInterrupted) {
		t.Fatalf("%s: timed out", src)
	}
	return res, err
}

// mustEval evaluates src and fails the test on an error.
func (ns testNS) mustEval(t testing.TB, src string) Result {
	t.Helper()
	res, err := ns.eval(t, src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return res
}

// A step is one evaluation of a session and what it must give.
type step struct {
	src   string
	value string // the printed value (ending in "(0x": its beginning), or noValue
	err   string // a substring of the error
}

const noValue = "\x00"

func runSteps(t *testing.T, ns testNS, steps []step) {
	t.Helper()
	for _, st := range steps {
		res, err := ns.eval(t, st.src)
		switch {
		case st.err != "":
			if err == nil || !strings.Contains(err.Error(), st.err) {
				t.Errorf("%s: error %v, want one containing %q", st.src, err, st.err)
			}
		case err != nil:
			t.Errorf("%s: %v", st.src, err)
		case st.value == noValue:
			if res.HasValue {
				t.Errorf("%s = %s, want no value", st.src, res.Value)
			}
		case !res.HasValue || res.Value != st.value && !(strings.HasSuffix(st.value, "(0x") && strings.HasPrefix(res.Value, st.value)):
			t.Errorf("%s = %q (has value %v), want %q", st.src, res.Value, res.HasValue, st.value)
		}
	}
}

func TestPrinting(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: "1 + 1", value: "2"},
		{src: "x := 41", value: noValue},
		{src: "x + 1", value: "42"},
		{src: "x = 40", value: noValue},
		{src: "x++", value: noValue},
		{src: "for i := 0; i < 3; i++ { x += 0 }", value: noValue},
		{src: `"hi" + "!"`, value: `"hi!"`},
		{src: "`a\nb`", value: `"a\nb"`},
		{src: "1.5", value: "1.5"},
		{src: "true && !false", value: "true"},
		{src: "'a'", value: "97"},
		{src: "uint8(200)", value: "200"},
		{src: "nil", value: "nil"},
		{src: "[]int{1, 2}", value: "[]int{1, 2}"},
		{src: "[]int(nil)", value: "[]int(nil)"},
		{src: "[2]bool{}", value: "[2]bool{false, false}"},
		{src: `map[string]int{"b": 2, "a": 1}`, value: `map[string]int{"a":1, "b":2}`},
		{src: `[]byte("hi")`, value: `[]byte("hi")`},
		{src: `[]interface{}{1, "a", nil}`, value: `[]interface{}{1, "a", nil}`},
		{src: "type Point struct{ X, Y int }", value: noValue},
		{src: "p := Point{1, 2}", value: noValue},
		{src: "p", value: "Point{X:1, Y:2}"},
		{src: "&p", value: "&Point{X:1, Y:2}"},
		{src: "[]Point{p, {3, 4}}", value: "[]Point{{X:1, Y:2}, {X:3, Y:4}}"},
		{src: "map[string]*Point{\"p\": &p}", value: "map[string]*Point{\"p\":&Point{X:1, Y:2}}"},
		{src: "type secret struct{ name string; n int }", value: noValue},
		{src: `secret{"s", 1}`, value: `secret{name:"s", n:1}`},
		{src: "struct{ A int }{7}", value: "struct { A int }{A:7}"},
		{src: "type Celsius float64", value: noValue},
		{src: "Celsius(21.5)", value: "Celsius(21.5)"},
		{src: "func twice(n int) int { return 2 * n }", value: noValue},
		{src: "twice(21)", value: "42"},
		{src: "func nothing() {}", value: noValue},
		{src: "nothing()", value: noValue},
		{src: "func divmod(a, b int) (int, int) { return a / b, a % b }", value: noValue},
		{src: "divmod(7, 2)", value: "(3, 1)"},
		{src: "func() int { return 5 }()", value: "5"},
		{src: `import "strconv"`, value: noValue},
		{src: `strconv.Atoi("3")`, value: "(3, nil)"},
		{src: `strconv.Atoi("x")`, value: `(0, errors.New("strconv.Atoi: parsing \"x\": invalid syntax"))`},
		{src: `import "errors"`, value: noValue},
		{src: `errors.New("bad")`, value: `errors.New("bad")`},
		{src: "var err error", value: noValue},
		{src: "err", value: "nil"},
		{src: "var ptr *Point", value: noValue},
		{src: "ptr", value: "nil"},
		{src: "type myErr struct{}", value: noValue},
		{src: `func (myErr) Error() string { return "mine" }`, value: noValue},
		{src: "myErr{}", value: `errors.New("mine")`},
		{src: `import "time"`, value: noValue},
		{src: "time.Second", value: "1s"},
		{src: "90 * time.Minute", value: "1h30m0s"},
		{src: "time.March", value: "March"},
		{src: `import "image"`, value: noValue},
		{src: "image.Pt(1, 2)", value: "(1,2)"}, // a Stringer
		{src: "image.Rectangle{}.Min.X", value: "0"},
		{src: `import "fmt"`, value: noValue},
		{src: `fmt.Println("printed")`, value: noValue},
		{src: `fmt.Sprint("s")`, value: `"s"`},
		{src: "make(chan int) != nil", value: "true"},
		{src: "type Node struct{ V int; Next *Node }", value: noValue},
		{src: "n := &Node{V: 1}", value: noValue},
		{src: "n.Next = n", value: noValue},
		{src: "*n", value: "Node{V:1, Next:&Node{V:1, Next:(*Node)(0x"}, // prefix
		{src: "type Shape interface{ Area() float64 }", value: noValue},
		{src: "type Square struct{ Side float64 }", value: noValue},
		{src: "func (s Square) Area() float64 { return s.Side * s.Side }", value: noValue},
		{src: "[]Shape{Square{2}}", value: "[]Shape{Square{Side:2}}"},
		{src: "var sh Shape = Square{3}", value: noValue},
		{src: "sh", value: "Square{Side:3}"},
	})
}

func TestIncomplete(t *testing.T) {
	ns := newTestNS(t, false)
	for _, tc := range []struct {
		src        string
		incomplete bool
	}{
		{"func f() {", true},
		{"func f() {\nreturn", true},
		{"fmt.Println(1,", true},
		{"x := []int{1,", true},
		{"x := []int{\n1, 2,\n", true},
		{"s := `raw", true},
		{"s := `raw\nstring", true},
		{"if true {", true},
		{"for {", true},
		{"type T struct {", true},
		{"import (", true},
		{"func() {", true},
		{"/* a comment", true},
		{"x := (1 +", true},
		{"}", false},
		{"x := )", false},
		{`"unterminated`, false},
		{"1 +* 2", false},
		{"func f() {}\n}", false},
		{"x := []int{1, 2}", false},
	} {
		_, err := ns.eval(t, tc.src)
		if got := errors.Is(err, ErrIncomplete); got != tc.incomplete {
			t.Errorf("%q: error %v; incomplete %v, want %v", tc.src, err, got, tc.incomplete)
		}
	}
	// The REPL accumulates lines and evaluates the whole again.
	src := ""
	for _, line := range []string{"func add(a, b int) int {", "return a + b", "}"} {
		src += line + "\n"
		_, err := ns.eval(t, src)
		if line != "}" && !errors.Is(err, ErrIncomplete) {
			t.Fatalf("%q: %v, want ErrIncomplete", src, err)
		}
		if line == "}" && err != nil {
			t.Fatalf("%q: %v", src, err)
		}
	}
	if res := ns.mustEval(t, "add(2, 3)"); res.Value != "5" {
		t.Errorf("add(2, 3) = %q", res.Value)
	}
}

func TestErrors(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: "undefinedThing", err: "1:1: undefined: undefinedThing"},
		{src: "\n\nundefinedThing", err: "3:1: undefined: undefinedThing"},
		{src: "1 + )", err: "1:5: expected operand"},
		{src: `"a" + 1`, err: "mismatched types"},
		{src: `panic("boom")`, err: "panic: boom"},
		{src: "func fail() { panic(fmt.Errorf(\"wrapped %d\", 3)) }", err: `fmt is not imported (type import "fmt")`},
		{src: `import "fmt"`, value: noValue},
		{src: "func fail() { panic(fmt.Errorf(\"wrapped %d\", 3)) }", value: noValue},
		{src: "fail()", err: "panic: wrapped 3"},
		{src: "var m map[string]int", value: noValue},
		{src: `m["a"] = 1`, err: "panic: assignment to entry in nil map"},
		{src: "[]int{}[3]", err: "index out of range"},
		{src: `import "os"`, value: noValue},
		{src: "os.Exit(1)", err: "os.Exit(1)"},
		{src: `import "log"`, value: noValue},
		{src: `log.Fatal("no")`, err: "panic: no"},
		{src: `import "os/exec"`, err: "not available in restricted mode"},
		{src: `import "syscall"`, err: "not available in restricted mode"},
		{src: `import "unsafe"`, err: "not available in restricted mode"},
		{src: `import "example.com/nothere"`, err: `import "example.com/nothere": unknown package`},
		{src: `import "github.com/traefik/yaegi/stdlib"`, err: "unknown package"},
		{src: `import "translucent/rt"`, err: "unknown package"},
		{src: "__tr_rt.Value(1)", err: "reserved"},
		{src: "defer println()", err: "defer outside a function"},
		{src: "package main", err: "package clause"},
		{src: "1 << 70", err: "overflows"},
		{src: "1 + 1", value: "2"}, // still working
	})
}

func TestUnrestricted(t *testing.T) {
	ns := newTestNS(t, true)
	runSteps(t, ns, []step{
		{src: `import "os/exec"`, value: noValue},
		{src: `exec.ErrNotFound`, value: `errors.New("executable file not found in $PATH")`},
		{src: `import "os"`, value: noValue},
		{src: `os.Getenv("PATH") == ""`, value: strconv.FormatBool(os.Getenv("PATH") == "")},
		{src: `import "unsafe"`, value: noValue},
		{src: `unsafe.Sizeof(int64(0))`, value: "8"},
	})
	restricted := newTestNS(t, false)
	runSteps(t, restricted, []step{
		{src: `import "os"`, value: noValue},
		{src: `os.Getenv("PATH")`, value: `""`},
		{src: `os.Setenv("A", "1")`, value: "nil"},
		{src: `os.Getenv("A")`, value: `"1"`},
		{src: `import "flag"`, value: noValue},
		{src: `v := flag.Bool("namespace-test-flag", true, "")`, value: noValue},
		{src: `flag.Lookup("namespace-test-flag") != nil`, value: "true"},
		{src: `import "log"`, value: noValue},
		{src: `log.Default().Fatal("not the host's")`, err: "panic: not the host's"},
	})
	if os.Getenv("A") == "1" {
		t.Error("restricted os.Setenv changed the process environment")
	}
	if flag.Lookup("namespace-test-flag") != nil {
		t.Error("evaluated flag.Bool defined a flag of the process")
	}
	restricted.stderr.waitFor(t, "not the host's\n")
}

func TestSysAndOutput(t *testing.T) {
	ns := newTestNS(t, false)
	runSteps(t, ns, []step{
		{src: `import "sys"`, value: noValue},
		{src: "sys.Version", value: strconv.Quote(testVersion)},
		{src: `import "os"`, value: noValue},
		{src: "os.Getpid()", value: strconv.Itoa(os.Getpid())},
		{src: `import "fmt"`, value: noValue},
		{src: `fmt.Println("to stdout")`, value: noValue},
		{src: `fmt.Printf("%d-%s\n", 1, "f")`, value: noValue},
		{src: `os.Stdout.WriteString("via os.Stdout\n")`, value: "(14, nil)"},
		{src: `fmt.Fprintln(os.Stdout, "via Fprintln")`, value: noValue},
		{src: `fmt.Fprintln(os.Stderr, "to stderr")`, value: noValue},
		{src: `import "log"`, value: noValue},
		{src: `log.SetFlags(0)`, value: noValue},
		{src: `log.Print("logged")`, value: noValue},
		{src: "type W struct{}", value: noValue},
		{src: `func (W) Write(p []byte) (int, error) { return fmt.Print("W:", string(p)) }`, value: noValue},
		{src: `fmt.Fprintln(W{}, "interpreted writer")`, value: noValue},
		{src: "var n int", value: noValue},
		{src: "fmt.Scan(&n)", value: `(0, errors.New("EOF"))`}, // stdin is empty, not the server's
	})
	for _, want := range []string{"to stdout\n", "1-f\n", "via os.Stdout\n", "via Fprintln\n", "W:interpreted writer\n"} {
		if !strings.Contains(ns.stdout.String(), want) {
			t.Errorf("stdout %q lacks %q", ns.stdout.String(), want)
		}
	}
	for _, want := range []string{"to stderr\n", "logged\n"} {
		if !strings.Contains(ns.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", ns.stderr.String(), want)
		}
	}
}

func TestGoroutinePanic(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, `go func() { panic("in a literal") }()`)
	ns.stderr.waitFor(t, "panic in goroutine: in a literal\n")

	ns.mustEval(t, "func boom(n int) { panic(n) }")
	ns.mustEval(t, "go boom(7)")
	ns.stderr.waitFor(t, "panic in goroutine: 7\n")

	// A go statement inside a declared function.
	ns.mustEval(t, "func starter(n int) { go boom(n) }")
	ns.mustEval(t, "starter(8)")
	ns.stderr.waitFor(t, "panic in goroutine: 8\n")

	// Nested, and inside a loop, and a native function.
	ns.mustEval(t, `go func() { go func() { panic("nested") }() }()`)
	ns.stderr.waitFor(t, "panic in goroutine: nested\n")
	ns.mustEval(t, "for i := 10; i < 12; i++ { go boom(i) }")
	ns.stderr.waitFor(t, "panic in goroutine: 10\n")
	ns.stderr.waitFor(t, "panic in goroutine: 11\n")
	ns.mustEval(t, "var ch chan int")
	ns.mustEval(t, "go close(ch)")
	ns.stderr.waitFor(t, "panic in goroutine: close of nil channel\n")
	ns.mustEval(t, `import "time"`)
	ns.mustEval(t, `time.AfterFunc(0, func() { panic("in AfterFunc") })`)
	ns.stderr.waitFor(t, "panic in goroutine: in AfterFunc\n")

	// The journal keeps the source as typed.
	j := ns.Journal()
	if last := j[len(j)-2]; last != "func starter(n int) { go boom(n) }" {
		t.Errorf("journal has %q", last)
	}
	if res := ns.mustEval(t, "1 + 1"); res.Value != "2" {
		t.Errorf("after goroutine panics: 1 + 1 = %q", res.Value)
	}
}

func TestGoEvaluatesArgumentsAtOnce(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, "func send(c chan int, v int) { c <- v }")
	ns.mustEval(t, "ch := make(chan int, 10)")
	ns.mustEval(t, "v := 1")
	ns.mustEval(t, "go send(ch, v); v = 2")
	if res := ns.mustEval(t, "<-ch"); res.Value != "1" {
		t.Errorf("go send(ch, v); v = 2 sent %s", res.Value)
	}
	// The loop variable is read at each go statement (yaegi shares it
	// between iterations).
	ns.mustEval(t, "for i := 0; i < 3; i++ { go send(ch, i*i) }")
	if res := ns.mustEval(t, "<-ch + <-ch + <-ch"); res.Value != "5" {
		t.Errorf("sum of squares sent = %s, want 5", res.Value)
	}
	// Untyped constants stay untyped.
	ns.mustEval(t, "func half(c chan float64, f float32) { c <- float64(f) / 2 }")
	ns.mustEval(t, "const one = 1")
	ns.mustEval(t, "fc := make(chan float64, 1)")
	ns.mustEval(t, "go half(fc, one)")
	if res := ns.mustEval(t, "<-fc"); res.Value != "0.5" {
		t.Errorf("half(one) = %s", res.Value)
	}
	// A method's receiver is evaluated on the goroutine. The goroutine
	// touches no global: yaegi's goroutines race with later evaluations,
	// which grow the global frame (see doc.go).
	ns.mustEval(t, `import "sync"`)
	ns.mustEval(t, "func waitOne() bool { var wg sync.WaitGroup; wg.Add(1); go wg.Done(); wg.Wait(); return true }")
	if res := ns.mustEval(t, "waitOne()"); res.Value != "true" {
		t.Errorf("go wg.Done(): %s", res.Value)
	}
}

func TestInterrupt(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, "x := 1")
	ns.mustEval(t, "ch := make(chan int)")
	ns.mustEval(t, "func spin() { for {} }")
	for _, src := range []string{"for {}", "<-ch", "select {}", "spin()", "for { x++ }"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := ns.Eval(ctx, src)
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("%s: %v, want ErrInterrupted", src, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: interrupted after %v", src, d)
		}
		ns.mustEval(t, "x = 1")
		if res := ns.mustEval(t, "x + 1"); res.Value != "2" {
			t.Errorf("after interrupting %s: x + 1 = %q", src, res.Value)
		}
	}
}

func TestInterruptBlockedNativeCall(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, `import "time"`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := ns.Eval(ctx, "time.Sleep(2 * time.Second)"); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("time.Sleep: %v, want ErrInterrupted", err)
	}
	// Until the sleep returns, the namespace is busy, then it works again.
	_, err := ns.eval(t, "1")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("during the sleep: %v, want ErrBusy", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for errors.Is(err, ErrBusy) && time.Now().Before(deadline) {
		_, err = ns.eval(t, "1")
	}
	if err != nil {
		t.Fatalf("after the sleep: %v", err)
	}
	if vars := ns.Vars(); len(vars) != 0 {
		t.Errorf("Vars() = %v", vars)
	}
}

func TestClose(t *testing.T) {
	baseline := runtime.NumGoroutine()
	ns := newTestNS(t, false)
	ns.mustEval(t, `import "fmt"`)
	ns.mustEval(t, "func chatter() { for { fmt.Print(\"\") } }")
	ns.mustEval(t, "go chatter()")

	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := ns.Eval(context.Background(), "for {}")
		errc <- err
	}()
	<-started
	ns.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Eval during Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Eval did not return after Close")
	}
	if _, err := ns.Eval(context.Background(), "1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Eval after Close: %v, want ErrClosed", err)
	}
	ns.Close() // again
	if n, err := ns.stdout.Write(nil); n != 0 || err != nil {
		t.Errorf("test buffer broken: %v", err)
	}
	if _, err := fmt.Fprint(ns.Namespace.stdout, "late"); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}

	// The goroutine evaluated code started is gone, and so are the
	// namespace's.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines after Close, %d before New", n, baseline)
	}
}

func TestNamespacesAreIndependent(t *testing.T) {
	a, b := newTestNS(t, false), newTestNS(t, false)
	a.mustEval(t, "x := 41")
	if _, err := b.eval(t, "x"); err == nil || !strings.Contains(err.Error(), "undefined: x") {
		t.Errorf("b sees a's x: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for n := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := New(Options{})
			defer ns.Close()
			ctx := context.Background()
			if _, err := ns.Eval(ctx, fmt.Sprintf("x := %d", n)); err != nil {
				errs <- err
				return
			}
			for range 20 {
				if _, err := ns.Eval(ctx, "x = x + 1"); err != nil {
					errs <- err
					return
				}
			}
			res, err := ns.Eval(ctx, "x")
			if err != nil || res.Value != strconv.Itoa(n+20) {
				errs <- fmt.Errorf("namespace %d: x = %q, %v", n, res.Value, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestVarsImportsJournal(t *testing.T) {
	ns := newTestNS(t, false)
	for _, src := range []string{
		`import "sys"`,
		"import (\n\t\"os\"\n\tstr \"strings\"\n)",
		`import "fmt"`,
		`import "os"`,
		"import (\n\t\"os\"\n\t\"math\"\n)",
		"type Point struct{ X, Y int }",
		"p := Point{1, 2}",
		"ps := []*Point{&p}",
		"var count int",
		"var named, other = \"n\", 2.5",
		"const Max = 10",
		"func add(a, b int) int { return a + b }",
		"var total = add(1, 2)\nfunc sub(a, b int) int { return a - b }",
		"s := str.ToUpper(\"x\")",
		"var e error",
		"func broken() { undefinedThing() }",
	} {
		ns.eval(t, src)
	}
	wantImports := []string{"sys", "os", "strings", "fmt", "math"}
	if got := ns.Imports(); fmt.Sprint(got) != fmt.Sprint(wantImports) {
		t.Errorf("Imports() = %q, want %q", got, wantImports)
	}
	wantJournal := []string{
		`import "sys"`,
		"import (\n\t\"os\"\n\tstr \"strings\"\n)",
		`import "fmt"`,
		"import (\n\t    \n\t\"math\"\n)",
		"type Point struct{ X, Y int }",
		"const Max = 10",
		"func add(a, b int) int { return a + b }",
		"func sub(a, b int) int { return a - b }",
	}
	if got := ns.Journal(); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", wantJournal) {
		t.Errorf("Journal() =\n%q\nwant\n%q", got, wantJournal)
	}
	wantVars := []Var{
		{"count", "int"}, {"e", "error"}, {"named", "string"}, {"other", "float64"},
		{"p", "Point"}, {"ps", "[]*Point"}, {"s", "string"}, {"total", "int"},
	}
	if got := ns.Vars(); fmt.Sprint(got) != fmt.Sprint(wantVars) {
		t.Errorf("Vars() = %v, want %v", got, wantVars)
	}

	// The journal replays into a namespace that declares the same.
	replay := newTestNS(t, false)
	for _, src := range ns.Journal() {
		replay.mustEval(t, src)
	}
	if res := replay.mustEval(t, "add(Max, sub(3, 1))"); res.Value != "12" {
		t.Errorf("replayed add(Max, sub(3, 1)) = %q", res.Value)
	}
	if got := replay.Imports(); fmt.Sprint(got) != fmt.Sprint(wantImports) {
		t.Errorf("replayed Imports() = %q", got)
	}
}

func TestLazySymbols(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, "1 + 1")
	if ns.loaded["strings"] || ns.loaded["net/http"] {
		t.Errorf("packages loaded before import: %v", ns.loaded)
	}
	ns.mustEval(t, `import "strings"`)
	if !ns.loaded["strings"] {
		t.Error("strings not loaded by its import")
	}
	// Generic packages compile on import.
	runSteps(t, ns, []step{
		{src: `import "slices"`, value: noValue},
		{src: "slices.Index([]int{3, 9, 2}, 9)", value: "1"},
		{src: `import "cmp"`, value: noValue},
		{src: "cmp.Compare(1, 2)", value: "-1"},
	})
}

// TestEvalWaitsForASnapshot: the token held longer than busyWait by
// something other than an interrupted evaluation (a migration's live
// snapshot on a loaded server) delays an evaluation but does not fail it.
func TestEvalWaitsForASnapshot(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, "x := 41")
	if err := ns.acquire(context.Background(), false); err != nil { // as Snapshot does
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { // ends with the evaluation
		_, err := ns.eval(t, "x + 1")
		done <- err
	}()
	select {
	case err := <-done:
		ns.release()
		t.Fatalf("Eval returned %v while the token was held", err)
	case <-time.After(3 * busyWait):
	}
	ns.release()
	if err := <-done; err != nil {
		t.Errorf("Eval after the snapshot: %v", err)
	}
}

// TestSnapshotSkipsARunningEvaluation: a live snapshot does not wait for
// an evaluation that may never end (a migration's precopy would hang); it
// reports the namespace busy instead.
func TestSnapshotSkipsARunningEvaluation(t *testing.T) {
	ns := newTestNS(t, false)
	ns.mustEval(t, "x := 1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { // ends when cancel interrupts the loop
		_, err := ns.Eval(ctx, "for {}")
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for running := false; !running; {
		ns.mu.Lock()
		running = ns.ended != nil
		ns.mu.Unlock()
		if !running && time.Now().After(deadline) {
			t.Fatal("the loop never started")
		}
		runtime.Gosched()
	}
	if _, _, err := ns.Snapshot(); !errors.Is(err, ErrBusy) {
		t.Errorf("Snapshot during for {}: %v, want ErrBusy", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Errorf("for {}: %v, want ErrInterrupted", err)
	}
}

// waitSettled waits until ns says it is settled, and returns its revision.
func waitSettled(t *testing.T, ns testNS, why string) uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rev, settled := ns.Revision()
		if settled {
			return rev
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never settled", why)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRevision: every evaluation changes the revision, and the namespace
// is settled only while no code of its own can run in the background.
func TestRevision(t *testing.T) {
	ns := newTestNS(t, false)
	rev := waitSettled(t, ns, "a new namespace")
	next := func(src string) {
		t.Helper()
		ns.mustEval(t, src)
		if r := waitSettled(t, ns, src); r == rev {
			t.Errorf("%s: revision still %d", src, r)
		} else {
			rev = r
		}
	}
	next("x := 1")
	next("x + 1") // changes nothing, but it is an evaluation: not looked into
	next(`import "context"`)

	unsettled := func(why string) {
		t.Helper()
		if _, settled := ns.Revision(); settled {
			t.Errorf("%s: settled", why)
		}
	}
	ns.mustEval(t, "ch := make(chan int)")
	// Code of these goroutines and callbacks touches no global: yaegi's
	// evaluations race with goroutines that do (see doc.go).
	ns.mustEval(t, "go func() { <-ch }()")
	unsettled("a goroutine waits on ch")
	next("close(ch)") // the goroutine ends
	ns.mustEval(t, `go panic("boom")`)
	ns.stderr.waitFor(t, "panic in goroutine: boom\n")
	waitSettled(t, ns, "after a goroutine's panic")
	ns.mustEval(t, "func later(n int) { go func() { _ = n * 2 }() }")
	ns.mustEval(t, "later(3)")
	waitSettled(t, ns, "a goroutine of a declared function")

	// A goroutine that would run forever, stopped by an interruption.
	ns.mustEval(t, "go func() { for {} }()")
	unsettled("a goroutine spins")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := ns.Eval(ctx, "select {}"); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("select {}: %v", err)
	}
	cancel()
	waitSettled(t, ns, "an interruption stopped every goroutine")

	ns.mustEval(t, "ctx, cancel := context.WithCancel(context.Background())")
	ns.mustEval(t, "stop := context.AfterFunc(ctx, func() {})")
	unsettled("a context.AfterFunc callback is pending")
	ns.mustEval(t, "stop()")
	waitSettled(t, ns, "the callback was stopped")
	ns.mustEval(t, "context.AfterFunc(ctx, func() {})")
	unsettled("a context.AfterFunc callback is pending")
	ns.mustEval(t, "cancel()")
	waitSettled(t, ns, "the callback ran")

	// Drop changes what a snapshot holds.
	rev, _ = ns.Revision()
	if err := ns.Drop("x"); err != nil {
		t.Fatal(err)
	}
	if r, _ := ns.Revision(); r == rev {
		t.Error("Drop left the revision unchanged")
	}

	// A timer can fire again after a Reset: never settled after one.
	ns.mustEval(t, `import "time"`)
	ns.mustEval(t, "time.AfterFunc(0, func() {})")
	time.Sleep(10 * time.Millisecond) // the timer has fired or not: either way
	unsettled("after time.AfterFunc")
}
