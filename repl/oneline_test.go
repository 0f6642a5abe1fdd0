package repl

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	tests := []struct {
		name, src, want string
		ok              bool
	}{
		{"func", "func add(a, b int) int {\n\treturn a + b\n}\n", "func add(a, b int) int { return a + b; }", true},
		{"struct", "type P struct {\n  X int\n  Y int\n}\n", "type P struct { X int; Y int; }", true},
		{"call with trailing commas", "f(\n\t1,\n\t2,\n)\n", "f( 1, 2, )", true},
		{"for", "for i := 0; i < 3; i++ {\n    x += i\n}\n", "for i := 0; i < 3; i++ { x += i; }", true},
		{"if else", "if x {\n\ty()\n} else {\n\tz()\n}\n", "if x { y(); } else { z(); }", true},
		{"line comment", "x := []int{\n\t1, // one\n\t2,\n}\n", "x := []int{ 1, /* one */ 2, }", true},
		{"line comment after a statement", "{\n\tx := 1 // one\n\t_ = x\n}\n", "{ x := 1 /* one */; _ = x; }", true},
		{"line comment that cannot be a general one", "{\n\ta() // */\n}\n", "{ a(); }", true},
		{"general comment over lines", "x := 1 /* a\nb */ + 2\n", "x := 1 /* a b */; + 2", true},
		{"raw string over lines", "s := `a\n\"b\"`\n", `s := "a\n\"b\""`, true},
		{"raw string on one line kept", "s := `a` +\n`b`\n", "s := `a` + `b`", true},
		{"unterminated", "s := \"abc\n", "", false},
		{"too long", "x := []int{\n" + strings.Repeat("1,\n", maxCharLine) + "}\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := oneLine(tt.src)
			if got != tt.want || ok != tt.ok {
				t.Errorf("oneLine(%q) = %q, %v; want %q, %v", tt.src, got, ok, tt.want, tt.ok)
			}
		})
	}
}
