package namespace

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// A Snapshot names the type of each variable in Go source, for Restore to
// declare it: `var c Celsius`, not `var c float64`, which is all reflect
// says of it. yaegi keeps that knowledge only in its unexported scope:
// Interpreter.srcPkg["main"][name] is a *symbol whose typ is an *itype. It is
// read here with reflect, read-only, by the holder of the interpreter's
// token. The names of yaegi's type categories and symbol kinds come from
// their String methods, not from their numbering; a yaegi whose layout
// differs makes Snapshot fail with errYaegiLayout rather than guess.

var errYaegiLayout = errors.New("namespace: yaegi's scope is not laid out as in v0.16.1, which this package reads to name the types of variables")

// yaegiScope is where the fields of yaegi's scope types are, by index.
type yaegiScope struct {
	srcPkg                      int // Interpreter.srcPkg
	symKind, symTyp             int // symbol.kind, symbol.typ
	cat, field, key, val        int // itype
	arg, ret, name, path        int
	length, rtype               int
	fName, fTag, fEmbed, fTyp   int // structField
	nodeTyp                     int // node.typ
	cats                        map[uint64]string
	varSym, typeSym             uint64
	valueInterfaceNode, viValue int // valueInterface.node, .value
}

var yaegiLayout = sync.OnceValues(func() (*yaegiScope, error) {
	l := &yaegiScope{cats: map[uint64]string{}}
	field := func(t reflect.Type, name string, kind reflect.Kind) (int, reflect.Type, bool) {
		if t.Kind() != reflect.Struct {
			return 0, nil, false
		}
		f, ok := t.FieldByName(name)
		if !ok || len(f.Index) != 1 || f.Type.Kind() != kind {
			return 0, nil, false
		}
		return f.Index[0], f.Type, true
	}
	interpType := reflect.TypeOf(interp.Interpreter{})
	var srcPkg reflect.Type
	var ok bool
	if l.srcPkg, srcPkg, ok = field(interpType, "srcPkg", reflect.Map); !ok ||
		srcPkg.Elem().Kind() != reflect.Map || srcPkg.Elem().Elem().Kind() != reflect.Pointer {
		return nil, errYaegiLayout
	}
	symbol := srcPkg.Elem().Elem().Elem()
	var itypePtr, kindType, catType reflect.Type
	l.symKind, kindType, ok = field(symbol, "kind", reflect.Uint)
	if !ok {
		return nil, errYaegiLayout
	}
	l.symTyp, itypePtr, ok = field(symbol, "typ", reflect.Pointer)
	if !ok {
		return nil, errYaegiLayout
	}
	itype := itypePtr.Elem()
	var sf reflect.Type
	for _, f := range []struct {
		dst  *int
		name string
		kind reflect.Kind
		typ  *reflect.Type
	}{
		{&l.cat, "cat", reflect.Uint, &catType},
		{&l.field, "field", reflect.Slice, &sf},
		{&l.key, "key", reflect.Pointer, nil},
		{&l.val, "val", reflect.Pointer, nil},
		{&l.arg, "arg", reflect.Slice, nil},
		{&l.ret, "ret", reflect.Slice, nil},
		{&l.name, "name", reflect.String, nil},
		{&l.path, "path", reflect.String, nil},
		{&l.length, "length", reflect.Int, nil},
		{&l.rtype, "rtype", reflect.Interface, nil},
	} {
		i, ft, found := field(itype, f.name, f.kind)
		if !found {
			return nil, errYaegiLayout
		}
		*f.dst = i
		if f.typ != nil {
			*f.typ = ft
		}
	}
	if itype.Field(l.rtype).Type != reflect.TypeOf((*reflect.Type)(nil)).Elem() || itype.Field(l.key).Type != itypePtr {
		return nil, errYaegiLayout
	}
	structField := sf.Elem()
	for _, f := range []struct {
		dst  *int
		name string
		kind reflect.Kind
	}{
		{&l.fName, "name", reflect.String},
		{&l.fTag, "tag", reflect.String},
		{&l.fEmbed, "embed", reflect.Bool},
		{&l.fTyp, "typ", reflect.Pointer},
	} {
		i, _, found := field(structField, f.name, f.kind)
		if !found {
			return nil, errYaegiLayout
		}
		*f.dst = i
	}

	// Names of categories and symbol kinds, through their String methods.
	for c := uint64(0); c < 64; c++ {
		v := reflect.New(catType).Elem()
		v.SetUint(c)
		if s, ok := v.Interface().(fmt.Stringer); ok {
			l.cats[c] = s.String()
		}
	}
	l.varSym, l.typeSym = 1<<63, 1<<63
	for k := uint64(0); k < 64; k++ {
		v := reflect.New(kindType).Elem()
		v.SetUint(k)
		s, _ := v.Interface().(fmt.Stringer)
		switch {
		case s == nil:
		case s.String() == "varSym":
			l.varSym = k
		case s.String() == "typeSym":
			l.typeSym = k
		}
	}
	if l.varSym == 1<<63 || l.typeSym == 1<<63 || l.cats[0] == "" {
		return nil, errYaegiLayout
	}

	// valueInterface{node *node; value reflect.Value}, whose node's typ is
	// the dynamic type.
	vit, _ := valueInterface()
	if vit == nil {
		return nil, errYaegiLayout
	}
	var nodePtr reflect.Type
	if l.valueInterfaceNode, nodePtr, ok = field(vit, "node", reflect.Pointer); !ok {
		return nil, errYaegiLayout
	}
	if l.nodeTyp, _, ok = field(nodePtr.Elem(), "typ", reflect.Pointer); !ok || nodePtr.Elem().Field(l.nodeTyp).Type != itypePtr {
		return nil, errYaegiLayout
	}
	_, l.viValue = valueInterface()
	return l, nil
})

