package namespace

import (
	"go/ast"
	"reflect"
	"sort"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// `_` is the last value printed, as in Python's REPL. Go has no such name
// (`_` is the blank identifier), so the namespace keeps the value in a
// global of its own, lastName, and rewrites `_` where the user's code
// reads it. A value of the type `_` has is assigned to it (assignLast);
// one of another type declares it again (`__tr_last := EXPR`, with EXPR's
// static type: a Celsius stays a Celsius), which yaegi cannot take back
// and pays for with a slot of its global frame, so not at every line. A
// global, it is carried by a migration like any variable; :vars leaves it
// out, since it lists what the user declared, and `_` itself shows it.
//
// An expression that prints nothing (statements, fmt.Println, a call with
// no result or several) leaves `_` as it was; so does one that fails or
// panics: its declaration of lastName is taken back (lastKeeper).
const lastName = reservedPrefix + "last"

// hasBlank reports whether src may read `_`, before parsing: a `_` that
// is a word of its own. The common line has none and is not walked.
func hasBlank(src string) bool {
	for k := 0; k < len(src); k++ {
		if src[k] == '_' && (k == 0 || !isWordByte(src[k-1])) && (k+1 == len(src) || !isWordByte(src[k+1])) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

// rewriteLast returns c's source with every `_` that is read (an operand,
// not the blank identifier that discards or declares nothing) replaced by
// lastName, and whether there was one.
func rewriteLast(c *chunk) (string, bool) {
	blank := map[*ast.Ident]bool{} // the blank identifier proper
	mark := func(es ...ast.Expr) {
		for _, e := range es {
			if id, ok := e.(*ast.Ident); ok {
				blank[id] = true
			}
		}
	}
	markIdents := func(ids []*ast.Ident) {
		for _, id := range ids {
			blank[id] = true
		}
	}
	var reads []*ast.Ident
	ast.Inspect(c.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			mark(n.Lhs...)
		case *ast.RangeStmt:
			mark(n.Key, n.Value)
		case *ast.ValueSpec:
			markIdents(n.Names)
		case *ast.Field:
			markIdents(n.Names)
		case *ast.ImportSpec:
			if n.Name != nil {
				blank[n.Name] = true
			}
		case *ast.TypeSpec:
			blank[n.Name] = true
		case *ast.FuncDecl:
			blank[n.Name] = true
		case *ast.SelectorExpr:
			blank[n.Sel] = true
		case *ast.Ident:
			if n.Name == "_" && !blank[n] {
				reads = append(reads, n)
			}
		}
		return true
	})
	if len(reads) == 0 {
		return c.src, false
	}
	sort.Slice(reads, func(a, b int) bool { return reads[a].Pos() > reads[b].Pos() })
	src := c.src
	for _, id := range reads {
		at := c.offset(id.Pos())
		src = src[:at] + lastName + src[at+1:]
	}
	return src, true
}

// A lastKeeper holds lastName's symbol in yaegi's scope before an
// evaluation that may declare it again, to put it back if that evaluation
// does not end with a value. And a failed `v := EXPR` leaves in yaegi's
// scope the undefined names EXPR reads (and the next try would compile):
// those are taken out too.
type lastKeeper struct {
	syms   reflect.Value // yaegi's main scope; invalid: nothing to keep
	saved  reflect.Value // the symbol before; invalid if there was none
	typ    itype         // its type then
	absent []string      // names the expression reads that were not in scope
}

// keepLast is called with the token held, before c is compiled.
func keepLast(i *interp.Interpreter, c *chunk) lastKeeper {
	if c.expr == nil {
		return lastKeeper{}
	}
	syms, ok := mainSymbols(i)
	if !ok {
		return lastKeeper{}
	}
	k := lastKeeper{syms: syms, saved: syms.MapIndex(reflect.ValueOf(lastName))}
	if scope, err := readMainScope(i); err == nil && k.saved.IsValid() {
		if _, t, ok := scope.lookup(lastName); ok && t.valid() {
			// The pointer itself: a compile may set the symbol's.
			k.typ = itype{t.l, reflect.NewAt(t.v.Type().Elem(), unsafe.Pointer(t.v.Pointer()))}
		}
	}
	ast.Inspect(c.expr, func(n ast.Node) bool {
		if id, isID := n.(*ast.Ident); isID && !syms.MapIndex(reflect.ValueOf(id.Name)).IsValid() {
			k.absent = append(k.absent, id.Name)
		}
		return true
	})
	return k
}

// undo puts lastName back as it was before the evaluation.
func (k lastKeeper) undo() {
	if k.syms.IsValid() {
		k.syms.SetMapIndex(reflect.ValueOf(lastName), k.saved)
		for _, name := range k.absent {
			k.syms.SetMapIndex(reflect.ValueOf(name), reflect.Value{})
		}
	}
}

// setLast takes the value of a chunk that read `_` from lastTemp, and
// records, for a migration, where in the journal `_` was last declared.
// The caller holds the token.
func (ns *Namespace) setLast(i *interp.Interpreter, c *chunk, k lastKeeper) {
	if c.readsLast {
		if err := runHidden(i, lastName+" := "+lastTemp, nil); err != nil {
			k.undo()
			return
		}
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	at, ok := ns.varAt[lastName]
	if !ok {
		at.first = len(ns.journal)
	}
	at.last = len(ns.journal)
	ns.varAt[lastName] = at
}

// lastTemp holds the value of an expression that reads `_` on its way to
// lastName.
const lastTemp = reservedPrefix + "lastv"

// oneResult reports whether the expression that a compiled candidate
// declares lastName with (through lastTemp when c reads `_`) has one
// value: yaegi compiles `v := f()` for an f of two results, and takes the
// first. Only a call can have several.
func oneResult(prog *interp.Program, c *chunk) bool {
	e := c.expr
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			break
		}
		e = p.X
	}
	if _, ok := e.(*ast.CallExpr); !ok {
		return true
	}
	pl, ok := programLayout()
	l, err := yaegiLayout()
	if !ok || err != nil || prog == nil {
		return false
	}
	lhs := lastName
	if c.readsLast {
		lhs = lastTemp
	}
	children := func(n reflect.Value) reflect.Value { return n.Elem().Field(pl.child) }
	var find func(n reflect.Value, depth int) (itype, bool)
	find = func(n reflect.Value, depth int) (itype, bool) {
		if n.IsNil() || depth > 8 {
			return itype{}, false
		}
		ch := children(n)
		if ch.Len() == 2 && n.Elem().Field(pl.ident).String() == "" && children(ch.Index(0)).Len() == 0 &&
			ch.Index(0).Elem().Field(pl.ident).String() == lhs {
			if call := children(ch.Index(1)); call.Len() > 0 {
				return itype{l, call.Index(0).Elem().Field(l.nodeTyp)}, true
			}
		}
		for k := range ch.Len() {
			if t, ok := find(ch.Index(k), depth+1); ok {
				return t, true
			}
		}
		return itype{}, false
	}
	fn, found := find(reflect.ValueOf(prog).Elem().Field(pl.root), 0)
	if !found || !fn.valid() {
		return false
	}
	switch fn.cat() {
	case "funcT":
		return len(fn.list(l.ret)) == 1
	case "valueT":
		rt := fn.rtype()
		return rt != nil && rt.Kind() == reflect.Func && rt.NumOut() == 1
	}
	return true // a conversion
}

