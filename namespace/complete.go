package namespace

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxCandidates bounds the candidates a Completion carries; Total says how
// many there were.
const MaxCandidates = 256

// maxCompleteSource bounds the source Complete looks at: the end of it,
// where the cursor is.
const maxCompleteSource = 8 << 10

// Completion is what Tab can put in place of the word before the cursor:
// src[Start:pos] is that word, every candidate begins with it, and Prefix
// is the longest beginning all of them share.
type Completion struct {
	Start      int
	Prefix     string   `cbor:",omitempty"`
	Candidates []string `cbor:",omitempty"` // sorted, at most MaxCandidates
	Total      int      `cbor:",omitempty"` // candidates before the bound
}

// Complete returns what may complete the word that ends at byte pos of
// src: an import path after `import "`, a field, method or package member
// after a dot, otherwise a name in scope (the namespace's declarations and
// imports, Go's keywords and predeclared names). It evaluates nothing.
// It waits for the interpreter while a checkpoint holds it (see acquire);
// while an interrupted evaluation is still blocked it knows only import
// paths and Go's own names.
func (ns *Namespace) Complete(src string, pos int) Completion {
	if pos < 0 || pos > len(src) {
		return Completion{Start: max(0, min(pos, len(src)))}
	}
	before := src[:pos]
	base := 0
	if len(before) > maxCompleteSource {
		base = len(before) - maxCompleteSource
		before = before[base:]
	}
	c := ns.complete(before)
	c.Start += base
	return c
}

func (ns *Namespace) complete(before string) Completion {
	if start, ok := importPathAt(before); ok {
		word := before[start:]
		var paths []string
		for p := range ns.symbols {
			paths = append(paths, p)
		}
		paths = append(paths, sysPackage)
		return completion(start, word, paths)
	}
	if inString(before) {
		return Completion{Start: len(before)}
	}
	start := len(before)
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(before[:start])
		if !isIdentRune(r) {
			break
		}
		start -= size
	}
	word := before[start:]
	if start > 0 && before[start-1] == '.' {
		chain, ok := selectorChain(before[:start-1])
		if !ok {
			return Completion{Start: start}
		}
		return completion(start, word, ns.members(chain))
	}
	return completion(start, word, ns.names())
}

// completion keeps the names that begin with word, sorted and bounded.
func completion(start int, word string, names []string) Completion {
	c := Completion{Start: start}
	seen := map[string]bool{}
	var all []string
	for _, n := range names {
		if strings.HasPrefix(n, word) && !seen[n] {
			seen[n] = true
			all = append(all, n)
		}
	}
	sort.Strings(all)
	c.Total = len(all)
	if len(all) > 0 {
		c.Prefix = all[0]
		for _, n := range all[1:] {
			c.Prefix = commonPrefix(c.Prefix, n)
		}
	}
	if len(all) > MaxCandidates {
		all = all[:MaxCandidates]
	}
	c.Candidates = all
	return c
}

func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	// Never split a rune.
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	return a[:i]
}

func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// importPathAt reports whether before ends inside the quotes of an import
// path, and where that path begins: `import "fm`, `import f "fm`, and a
// line of an `import (` block.
func importPathAt(before string) (int, bool) {
	q := strings.LastIndexByte(before, '"')
	if q < 0 || strings.ContainsAny(before[q+1:], " \t\n") {
		return 0, false
	}
	head := before[:q]
	if nl := strings.LastIndexByte(head, '\n'); nl >= 0 {
		line := strings.TrimSpace(head[nl+1:])
		if (line == "" || isIdent(line)) && insideImportBlock(head[:nl]) {
			return q + 1, true
		}
	}
	line := head
	if nl := strings.LastIndexByte(line, '\n'); nl >= 0 {
		line = line[nl+1:]
	}
	f := strings.Fields(strings.ReplaceAll(line, "(", " ( "))
	switch {
	case len(f) >= 1 && f[len(f)-1] == "import":
	case len(f) >= 2 && f[len(f)-2] == "import" && (isIdent(f[len(f)-1]) || f[len(f)-1] == "("):
	case len(f) >= 3 && f[len(f)-3] == "import" && f[len(f)-2] == "(" && isIdent(f[len(f)-1]):
	default:
		return 0, false
	}
	return q + 1, true
}

// inString reports whether the last line of before ends inside a string
// or rune literal, where names mean nothing.
func inString(before string) bool {
	if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
		before = before[nl+1:]
	}
	var quote byte
	for i := 0; i < len(before); i++ {
		c := before[i]
		switch {
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		case quote != 0 && c == '\\' && quote != '`':
			i++
		case c == quote:
			quote = 0
		}
	}
	return quote != 0
}

