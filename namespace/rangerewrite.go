package namespace

import (
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// yaegi v0.16.1 predates Go 1.22's range over an integer: it fails with
// an internal error ("nil type"). So before a chunk is compiled a range
// statement over an integer,
//
//	L: for i := range N { BODY }
//
// becomes, on the same lines,
//
//	{ __tr_n0 := N; L: for i := __tr_n0 - __tr_n0; i < __tr_n0; i++ { BODY } }
//
// which evaluates N once and gives i N's type (int for a constant), as Go
// does. Which ranges are over integers is known only to the type checker;
// rewriteRanges takes those whose expression is integer by its form
// (literals, conversions to integer types, len and cap, arithmetic on
// them), or with all, every range but those over composite literals and
// strings: the second try after the first failed with yaegi's error.

// intConversions are the predeclared functions whose result is an integer.
var intConversions = map[string]bool{
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true, "rune": true, "byte": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"len": true, "cap": true,
}

// isIntExpr reports whether e is an integer by its form alone.
func isIntExpr(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.INT
	case *ast.ParenExpr:
		return isIntExpr(e.X)
	case *ast.UnaryExpr:
		return (e.Op == token.SUB || e.Op == token.ADD || e.Op == token.XOR) && isIntExpr(e.X)
	case *ast.BinaryExpr:
		switch e.Op {
		case token.SHL, token.SHR:
			return isIntExpr(e.X)
		case token.ADD, token.SUB, token.MUL, token.QUO, token.REM, token.AND, token.OR, token.XOR, token.AND_NOT:
			return isIntExpr(e.X) || isIntExpr(e.Y)
		}
	case *ast.CallExpr:
		id, ok := e.Fun.(*ast.Ident)
		return ok && intConversions[id.Name]
	}
	return false
}

// mayBeInt reports whether e could be an integer: not a literal of
// another kind.
func mayBeInt(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.CompositeLit, *ast.FuncLit, *ast.SliceExpr:
		return false
	case *ast.BasicLit:
		return e.Kind == token.INT
	case *ast.ParenExpr:
		return mayBeInt(e.X)
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && (id.Name == "make" || id.Name == "append") {
			return false
		}
	}
	return true
}

// rewriteRanges returns src with its range statements over integers
// rewritten, and whether there were any.
func rewriteRanges(c *chunk, all bool) (string, bool) {
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	n := 0
	labeled := map[*ast.RangeStmt]*ast.LabeledStmt{}
	ast.Inspect(c.file, func(node ast.Node) bool {
		if l, ok := node.(*ast.LabeledStmt); ok {
			if r, ok := l.Stmt.(*ast.RangeStmt); ok {
				labeled[r] = l
			}
		}
		r, ok := node.(*ast.RangeStmt)
		if !ok || r.Value != nil || !(isIntExpr(r.X) || all && mayBeInt(r.X)) {
			return true
		}
		tmp := reservedPrefix + "n" + strconv.Itoa(n)
		key, tok := reservedPrefix+"i"+strconv.Itoa(n), ":="
		n++
		if id, ok := r.Key.(*ast.Ident); ok && id.Name != "_" {
			key, tok = id.Name, r.Tok.String()
		} else if r.Key != nil && r.Tok == token.ASSIGN {
			key, tok = c.text(r.Key), "="
		}
		start, label := r.Pos(), ""
		if l := labeled[r]; l != nil {
			start, label = l.Pos(), l.Label.Name+": "
		}
		edits = append(edits,
			edit{c.offset(start), c.offset(r.Body.Lbrace) + 1,
				"{ " + tmp + " := " + c.text(r.X) + "; " + label + "for " + key + " " + tok + " " + tmp + " - " + tmp + "; " + key + " < " + tmp + "; " + key + "++ {"},
			edit{c.offset(r.Body.Rbrace) + 1, c.offset(r.Body.Rbrace) + 1, " }"})
		return true
	})
	if len(edits) == 0 {
		return c.src, false
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	src := c.src
	for _, e := range edits {
		src = src[:e.start] + e.text + src[e.end:]
	}
	return src, true
}

// hasRange reports whether src may hold a range statement, before parsing.
func hasRange(src string) bool { return strings.Contains(src, "range") }
