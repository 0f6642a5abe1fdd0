package namespace

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"log"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// yaegi's own words are not always a user's: explain turns the errors it
// is known to give for ordinary mistakes into the Go toolchain's words,
// with hints, and never lets a panic inside yaegi ("internal error") reach
// the user as is.

// An internalError is a panic inside yaegi while compiling or running a
// chunk: yaegi's fault or a construct it does not support.
type internalError struct {
	compiling bool
	p         interface{}
}

func (e *internalError) Error() string { return fmt.Sprintf("yaegi internal error: %v", e.p) }

var (
	undefinedRE    = regexp.MustCompile(`^(\d+:\d+: )undefined: ([\pL_][\pL\pN_]*)$`)
	noSymbolRE     = regexp.MustCompile(`^(\d+:\d+: )package ([\pL_][\pL\pN_]*) "[^"]*" has no symbol ([\pL_][\pL\pN_]*)$`)
	indexPanicRE   = regexp.MustCompile(`^panic: reflect: (?:slice|array|string) index out of range$`)
	goRuntimeIndex = "panic: runtime error: index out of range"
	// yaegi follows a nil pointer (*p, p.X) through reflect, whose
	// zero Value then panics in its own words.
	zeroValuePanicRE = regexp.MustCompile(`^panic: reflect: call of reflect\.Value\.[A-Za-z]+ on zero Value$`)
	goNilDeref       = "panic: runtime error: invalid memory address or nil pointer dereference"
)

// explain rewrites an error of evaluating c. globals reads the
// interpreter's variables; the caller holds the token.
func (ns *Namespace) explain(c *chunk, err error, globals func() map[string]reflect.Value) error {
	var ie *internalError
	if errors.As(err, &ie) {
		if seq, ok := ns.rangeOverFunc(c, globals); ok {
			return fmt.Errorf("range over a function (%s; Go 1.23's iterators) is not supported by the interpreter (yaegi): "+
				"call it with the loop's body as the yield function, %s(func(v T) bool { ...; return true })", seq, seq)
		}
		// yaegi panics on some uses of a name nothing declares (a
		// selector of it in a composite literal: "incomplete type"),
		// where Go would say it is undefined.
		if uerr := c.undefined(ns.knows); uerr != nil {
			return uerr
		}
		what := construct(c)
		log.Printf("namespace: yaegi internal error on %s: %v", what, ie.p)
		return fmt.Errorf("the interpreter (yaegi) failed on this %s: it may not support something in it; the server's log has its words", what)
	}
	msg := err.Error()
	if m := undefinedRE.FindStringSubmatch(msg); m != nil && m[2] == lastName {
		return fmt.Errorf("%s_ has no value yet: it holds the value the last expression printed", m[1])
	}
	if strings.Contains(msg, lastName) { // `_` as the user typed it (last.go)
		err = errors.New(strings.ReplaceAll(msg, lastName, "_"))
		msg = err.Error()
	}
	if m := undefinedRE.FindStringSubmatch(msg); m != nil {
		name := m[2]
		if path := ns.stdPackage(name); path != "" && ns.pkgs[name] == "" && ns.kinds[name] == "" {
			return fmt.Errorf("%s%s is not imported (type import %q)", m[1], name, path)
		}
		var names []string
		for n := range ns.kinds {
			names = append(names, n)
		}
		if s := closest(name, names); s != "" {
			return fmt.Errorf("%sundefined: %s (did you mean %s?)", m[1], name, s)
		}
		return err
	}
	if m := noSymbolRE.FindStringSubmatch(msg); m != nil {
		var names []string
		if p := ns.symbols[ns.pkgs[m[2]]]; p != nil {
			for n := range p.syms {
				names = append(names, n)
			}
		}
		hint := ""
		if s := closest(m[3], names); s != "" {
			hint = " (did you mean " + s + "?)"
		}
		return fmt.Errorf("%sundefined: %s.%s%s", m[1], m[2], m[3], hint)
	}
	if zeroValuePanicRE.MatchString(msg) {
		return errors.New(goNilDeref)
	}
	if indexPanicRE.MatchString(msg) {
		if idx, n, ok := outOfRange(c, globals); ok {
			return fmt.Errorf("%s [%d] with length %d", goRuntimeIndex, idx, n)
		}
		return errors.New(goRuntimeIndex)
	}
	return err
}

// rangeOverFunc returns the first range expression in c that is a
// function: a literal, a function the session declared, or a variable
// holding one.
func (ns *Namespace) rangeOverFunc(c *chunk, globals func() map[string]reflect.Value) (seq string, found bool) {
	if c.file == nil || !hasRange(c.src) {
		return "", false
	}
	var g map[string]reflect.Value
	ast.Inspect(c.file, func(n ast.Node) bool {
		r, ok := n.(*ast.RangeStmt)
		if !ok || found {
			return !found
		}
		switch x := r.X.(type) {
		case *ast.FuncLit:
			seq, found = "a function literal", true
		case *ast.Ident:
			if ns.kinds[x.Name] == "func" {
				seq, found = x.Name, true
				break
			}
			if g == nil && globals != nil {
				g = globals()
			}
			if v, ok := g[x.Name]; ok && v.IsValid() && v.Kind() == reflect.Func {
				seq, found = x.Name, true
			}
		}
		return !found
	})
	return seq, found
}

