package namespace

import (
	"testing"
)

func TestSplitDecls(t *testing.T) {
	tests := []struct {
		src, decls, rest string
		ok               bool
	}{
		{`import "fmt"; fmt.Println(1)`, `import "fmt"`, `fmt.Println(1)`, true},
		{"type C float64; t := C(1)", "type C float64", "t := C(1)", true},
		{"type A int; type B int; x := A(1) + A(B(2))", "type A int; type B int", "x := A(1) + A(B(2))", true},
		{"func f() int { return 3 }; z := f()", "func f() int { return 3 }", "z := f()", true},
		{"const k = 2\nk * 3", "const k = 2", "k * 3", true},
		{`import "fmt"`, "", "", false},            // declarations only
		{"x := 1; type T int", "", "", false},      // statements first
		{"type T struct {; x := 1", "", "", false}, // broken, not mixed
		{"1 +", "", "", false},
	}
	for _, tt := range tests {
		decls, rest, ok := splitDecls(tt.src)
		if ok != tt.ok || decls != tt.decls || rest != tt.rest {
			t.Errorf("splitDecls(%q) = %q, %q, %v; want %q, %q, %v", tt.src, decls, rest, ok, tt.decls, tt.rest, tt.ok)
		}
	}
}

// TestEvalDeclarationsThenStatements: a line that declares and then runs
// works as the two lines it stands for; if its declarations fail, nothing
// after them runs.
func TestEvalDeclarationsThenStatements(t *testing.T) {
	runSteps(t, newTestNS(t, false), []step{
		{src: `import "strings"; strings.ToUpper("go")`, value: `"GO"`},
		{src: "type Celsius float64; t := Celsius(21.5)", value: noValue},
		{src: "t * 2", value: "Celsius(43)"},
		{src: "func twice(c Celsius) Celsius { return 2 * c }; twice(t)", value: "Celsius(43)"},
		{src: "type Bad undefined; bad := 1", err: "undefined"},
		{src: "bad", err: "undefined: bad"}, // the statements after a failed declaration did not run
	})
}

func TestSplitLastExpr(t *testing.T) {
	tests := []struct {
		src, stmts, last string
		ok               bool
	}{
		{"x := 1; x + 1", "x := 1", "x + 1", true},
		{"x++; x", "x++", "x", true},
		{"a, b := 1, 2; b; a + b;", "a, b := 1, 2; b", "a + b;", true},
		{"for i := 0; i < 3; i++ {\n\ttotal += i\n}\ntotal", "for i := 0; i < 3; i++ {\n\ttotal += i\n}", "total", true},
		{"x + 1", "", "", false},          // one expression: shown already
		{"x := 1; y := 2", "", "", false}, // no expression last
		{"fmt.Println(1)", "", "", false},
		{`import "fmt"`, "", "", false},
		{"func f() int { return 1 }", "", "", false},
	}
	for _, tt := range tests {
		c, err := parseChunk(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		stmts, last, ok := c.splitLastExpr()
		if ok != tt.ok || stmts != tt.stmts || last != tt.last {
			t.Errorf("splitLastExpr(%q) = %q, %q, %v; want %q, %q, %v", tt.src, stmts, last, ok, tt.stmts, tt.last, tt.ok)
		}
	}
}

// TestEvalStatementsThenExpression: a line of statements that ends with
// an expression shows the expression's value, as the two lines it stands
// for would; if the statements fail, the expression is not evaluated.
func TestEvalStatementsThenExpression(t *testing.T) {
	runSteps(t, newTestNS(t, false), []step{
		{src: "x := 1; x + 1", value: "2"},
		{src: "x++; x", value: "2"},
		{src: "total := 0; for i := 1; i <= 4; i++ { total += i }; total", value: "10"},
		{src: `import "strings"; s := strings.Repeat("ab", 2); len(s)`, value: "4"},
		{src: "x = 40; x + 2; x", value: "40"},
		{src: "y := undefinedName; x = 99; x", err: "undefined"},
		{src: "x", value: "40"}, // nothing after the failing statements ran
	})
}