// insideImportBlock reports whether src ends inside an `import (` block.
func insideImportBlock(src string) bool {
	i := strings.LastIndex(src, "import")
	if i < 0 {
		return false
	}
	rest := strings.TrimSpace(src[i+len("import"):])
	return strings.HasPrefix(rest, "(") && !strings.Contains(rest, ")")
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !isIdentRune(r) || i == 0 && unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// selectorChain returns the identifiers of the selector expression that
// before ends with (`a.b` → a, b), or false for anything else (a call, an
// index): completing those would mean evaluating them.
func selectorChain(before string) ([]string, bool) {
	var chain []string
	for {
		end := len(before)
		start := end
		for start > 0 {
			r, size := utf8.DecodeLastRuneInString(before[:start])
			if !isIdentRune(r) {
				break
			}
			start -= size
		}
		id := before[start:end]
		if !isIdent(id) {
			return nil, false
		}
		chain = append([]string{id}, chain...)
		if start == 0 || before[start-1] != '.' {
			return chain, true
		}
		before = before[:start-1]
	}
}

// goNames are Go's keywords and predeclared identifiers.
var goNames = strings.Fields(`break case chan const continue default defer else fallthrough for func go
goto if import interface map package range return select struct switch type var
any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune
string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap clear close complex
copy delete imag len make max min new panic print println real recover`)

// names returns the names in scope at top level: Go's, and the
// namespace's declarations and package names.
func (ns *Namespace) names() []string {
	names := append([]string(nil), goNames...)
	if ns.acquire(context.Background(), false) != nil {
		return names
	}
	defer ns.release()
	for name := range ns.kinds {
		names = append(names, name)
	}
	for name := range ns.pkgs {
		names = append(names, name)
	}
	ns.mu.Lock()
	i := ns.in
	ns.mu.Unlock()
	if i != nil {
		for name := range i.Globals() {
			names = append(names, name)
		}
	}
	kept := names[:0]
	for _, n := range names {
		if n != "_" && !strings.HasPrefix(n, reservedPrefix) {
			kept = append(kept, n)
		}
	}
	return kept
}

// members returns what may follow `chain.`: a package's exported names,
// or the fields and methods of a variable's type (walked through fields).
func (ns *Namespace) members(chain []string) []string {
	if ns.acquire(context.Background(), false) != nil {
		return nil
	}
	defer ns.release()
	ns.mu.Lock()
	i := ns.in
	ns.mu.Unlock()
	var v reflect.Value
	var globals map[string]reflect.Value
	if i != nil {
		globals = i.Globals()
	}
	rest := chain[1:]
	if g, ok := globals[chain[0]]; ok {
		v = g
	} else if path, ok := ns.pkgs[chain[0]]; ok {
		if len(rest) == 0 {
			return ns.packageMembers(path)
		}
		p := ns.symbols[path]
		if p == nil {
			return nil
		}
		if v, ok = p.syms[rest[0]]; !ok {
			return nil
		}
		rest = rest[1:]
	} else {
		return nil
	}
	if !v.IsValid() {
		return nil
	}
	t := v.Type()
	for _, name := range rest {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := ns.field(t, name)
		if !ok {
			return nil
		}
		t = f.Type
	}
	return ns.typeMembers(t)
}

// field finds a field by the name the user declared it with.
func (ns *Namespace) field(t reflect.Type, name string) (reflect.StructField, bool) {
	if info := ns.byType[t]; info != nil {
		for k, n := range info.fields {
			if n == name && k < t.NumField() {
				return t.Field(k), true
			}
		}
	}
	return t.FieldByName(name)
}

// typeMembers lists the fields and methods of a value of type t: the
// native methods reflect knows, the methods declared in the namespace for
// its declared type, and its fields (as declared).
func (ns *Namespace) typeMembers(t reflect.Type) []string {
	var names []string
	for _, mt := range []reflect.Type{t, reflect.PointerTo(t)} {
		for k := range mt.NumMethod() {
			names = append(names, mt.Method(k).Name)
		}
	}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return names
	}
	if info := ns.byType[st]; info != nil {
		names = append(names, info.fields...)
		names = append(names, ns.methodsOf(info.name)...)
		return names
	}
	for k := range st.NumField() {
		if f := st.Field(k); f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return names
}

// methodsOf returns the methods the journal declares on type name (yaegi's
// reflect types of interpreted structs carry none).
func (ns *Namespace) methodsOf(name string) []string {
	ns.mu.Lock()
	journal := ns.journal
	ns.mu.Unlock()
	var names []string
	for _, src := range journal {
		if !strings.HasPrefix(src, "func") || !strings.Contains(src, name) {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+src, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			if receiverType(fd.Recv.List[0].Type) == name {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names
}

// packageMembers lists the exported names of the package at path, its
// generic functions included.
func (ns *Namespace) packageMembers(path string) []string {
	if path == sysPackage {
		return []string{"Pid", "Version"}
	}
	p := ns.symbols[path]
	if p == nil {
		return nil
	}
	var names []string
	for name := range p.syms {
		if token.IsExported(name) {
			names = append(names, name)
		}
	}
	return append(names, genericNames(p)...)
}

// genericNamesCache holds, by package path, the exported top-level names
// of the source of generic stdlib packages: parsed once per process.
var genericNamesCache sync.Map

func genericNames(p *pkg) []string {
	if p.generic == "" {
		return nil
	}
	if v, ok := genericNamesCache.Load(p.path); ok {
		return v.([]string)
	}
	var names []string
	if f, err := parser.ParseFile(token.NewFileSet(), "", p.generic, parser.SkipObjectResolution); err == nil {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
							}
						}
					}
				}
			}
		}
	}
	genericNamesCache.Store(p.path, names)
	return names
}