// construct names what a chunk is, for a sentence.
func construct(c *chunk) string {
	var n ast.Node
	switch {
	case c.decl && len(c.file.Decls) > 0:
		n = c.file.Decls[0]
	case c.body != nil && len(c.body.List) > 0:
		n = c.body.List[0]
	}
	switch n := n.(type) {
	case *ast.FuncDecl:
		if n.Recv != nil {
			return "method declaration"
		}
		return "function declaration"
	case *ast.GenDecl:
		return map[token.Token]string{token.TYPE: "type declaration", token.VAR: "variable declaration", token.CONST: "constant declaration", token.IMPORT: "import"}[n.Tok]
	case *ast.RangeStmt:
		return "range loop"
	case *ast.ForStmt:
		return "for loop"
	case *ast.AssignStmt:
		return "assignment"
	case *ast.ExprStmt:
		return "expression"
	case *ast.IfStmt:
		return "if statement"
	case *ast.SwitchStmt, *ast.TypeSwitchStmt:
		return "switch statement"
	case *ast.SelectStmt:
		return "select statement"
	case *ast.GoStmt:
		return "go statement"
	case *ast.DeclStmt:
		return "declaration"
	}
	return "input"
}

// stdPackage returns the import path of a package named name that the
// namespace could import: the one whose path is the name, else the first.
func (ns *Namespace) stdPackage(name string) string {
	var paths []string
	for path, p := range ns.symbols {
		if p.name == name && !strings.Contains(path, "internal") {
			if path == name {
				return path
			}
			paths = append(paths, path)
		}
	}
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) < len(paths[j]) // math/rand, not crypto/rand
		}
		return paths[i] < paths[j]
	})
	if len(paths) > 0 {
		return paths[0]
	}
	return ""
}

// closest returns the name among names nearest to name (a typo: at most
// two edits and half the name, or the same but for case), or "".
func closest(name string, names []string) string {
	best, bestD := "", 3
	sort.Strings(names)
	for _, n := range names {
		if n == name || strings.HasPrefix(n, reservedPrefix) {
			continue
		}
		d := editDistance(strings.ToLower(name), strings.ToLower(n))
		if strings.EqualFold(n, name) {
			d = 0
		}
		if d < bestD && 2*d <= len(name) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// outOfRange finds in c the index expression that is out of range, when
// its operands can be read without running code: literals, and global
// variables. yaegi's panic says neither the index nor the length.
func outOfRange(c *chunk, globals func() map[string]reflect.Value) (idx, n int, ok bool) {
	var g map[string]reflect.Value
	value := func(e ast.Expr) (reflect.Value, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			switch e.Kind {
			case token.INT:
				i, err := strconv.Atoi(e.Value)
				return reflect.ValueOf(i), err == nil
			case token.STRING:
				s, err := strconv.Unquote(e.Value)
				return reflect.ValueOf(s), err == nil
			}
		case *ast.CompositeLit:
			for _, el := range e.Elts {
				if _, ok := el.(*ast.KeyValueExpr); ok {
					return reflect.Value{}, false
				}
			}
			return reflect.ValueOf(make([]struct{}, len(e.Elts))), true
		case *ast.Ident:
			if g == nil && globals != nil {
				g = globals()
			}
			v, ok := g[e.Name]
			return v, ok && v.IsValid()
		}
		return reflect.Value{}, false
	}
	found := 0
	ast.Inspect(c.file, func(node ast.Node) bool {
		ix, isIndex := node.(*ast.IndexExpr)
		if _, lit := node.(*ast.FuncLit); lit || found > 1 {
			return false
		}
		if !isIndex {
			return true
		}
		x, okX := value(ix.X)
		i, okI := value(ix.Index)
		if !okX || !okI || !i.CanInt() {
			return true
		}
		switch x.Kind() {
		case reflect.Slice, reflect.Array, reflect.String:
			if int(i.Int()) >= x.Len() || i.Int() < 0 {
				idx, n = int(i.Int()), x.Len()
				found++
			}
		}
		return true
	})
	return idx, n, found == 1
}

// assignMismatch reports, in Go's words, an assignment or variable
// declaration whose two sides cannot match whatever the types (yaegi says
// "unsupported assign expression", or accepts a, b := 1, 2, 3).
func assignMismatch(lhs int, rhs []ast.Expr) string {
	if len(rhs) == 0 || lhs == len(rhs) {
		return ""
	}
	if len(rhs) == 1 {
		switch r := ast.Unparen(rhs[0]).(type) {
		case *ast.CallExpr:
			return ""
		case *ast.IndexExpr, *ast.TypeAssertExpr:
			if lhs == 2 {
				return ""
			}
		case *ast.UnaryExpr:
			if r.Op == token.ARROW && lhs == 2 {
				return ""
			}
		}
	}
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return strconv.Itoa(n) + " " + what + "s"
	}
	return "assignment mismatch: " + plural(lhs, "variable") + " but " + plural(len(rhs), "value")
}