// An itype is a *interp.itype, read through reflect.
type itype struct {
	l *yaegiScope
	v reflect.Value
}

func (t itype) valid() bool { return t.v.IsValid() && !t.v.IsNil() }

func (t itype) cat() string  { return t.l.cats[t.v.Elem().Field(t.l.cat).Uint()] }
func (t itype) name() string { return t.v.Elem().Field(t.l.name).String() }
func (t itype) path() string { return t.v.Elem().Field(t.l.path).String() }
func (t itype) length() int  { return int(t.v.Elem().Field(t.l.length).Int()) }
func (t itype) key() itype   { return itype{t.l, t.v.Elem().Field(t.l.key)} }
func (t itype) val() itype   { return itype{t.l, t.v.Elem().Field(t.l.val)} }
func (t itype) list(i int) []itype {
	s := t.v.Elem().Field(i)
	out := make([]itype, s.Len())
	for k := range out {
		out[k] = itype{t.l, s.Index(k)}
	}
	return out
}

// rtype is the reflect type yaegi recorded, nil if none yet.
func (t itype) rtype() reflect.Type {
	f := t.v.Elem().Field(t.l.rtype)
	if f.IsNil() {
		return nil
	}
	return *(*reflect.Type)(unsafe.Pointer(f.UnsafeAddr()))
}

// mainScope is the interpreter's package main: its top-level symbols.
type mainScope struct {
	l    *yaegiScope
	syms reflect.Value // map[string]*symbol
}

func readMainScope(i *interp.Interpreter) (mainScope, error) {
	l, err := yaegiLayout()
	if err != nil {
		return mainScope{}, err
	}
	m := reflect.ValueOf(i).Elem().Field(l.srcPkg).MapIndex(reflect.ValueOf("main"))
	return mainScope{l: l, syms: m}, nil
}