// varName is a snapshot's variable as a user knows it: `_` for lastName.
func varName(name string) string {
	if name == lastName {
		return "_"
	}
	return name
}

// sameType reports whether an expression of the interpreter's type t can
// be assigned to `_` of type last and keep its own type: the same type,
// by name and representation, and not an interface (whose values yaegi
// wraps) nor an untyped constant (which takes the type of what it is
// assigned to).
func sameType(t, last itype) bool {
	if !t.valid() || !last.valid() || t.isInterface() || last.isInterface() || t.isUntyped() {
		return false
	}
	if t.v.Pointer() == last.v.Pointer() {
		return true
	}
	f := &formatter{}
	name := f.itypeName(t, 0)
	return name != "" && name == f.itypeName(last, 0) && t.rtype() != nil && t.rtype() == last.rtype()
}

// isUntyped reports whether t is the type of an untyped constant.
func (t itype) isUntyped() bool {
	f := t.v.Elem().FieldByName("untyped")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

// assignLast sets `_` to v, in yaegi's global frame (what Globals reads),
// when v is of its type; else `_` is taken out, rather than left holding
// a value older than the last one printed. The caller holds the token.
func assignLast(i *interp.Interpreter, v interface{}) {
	syms, ok := mainSymbols(i)
	if !ok {
		return
	}
	sym := syms.MapIndex(reflect.ValueOf(lastName))
	frame := reflect.ValueOf(i).Elem().FieldByName("frame")
	if !sym.IsValid() || sym.IsNil() || !frame.IsValid() || frame.Kind() != reflect.Pointer || frame.IsNil() {
		return
	}
	index := sym.Elem().FieldByName("index")
	data := frame.Elem().FieldByName("data")
	if !index.IsValid() || index.Kind() != reflect.Int || !data.IsValid() || data.Kind() != reflect.Slice ||
		int(index.Int()) < 0 || int(index.Int()) >= data.Len() || data.Type().Elem() != reflect.TypeOf(reflect.Value{}) {
		return
	}
	slot := *(*reflect.Value)(unsafe.Pointer(data.Index(int(index.Int())).UnsafeAddr()))
	rv := reflect.ValueOf(v)
	switch {
	case !slot.CanSet():
		syms.SetMapIndex(reflect.ValueOf(lastName), reflect.Value{})
	case !rv.IsValid():
		slot.Set(reflect.Zero(slot.Type()))
	case rv.Type().AssignableTo(slot.Type()):
		slot.Set(rv)
	default:
		syms.SetMapIndex(reflect.ValueOf(lastName), reflect.Value{})
	}
}
