package namespace

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseChunk(t *testing.T) {
	for _, tc := range []struct {
		src      string
		decl     bool
		expr     string // the expression, if the chunk is one
		hasGo    bool
		imports  string
		journal  string
		declared string // sorted name=kind
	}{
		{src: "1 + 1", expr: "1 + 1"},
		{src: "  x // the x\n", expr: "x"},
		{src: "x := 1", declared: "x=var"},
		{src: "x, _ := f()", declared: "x=var"},
		{src: "panic(1)"},
		{src: "f()", expr: "f()"},
		{src: "func() int { return 1 }()", expr: "func() int { return 1 }()"},
		{src: "go f()", hasGo: true},
		{src: `import "fmt"`, decl: true, imports: "fmt", journal: `import "fmt"`},
		{src: "import (\n\tf \"fmt\"\n\t\"os\"\n)", decl: true, imports: "f=fmt os", journal: "import (\n\tf \"fmt\"\n\t\"os\"\n)"},
		{src: "var a, b = 1, 2", decl: true, declared: "a=var b=var"},
		{src: "var a = 1\nfunc f() { go g() }\nconst c = 2", decl: true, hasGo: true,
			journal: "func f() { go g() }\nconst c = 2", declared: "a=var c=const f=func"},
		{src: "type T struct{ a, B int }\nfunc (T) M() {}", decl: true,
			journal: "type T struct{ a, B int }\nfunc (T) M() {}", declared: "T=type"},
	} {
		c, err := parseChunk(tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		expr := ""
		if c.expr != nil {
			expr = c.text(c.expr)
		}
		var imports, declared []string
		for _, imp := range c.imports {
			if imp.name != "" {
				imports = append(imports, imp.name+"="+imp.path)
			} else {
				imports = append(imports, imp.path)
			}
		}
		for name, kind := range c.declared {
			declared = append(declared, name+"="+kind)
		}
		slices.Sort(declared)
		if c.decl != tc.decl || expr != tc.expr || c.hasGo != tc.hasGo || strings.Join(imports, " ") != tc.imports ||
			c.journal != tc.journal || strings.Join(declared, " ") != tc.declared {
			t.Errorf("%q: decl %v expr %q go %v imports %q journal %q declared %q", tc.src,
				c.decl, expr, c.hasGo, imports, c.journal, declared)
		}
	}
}

func TestParseChunkErrors(t *testing.T) {
	for _, tc := range []struct{ src, err string }{
		{"x := )", "1:6: expected operand"},
		{"\n\n  x := )", "3:8: expected operand"},
		{"}", "expected"},
		{"__tr_rt.Value(1)", "reserved"},
		{"if true { defer f() }", "1:11: defer outside a function"},
		{"package p", "package clause"},
	} {
		_, err := parseChunk(tc.src)
		if err == nil || errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.src, err, tc.err)
		}
	}
	if _, err := parseChunk("func f() { defer g() }"); err != nil {
		t.Errorf("defer inside a function: %v", err)
	}
}

func TestRewriteGo(t *testing.T) {
	sc := scope{
		kinds: map[string]string{"declared": "func", "fv": "var", "K": "const"},
		pkgs:  map[string]string{"time": "time", "math": "math"},
		isConst: func(path, name string) bool {
			return path == "math" && name == "Pi"
		},
	}
	const guard = goStart + "go func() { " + goEnd + recoverGuard
	for _, tc := range []struct{ src, want, late string }{
		{
			src:  "go declared(x, 1, K, nil, -2*K, math.Pi)",
			want: "func() { __tr_a0 := x; " + guard + "declared(__tr_a0, 1, K, nil, -2*K, math.Pi) }(); }()",
			late: "func() { " + guard + "declared(x, 1, K, nil, -2*K, math.Pi) }(); }()",
		},
		{
			src:  "go fv(a, xs...)",
			want: "func() { __tr_a0, __tr_a1, __tr_a2 := fv, a, xs; " + guard + "__tr_a0(__tr_a1, __tr_a2...) }(); }()",
		},
		{
			src:  "go func(n int) { go declared() }(i)",
			want: "func() { __tr_a0 := i; " + guard + "func(n int) { func() { " + guard + "declared() }(); }() }(__tr_a0) }(); }()",
		},
		{
			src:  "go obj.Method(<-ch)",
			want: "func() { __tr_a0 := <-ch; " + guard + "obj.Method(__tr_a0) }(); }()",
		},
		{
			src:  "go close(ch)",
			want: "func() { __tr_a0 := ch; " + guard + "close(__tr_a0) }(); }()",
		},
		{
			// Lines after a multi-line go statement stay on their line.
			src:  "go declared(1,\n2)\nx := 1",
			want: "func() { " + guard + "declared(1, 2) }(); }()\n\nx := 1",
		},
	} {
		c, err := parseChunk(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if got := newGoRewriter(c, sc, false).render(0, len(c.src)); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.src, got, tc.want)
		}
		if tc.late == "" {
			continue
		}
		if got := newGoRewriter(c, sc, true).render(0, len(c.src)); got != tc.late {
			t.Errorf("%q, late:\n got %q\nwant %q", tc.src, got, tc.late)
		}
	}
}
