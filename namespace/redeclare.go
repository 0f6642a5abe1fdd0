package namespace

import (
	"go/ast"
	"go/token"
	"reflect"
	"strings"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// Redeclaring in a session replaces: yaegi v0.16.1 keeps the first
// declaration of a type (type Point struct{ X, Y, Z int } after
// type Point struct{ X, Y int } compiles, and Point{1, 2, 3} then fails),
// and a declaration that failed leaves its name in yaegi's scope, without
// a value (its Globals then panics). So the namespace takes a redeclared
// type's symbol out of yaegi's scope before compiling the new one, puts it
// back if that fails, and takes out the names a failed chunk introduced;
// and the journal keeps the last declaration of each name only, so that a
// migration replays what the session has. Values declared with the old
// type keep it, as its structure (see typeWriter).

// mainSymbols returns yaegi's map of package main's symbols, writable.
// The caller holds the token.
func mainSymbols(i *interp.Interpreter) (reflect.Value, bool) {
	l, err := yaegiLayout()
	if err != nil {
		return reflect.Value{}, false
	}
	f := reflect.ValueOf(i).Elem().Field(l.srcPkg)
	m := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	syms := m.MapIndex(reflect.ValueOf("main"))
	return syms, syms.IsValid() && !syms.IsNil()
}

// forgetTypes takes the types c declares again out of yaegi's scope, and
// returns what puts them back.
func (ns *Namespace) forgetTypes(i *interp.Interpreter, c *chunk) (undo func()) {
	syms, ok := mainSymbols(i)
	if !ok || !c.decl {
		return func() {}
	}
	saved := map[string]reflect.Value{}
	for name, kind := range c.declared {
		if kind == "type" && ns.kinds[name] == "type" {
			key := reflect.ValueOf(name)
			if v := syms.MapIndex(key); v.IsValid() {
				saved[name] = v
				syms.SetMapIndex(key, reflect.Value{})
			}
		}
	}
	return func() {
		for name, v := range saved {
			syms.SetMapIndex(reflect.ValueOf(name), v)
		}
	}
}

// forgetFailed takes out of yaegi's scope the names that c, which failed,
// would have introduced: those it declares, and those it uses that the
// namespace does not have. yaegi keeps a symbol for a name a failed
// declaration used before declaring it (y := undefined fails with
// "constant definition loop"), and that ghost then evaluated to nothing
// without an error, or made the interpreter fail on the next line that
// used it.
func (ns *Namespace) forgetFailed(i *interp.Interpreter, c *chunk) {
	syms, ok := mainSymbols(i)
	if !ok {
		return
	}
	forget := func(name string) {
		if ns.kinds[name] == "" && ns.pkgs[name] == "" && name != "_" {
			syms.SetMapIndex(reflect.ValueOf(name), reflect.Value{})
		}
	}
	for name := range c.declared {
		forget(name)
	}
	var root ast.Node = c.body
	if c.decl {
		root = c.file
	}
	if root == nil || reflect.ValueOf(root).IsNil() {
		return
	}
	ast.Inspect(root, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			forget(id.Name)
		}
		return true
	})
}

// declaredAgain returns the names other than variables that c declares
// and the namespace had (kinds, before c).
func declaredAgain(c *chunk, kinds map[string]string) map[string]bool {
	again := map[string]bool{}
	for name, kind := range c.declared {
		if kind != "var" && kinds[name] != "" && kinds[name] != "var" {
			again[name] = true
		}
	}
	return again
}

// replaceInJournal returns the journal without the declarations of the
// names again (and the methods of the types among them), entries left
// empty dropped, and where each old position (a count of entries before)
// is now.
func replaceInJournal(journal []string, again map[string]bool) ([]string, func(int) int) {
	if len(again) == 0 {
		return journal, func(k int) int { return k }
	}
	out := journal[:0:0]
	now := make([]int, len(journal)+1)
	for k, entry := range journal {
		now[k] = len(out)
		if e := withoutNames(entry, again); strings.TrimSpace(e) != "" {
			out = append(out, e)
		}
	}
	now[len(journal)] = len(out)
	return out, func(k int) int { return now[min(max(k, 0), len(journal))] }
}

// withoutNames returns a journal entry without its declarations of names.
func withoutNames(entry string, names map[string]bool) string {
	e, err := parseChunk(entry)
	if err != nil || !e.decl {
		return entry
	}
	src := []byte(e.src)
	blank := func(n ast.Node) {
		for k := e.offset(n.Pos()); k < e.offset(n.End()); k++ {
			if src[k] != '\n' {
				src[k] = ' '
			}
		}
	}
	for _, d := range e.file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && names[d.Name.Name] || d.Recv != nil && len(d.Recv.List) == 1 && names[receiverType(d.Recv.List[0].Type)] {
				blank(d)
			}
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			var kept int
			var drop []ast.Spec
			for _, spec := range d.Specs {
				hit := false
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					hit = names[spec.Name.Name]
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						hit = hit || names[n.Name]
					}
				}
				if hit {
					drop = append(drop, spec)
				} else {
					kept++
				}
			}
			switch {
			case len(drop) == 0:
			case kept == 0:
				blank(d)
			case d.Tok == token.CONST:
				// iota and implicit repetition depend on the others: keep.
			default:
				for _, spec := range drop {
					blank(spec)
				}
			}
		}
	}
	return strings.TrimSpace(string(src))
}

// receiverType is the name of a method's receiver type.
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