// lookup returns the kind and type of a top-level symbol.
func (s mainScope) lookup(name string) (kind uint64, t itype, ok bool) {
	if !s.syms.IsValid() {
		return 0, itype{}, false
	}
	sym := s.syms.MapIndex(reflect.ValueOf(name))
	if !sym.IsValid() || sym.IsNil() {
		return 0, itype{}, false
	}
	return sym.Elem().Field(s.l.symKind).Uint(), itype{s.l, sym.Elem().Field(s.l.symTyp)}, true
}

// isVar reports whether name is a global variable, and its type.
func (s mainScope) isVar(name string) (itype, bool) {
	kind, t, ok := s.lookup(name)
	return t, ok && kind == s.l.varSym && t.valid()
}

// valueInterfaceParts returns what a yaegi valueInterface holds: the
// interpreter's type of its dynamic value (invalid if it has no node) and
// the value.
func valueInterfaceParts(v reflect.Value) (t itype, inner reflect.Value, ok bool) {
	l, err := yaegiLayout()
	if err != nil {
		return itype{}, reflect.Value{}, false
	}
	inner, ok = unwrapValueInterface(v)
	if !ok {
		return itype{}, reflect.Value{}, false
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	if n := c.Field(l.valueInterfaceNode); !n.IsNil() {
		t = itype{l, n.Elem().Field(l.nodeTyp)}
	}
	return t, inner, true
}

// makeValueInterface returns a copy of template, a yaegi valueInterface,
// holding v instead: yaegi's form of an interface value whose dynamic type
// is the template's.
func makeValueInterface(template, v reflect.Value) reflect.Value {
	l, _ := yaegiLayout()
	c := reflect.New(template.Type()).Elem()
	c.Set(template)
	*(*reflect.Value)(unsafe.Pointer(c.Field(l.viValue).UnsafeAddr())) = v
	return c
}

// A typeWriter writes types in Go source for Restore to compile: the types
// the interpreter declared by their names, package types through the
// aliases Restore imports their packages under (the user's own names for
// them may be shadowed or missing).
type typeWriter struct {
	ns      *Namespace
	scope   mainScope
	paths   []string       // packages to import, aliased pkgAlias(index)
	index   map[string]int // import path → index in paths
	structs map[reflect.Type]string
	seen    map[uintptr]bool        // itypes being written, to stop at a cycle
	rseen   map[reflect.Type]bool   // likewise for reflect types
	cache   map[reflect.Type]cached // rtype results
}

type cached struct {
	src string
	err error
}

func newTypeWriter(ns *Namespace, scope mainScope) *typeWriter {
	w := &typeWriter{
		index:   map[string]int{},
		structs: map[reflect.Type]string{},
		seen:    map[uintptr]bool{}, rseen: map[reflect.Type]bool{},
		cache: map[reflect.Type]cached{},
	}
	w.reset(ns, scope)
	return w
}

// reset readies w for another snapshot, keeping its maps' memory.
func (w *typeWriter) reset(ns *Namespace, scope mainScope) {
	w.ns, w.scope, w.paths = ns, scope, nil
	clear(w.index)
	clear(w.structs)
	clear(w.seen)
	clear(w.rseen)
	clear(w.cache)
	// The declared struct types, by reflect type; of structurally equal
	// ones (which yaegi cannot tell apart inside an interface{} either) the
	// first name.
	for name, info := range ns.types {
		if old, ok := w.structs[info.typ]; !ok || name < old {
			w.structs[info.typ] = name
		}
	}
}

// pkgAlias is the name Restore imports the k-th package of a Snapshot under.
func pkgAlias(k int) string { return reservedPrefix + "p" + strconv.Itoa(k) }

func (w *typeWriter) pkg(path string) string {
	k, ok := w.index[path]
	if !ok {
		k = len(w.paths)
		w.index[path] = k
		w.paths = append(w.paths, path)
	}
	return pkgAlias(k)
}

// basicTypes are the Go names of yaegi's basic categories (sic float32).
var basicTypes = map[string]string{
	"boolT": "bool", "intT": "int", "int8T": "int8", "int16T": "int16", "int32T": "int32", "int64T": "int64",
	"uintT": "uint", "uint8T": "uint8", "uint16T": "uint16", "uint32T": "uint32", "uint64T": "uint64",
	"uintptrT": "uintptr", "float32": "float32", "float32T": "float32", "float64T": "float64",
	"complex64T": "complex64", "complex128T": "complex128", "stringT": "string",
}

// itype writes an interpreter type.
func (w *typeWriter) itype(t itype) (string, error) {
	if !t.valid() {
		return "", errors.New("a type yaegi does not know")
	}
	if name := t.name(); name != "" && t.path() == "main" {
		// A type the namespace declared, if that name still denotes it
		// (or a generic instance, which yaegi names Name[Args]).
		if strings.Contains(name, "[") {
			return name, nil
		}
		if kind, cur, ok := w.scope.lookup(name); ok && kind == w.scope.l.typeSym && cur.v.Pointer() == t.v.Pointer() {
			return name, nil
		}
		// Declared again since, or local to a function: its structure.
	}
	p := t.v.Pointer()
	if w.seen[p] {
		return "", errors.New("a recursive type without a name")
	}
	w.seen[p] = true
	defer delete(w.seen, p)

	cat := t.cat()
	if b, ok := basicTypes[cat]; ok {
		return b, nil
	}
	elem := func() (string, error) { return w.itype(t.val()) }
	switch cat {
	case "errorT":
		return "error", nil
	case "valueT":
		if rt := t.rtype(); rt != nil {
			return w.rtype(rt)
		}
	case "ptrT":
		e, err := elem()
		return "*" + e, err
	case "sliceT":
		e, err := elem()
		return "[]" + e, err
	case "arrayT":
		e, err := elem()
		return "[" + strconv.Itoa(t.length()) + "]" + e, err
	case "mapT":
		k, err := w.itype(t.key())
		if err != nil {
			return "", err
		}
		e, err := elem()
		return "map[" + k + "]" + e, err
	case "chanT", "chanSendT", "chanRecvT":
		e, err := elem()
		if strings.HasPrefix(e, "<-") {
			e = "(" + e + ")"
		}
		return map[string]string{"chanT": "chan ", "chanSendT": "chan<- ", "chanRecvT": "<-chan "}[cat] + e, err
	case "linkedT":
		return elem()
	case "funcT":
		sig, err := w.signature(t)
		return "func" + sig, err
	case "structT":
		return w.istruct(t)
	case "interfaceT":
		return w.iinterface(t)
	}
	return "", fmt.Errorf("yaegi type category %s", cat)
}

func (w *typeWriter) signature(t itype) (string, error) {
	var b strings.Builder
	b.WriteByte('(')
	for k, a := range t.list(t.l.arg) {
		if k > 0 {
			b.WriteString(", ")
		}
		if a.cat() == "variadicT" {
			e, err := w.itype(a.val())
			if err != nil {
				return "", err
			}
			b.WriteString("..." + e)
			continue
		}
		s, err := w.itype(a)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	b.WriteByte(')')
	rets := t.list(t.l.ret)
	if len(rets) > 1 {
		b.WriteString(" (")
	} else if len(rets) == 1 {
		b.WriteByte(' ')
	}
	for k, r := range rets {
		if k > 0 {
			b.WriteString(", ")
		}
		s, err := w.itype(r)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	if len(rets) > 1 {
		b.WriteByte(')')
	}
	return b.String(), nil
}

// fields returns a struct or interface type's fields: name, tag, embedded,
// type.
func (t itype) fields() []struct {
	name, tag string
	embed     bool
	typ       itype
} {
	s := t.v.Elem().Field(t.l.field)
	out := make([]struct {
		name, tag string
		embed     bool
		typ       itype
	}, s.Len())
	for k := range out {
		f := s.Index(k)
		out[k].name = f.Field(t.l.fName).String()
		out[k].tag = f.Field(t.l.fTag).String()
		out[k].embed = f.Field(t.l.fEmbed).Bool()
		out[k].typ = itype{t.l, f.Field(t.l.fTyp)}
	}
	return out
}

func (w *typeWriter) istruct(t itype) (string, error) {
	var b strings.Builder
	b.WriteString("struct{")
	for k, f := range t.fields() {
		if k > 0 {
			b.WriteString("; ")
		}
		s, err := w.itype(f.typ)
		if err != nil {
			return "", err
		}
		if !f.embed {
			b.WriteString(f.name + " ")
		}
		b.WriteString(s)
		if f.tag != "" {
			b.WriteString(" " + strconv.Quote(f.tag))
		}
	}
	b.WriteString("}")
	return b.String(), nil
}

func (w *typeWriter) iinterface(t itype) (string, error) {
	fields := t.fields()
	if len(fields) == 0 {
		return "interface{}", nil
	}
	var b strings.Builder
	b.WriteString("interface{")
	for k, f := range fields {
		if k > 0 {
			b.WriteString("; ")
		}
		if f.embed {
			s, err := w.itype(f.typ)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			continue
		}
		if f.typ.cat() != "funcT" {
			return "", errors.New("an interface with a constraint")
		}
		sig, err := w.signature(f.typ)
		if err != nil {
			return "", err
		}
		b.WriteString(f.name + sig)
	}
	b.WriteString("}")
	return b.String(), nil
}

// rtype writes a reflect type: a package's type, a struct type the
// namespace declared, or a type literal.
func (w *typeWriter) rtype(t reflect.Type) (string, error) {
	if c, ok := w.cache[t]; ok {
		return c.src, c.err
	}
	src, err := w.rtypeUncached(t)
	w.cache[t] = cached{src, err}
	return src, err
}

func (w *typeWriter) rtypeUncached(t reflect.Type) (string, error) {
	if vit, _ := valueInterface(); t == vit {
		return "", errors.New("an interface type the namespace declared")
	}
	if name := t.Name(); name != "" {
		pkgPath := t.PkgPath()
		switch {
		case pkgPath == "":
			return name, nil // predeclared
		case strings.HasPrefix(pkgPath, yaegiPrefix):
			return "", fmt.Errorf("yaegi's %s", t)
		}
		p := w.ns.symbols[pkgPath]
		if p == nil {
			return "", fmt.Errorf("%s: package %s cannot be imported", t, pkgPath)
		}
		if sym, ok := p.syms[name]; !ok || !sym.IsValid() || sym.Kind() != reflect.Pointer || !sym.IsNil() || sym.Type().Elem() != t {
			return "", fmt.Errorf("%s is not an exported type of %s", t, pkgPath)
		}
		return w.pkg(pkgPath) + "." + name, nil
	}
	if name, ok := w.structs[t]; ok {
		if kind, _, found := w.scope.lookup(name); found && kind == w.scope.l.typeSym {
			return name, nil
		}
	}
	if w.rseen[t] {
		return "", errors.New("a recursive type without a name")
	}
	w.rseen[t] = true
	defer delete(w.rseen, t)

	switch t.Kind() {
	case reflect.Pointer:
		e, err := w.rtype(t.Elem())
		return "*" + e, err
	case reflect.Slice:
		e, err := w.rtype(t.Elem())
		return "[]" + e, err
	case reflect.Array:
		e, err := w.rtype(t.Elem())
		return "[" + strconv.Itoa(t.Len()) + "]" + e, err
	case reflect.Map:
		k, err := w.rtype(t.Key())
		if err != nil {
			return "", err
		}
		e, err := w.rtype(t.Elem())
		return "map[" + k + "]" + e, err
	case reflect.Chan:
		e, err := w.rtype(t.Elem())
		if strings.HasPrefix(e, "<-") {
			e = "(" + e + ")"
		}
		return map[reflect.ChanDir]string{reflect.BothDir: "chan ", reflect.SendDir: "chan<- ", reflect.RecvDir: "<-chan "}[t.ChanDir()] + e, err
	case reflect.Func:
		var b strings.Builder
		b.WriteString("func(")
		for k := range t.NumIn() {
			if k > 0 {
				b.WriteString(", ")
			}
			in := t.In(k)
			if t.IsVariadic() && k == t.NumIn()-1 {
				b.WriteString("...")
				in = in.Elem()
			}
			s, err := w.rtype(in)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		}
		b.WriteByte(')')
		if t.NumOut() > 0 {
			b.WriteString(" (")
			for k := range t.NumOut() {
				if k > 0 {
					b.WriteString(", ")
				}
				s, err := w.rtype(t.Out(k))
				if err != nil {
					return "", err
				}
				b.WriteString(s)
			}
			b.WriteByte(')')
		}
		return b.String(), nil
	case reflect.Struct:
		var b strings.Builder
		b.WriteString("struct{")
		for k := range t.NumField() {
			f := t.Field(k)
			if f.Anonymous || !f.IsExported() {
				return "", fmt.Errorf("%s: an embedded or unexported field", t)
			}
			s, err := w.rtype(f.Type)
			if err != nil {
				return "", err
			}
			if k > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.Name + " " + s)
			if f.Tag != "" {
				b.WriteString(" " + strconv.Quote(string(f.Tag)))
			}
		}
		b.WriteString("}")
		return b.String(), nil
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "interface{}", nil
		}
	}
	return "", fmt.Errorf("type %s cannot be written in Go source", t)
}

// programLayout is where a Program keeps its tree and a node its children
// and identifier, by index; ok is false for a yaegi laid out otherwise,
// which then prints values by their reflect types only.
var programLayout = sync.OnceValues(func() (l struct{ root, child, ident int }, ok bool) {
	pt := reflect.TypeOf(interp.Program{})
	root, found := pt.FieldByName("root")
	if !found || root.Type.Kind() != reflect.Pointer || root.Type.Elem().Kind() != reflect.Struct {
		return l, false
	}
	child, found := root.Type.Elem().FieldByName("child")
	if !found || child.Type.Kind() != reflect.Slice || child.Type.Elem() != root.Type {
		return l, false
	}
	ident, found := root.Type.Elem().FieldByName("ident")
	if !found || ident.Type.Kind() != reflect.String {
		return l, false
	}
	if _, err := yaegiLayout(); err != nil {
		return l, false
	}
	l.root, l.child, l.ident = root.Index[0], child.Index[0], ident.Index[0]
	return l, true
})

// capturedType returns the interpreter's type of the expression that a
// compiled candidate hands to rtName.Value: the static type, which names
// what reflect cannot (Celsius, []Shape). The caller holds the token.
func capturedType(prog *interp.Program) itype {
	pl, ok := programLayout()
	if !ok || prog == nil {
		return itype{}
	}
	l, _ := yaegiLayout()
	children := func(n reflect.Value) reflect.Value { return n.Elem().Field(pl.child) }
	ident := func(n reflect.Value) string { return n.Elem().Field(pl.ident).String() }
	var find func(n reflect.Value, depth int) itype
	find = func(n reflect.Value, depth int) itype {
		if n.IsNil() || depth > 8 {
			return itype{}
		}
		c := children(n)
		if c.Len() == 2 {
			if sel := children(c.Index(0)); sel.Len() == 2 && ident(sel.Index(0)) == rtName && ident(sel.Index(1)) == "Value" {
				return itype{l, c.Index(1).Elem().Field(l.nodeTyp)}
			}
		}
		for k := range c.Len() {
			if t := find(c.Index(k), depth+1); t.valid() {
				return t
			}
		}
		return itype{}
	}
	return find(reflect.ValueOf(prog).Elem().Field(pl.root), 0)
}
