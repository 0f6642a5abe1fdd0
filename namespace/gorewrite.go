package namespace

import (
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strings"
)

// A panic on a goroutine that interpreted code started is re-raised by
// yaegi on a bare goroutine (interp/run.go: `go runCfg(...)`, and callBin
// for native functions), which ends the process. So before a chunk is
// compiled every go statement in it,
//
//	go F(A, B)
//
// becomes, on the same line,
//
//	func() { __tr_a0, __tr_a1 := F, A; __tr_rt.Go(); go func() { defer __tr_rt.Done(); defer <recover and report>; __tr_a0(__tr_a1, B) }(); }()
//
// which evaluates the function value and the arguments at the go statement,
// as Go does, runs the call under an interpreted recover, and counts the
// goroutine while it runs (see Namespace.Revision). What is left in
// place is what evaluates the same later: constants, function literals,
// declared functions and builtins, package-qualified functions and, because
// yaegi binds method values of native types to a copy of the receiver,
// method selectors (their receiver is evaluated on the new goroutine).
//
// Where capturing fails to compile (an argument is a call returning several
// values, say), the late form evaluates everything on the new goroutine.

const (
	rtName = reservedPrefix + "rt"
	// goCount tells the namespace that a goroutine of its code runs, until
	// it ends (Revision: the namespace may change without an evaluation).
	goStart      = rtName + ".Go(); "
	goEnd        = "defer " + rtName + ".Done(); "
	recoverGuard = "defer func() { if " + reservedPrefix + "r := recover(); " + reservedPrefix + "r != nil { " + rtName + ".Recovered(" + reservedPrefix + "r) } }(); "
)

// builtinFuncs are Go's predeclared functions.
var builtinFuncs = map[string]bool{
	"append": true, "cap": true, "clear": true, "close": true, "complex": true, "copy": true,
	"delete": true, "imag": true, "len": true, "make": true, "max": true, "min": true,
	"new": true, "panic": true, "print": true, "println": true, "real": true, "recover": true,
}

// A scope tells the rewriter what names of the session and chunk denote.
type scope struct {
	kinds   map[string]string            // top-level name → "var", "const", "type" or "func"
	pkgs    map[string]string            // package name in scope → import path
	isConst func(path, name string) bool // whether a package's symbol is an untyped constant
}

type goRewriter struct {
	c    *chunk
	sc   scope
	late bool
	gos  []*ast.GoStmt // in source order
}

// newGoRewriter returns a rewriter of c's go statements: capturing their
// values, or (late) not.
func newGoRewriter(c *chunk, sc scope, late bool) *goRewriter {
	r := &goRewriter{c: c, sc: sc, late: late}
	ast.Inspect(c.file, func(n ast.Node) bool {
		if g, ok := n.(*ast.GoStmt); ok {
			r.gos = append(r.gos, g)
		}
		return true
	})
	sort.Slice(r.gos, func(i, j int) bool { return r.gos[i].Pos() < r.gos[j].Pos() })
	return r
}

// render returns the source between offsets start and end with the go
// statements in it rewritten.
func (r *goRewriter) render(start, end int) string {
	var b strings.Builder
	pos := start
	for _, g := range r.gos {
		gs, ge := r.c.offset(g.Pos()), r.c.offset(g.End())
		if gs < pos || ge > end {
			continue // before, inside one already rewritten, or after
		}
		b.WriteString(r.c.src[pos:gs])
		b.WriteString(r.goStmt(g))
		pos = ge
	}
	b.WriteString(r.c.src[pos:end])
	return b.String()
}

func (r *goRewriter) text(n ast.Node) string {
	return r.render(r.c.offset(n.Pos()), r.c.offset(n.End()))
}

func (r *goRewriter) goStmt(g *ast.GoStmt) string {
	var names, values []string
	capture := func(e ast.Expr) string {
		name := fmt.Sprintf("%sa%d", reservedPrefix, len(names))
		names = append(names, name)
		values = append(values, r.text(e))
		return name
	}
	call := g.Call
	fn := r.text(call.Fun)
	if !r.late && !r.evaluatesSameLater(call.Fun) {
		fn = capture(call.Fun)
	}
	args := make([]string, len(call.Args))
	for i, a := range call.Args {
		args[i] = r.text(a)
		if !r.late && !r.isConst(a) {
			args[i] = capture(a)
		}
	}
	dots := ""
	if call.Ellipsis.IsValid() {
		dots = "..."
	}
	out := goStart + "go func() { " + goEnd + recoverGuard + fn + "(" + strings.Join(args, ", ") + dots + ") }(); "
	if len(names) > 0 {
		out = strings.Join(names, ", ") + " := " + strings.Join(values, ", ") + "; " + out
	}
	// Always inside a function literal: yaegi restores a literal's slot in
	// its enclosing frame when a call of it returns, which for a literal at
	// top level means the global frame, written by the goroutine while a
	// later evaluation uses it.
	out = "func() { " + out + "}()"
	// Keep the lines after it where they were, for error positions.
	orig := r.c.src[r.c.offset(g.Pos()):r.c.offset(g.End())]
	if n := strings.Count(orig, "\n") - strings.Count(out, "\n"); n > 0 {
		out += strings.Repeat("\n", n)
	}
	return out
}

// evaluatesSameLater reports whether evaluating the function expression fun
// on the new goroutine gives what evaluating it now would.
func (r *goRewriter) evaluatesSameLater(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.ParenExpr:
		return r.evaluatesSameLater(f.X)
	case *ast.FuncLit, *ast.SelectorExpr:
		return true
	case *ast.IndexExpr: // an instantiation f[T]
		return r.evaluatesSameLater(f.X)
	case *ast.IndexListExpr:
		return r.evaluatesSameLater(f.X)
	case *ast.Ident:
		kind := r.sc.kinds[f.Name]
		return kind == "func" || builtinFuncs[f.Name] && kind == ""
	}
	return false
}

// isConst reports whether e is made of constants only, so that it may stay
// untyped in place.
func (r *goRewriter) isConst(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		switch e.Name {
		case "nil", "true", "false", "iota":
			return r.sc.kinds[e.Name] == ""
		}
		return r.sc.kinds[e.Name] == "const" || r.c.consts[e.Name]
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			if path, ok := r.sc.pkgs[x.Name]; ok && r.sc.isConst != nil {
				return r.sc.isConst(path, e.Sel.Name)
			}
		}
	case *ast.ParenExpr:
		return r.isConst(e.X)
	case *ast.UnaryExpr:
		return e.Op != token.ARROW && e.Op != token.AND && r.isConst(e.X)
	case *ast.BinaryExpr:
		return r.isConst(e.X) && r.isConst(e.Y)
	}
	return false
}
