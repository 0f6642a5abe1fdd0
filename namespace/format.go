package namespace

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/traefik/yaegi/interp"
)

// Limits on how much of a value is printed.
const (
	maxElems       = 200 // elements of one slice, array or map
	maxStringBytes = 200 // bytes of one string or []byte, cut at a rune's start
	maxDepth       = 10  // nesting
)

// A typeInfo is what the namespace knows of a struct type its code declared:
// yaegi gives such types no name in reflect and renames lower-case fields.
type typeInfo struct {
	name   string
	typ    reflect.Type
	fields []string // declared field names, in order
}

// A formatter prints values in Go syntax, the way the REPL shows them.
type formatter struct {
	types map[reflect.Type]*typeInfo // declared struct types, when unambiguous
	b     strings.Builder
	ptrs  map[uintptr]bool // pointers being printed, to cut cycles
}

var (
	errorType    = reflect.TypeOf((*error)(nil)).Elem()
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
)

// formatValues prints the results of an expression: one value alone, several
// as a parenthesized list. static is the interpreter's type of a single
// value, when known: the name the session declared it with.
func formatValues(types map[reflect.Type]*typeInfo, vals []interface{}, static itype) string {
	f := &formatter{types: types}
	if len(vals) != 1 {
		f.b.WriteByte('(')
		static = itype{}
	}
	for i, v := range vals {
		if i > 0 {
			f.b.WriteString(", ")
		}
		f.value(reflect.ValueOf(v), static, false, 0)
	}
	if len(vals) != 1 {
		f.b.WriteByte(')')
	}
	return f.b.String()
}

// formatPanic prints a panic value the way the Go runtime does: strings
// and error messages bare.
func formatPanic(v interface{}) string {
	switch v := v.(type) {
	case reflect.Value: // yaegi panics with the reflect.Value of a variable
		if v.IsValid() && v.CanInterface() {
			return formatPanic(v.Interface())
		}
	case string:
		return v
	case error:
		if s, ok := callString(v.Error); ok {
			return s
		}
	case fmt.Stringer:
		if s, ok := callString(v.String); ok {
			return s
		}
	}
	return formatValues(nil, []interface{}{v}, itype{})
}

// callString calls an Error or String method, which may be interpreted code
// that panics.
func callString(method func() string) (s string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	return method(), true
}

// value prints v, whose type in the interpreter is it when that is known
// (reflect says float64 of a Celsius). Inside a composite literal whose
// type already says it, elide leaves out the value's type, as Go allows.
func (f *formatter) value(v reflect.Value, it itype, elide bool, depth int) {
	if !v.IsValid() {
		f.b.WriteString("nil")
		return
	}
	if depth > maxDepth {
		f.b.WriteString("...")
		return
	}
	t := v.Type()
	if dyn, iv, ok := valueInterfaceParts(v); ok {
		f.value(iv, dyn, false, depth)
		return
	} else if iv, ok := unwrapValueInterface(v); ok {
		f.value(iv, itype{}, false, depth)
		return
	}
	if it.valid() && it.cat() == "interfaceT" {
		it = itype{} // the dynamic type is not known here
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		if v.IsNil() {
			f.b.WriteString("nil")
			return
		}
	case reflect.Slice, reflect.Map:
		if v.IsNil() {
			f.b.WriteString(f.name(t, it) + "(nil)")
			return
		}
	}
	if v.CanInterface() && isLibraryType(t) {
		// A standard library type, or yaegi's wrapper for an interpreted
		// Stringer or error: its own text. An error prints as the value
		// inspect shows and a migration restores when it cannot carry the
		// error's type: errors.New of its message.
		switch x := v.Interface().(type) {
		case error:
			if s, ok := callString(x.Error); ok {
				f.b.WriteString("errors.New(" + quoteValue(s) + ")")
				return
			}
		case fmt.Stringer:
			if s, ok := callString(x.String); ok {
				f.b.WriteString(s)
				return
			}
		}
	}
	if name := declaredName(it); name != "" && !elide && isBasic(t.Kind()) {
		// A type the session declared on a basic type: reflect knows only
		// the basic type.
		f.b.WriteString(name + "(")
		defer f.b.WriteByte(')')
	}
	under := it.underlying()

	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		if v.CanInterface() {
			fmt.Fprintf(&f.b, "%v", v.Interface())
		} else {
			fmt.Fprintf(&f.b, "%v", v)
		}
	case reflect.String:
		f.b.WriteString(quoteValue(v.String()))
	case reflect.Interface:
		f.value(v.Elem(), itype{}, false, depth)
	case reflect.Pointer:
		switch t.Elem().Kind() {
		case reflect.Struct, reflect.Array, reflect.Slice, reflect.Map:
			if f.ptrs[v.Pointer()] {
				fmt.Fprintf(&f.b, "(%s)(%#x)", f.name(t, it), v.Pointer())
				return
			}
			if f.ptrs == nil {
				f.ptrs = map[uintptr]bool{}
			}
			f.ptrs[v.Pointer()] = true
			f.b.WriteByte('&')
			f.value(v.Elem(), under.elem("ptrT"), false, depth+1)
			delete(f.ptrs, v.Pointer())
		default:
			fmt.Fprintf(&f.b, "(%s)(%#x)", f.name(t, it), v.Pointer())
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		fmt.Fprintf(&f.b, "(%s)(%#x)", f.name(t, it), v.Pointer())
	case reflect.Struct:
		f.structValue(v, it, elide, depth)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t.Name() == "" && t.Elem().Name() == "uint8" {
			if b := v.Bytes(); utf8.Valid(b) {
				s := quoteValue(string(b))
				if len(b) > maxStringBytes {
					// The count after the call, which a quoted string
					// would have taken for part of it.
					i := strings.LastIndex(s, " (")
					s = s[:i] + ")" + s[i:len(s)-1] + ")"
				} else {
					s += ")"
				}
				f.b.WriteString("[]byte(" + s)
				return
			}
		}
		if !elide {
			f.b.WriteString(f.name(t, it))
		}
		elem := under.elem("sliceT")
		if t.Kind() == reflect.Array {
			elem = under.elem("arrayT")
		}
		f.b.WriteByte('{')
		n := v.Len()
		for i := range min(n, maxElems) {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.value(v.Index(i), elem, true, depth+1)
		}
		f.more(n)
		f.b.WriteByte('}')
	case reflect.Map:
		if !elide {
			f.b.WriteString(f.name(t, it))
		}
		var kt, vt itype
		if under.valid() && under.cat() == "mapT" {
			kt, vt = under.key(), under.val()
		}
		f.b.WriteByte('{')
		keys := v.MapKeys()
		sortKeys(keys)
		for i, k := range keys[:min(len(keys), maxElems)] {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.value(k, kt, true, depth+1)
			f.b.WriteByte(':')
			f.value(v.MapIndex(k), vt, true, depth+1)
		}
		f.more(len(keys))
		f.b.WriteByte('}')
	default:
		fmt.Fprintf(&f.b, "%v", v)
	}
}

// quoteValue quotes s in Go syntax, its first maxStringBytes only, as
// slices print their first maxElems elements, with the length after.
func quoteValue(s string) string {
	if len(s) <= maxStringBytes {
		return strconv.Quote(s)
	}
	q := strconv.Quote(cut(s, maxStringBytes))
	return q[:len(q)-1] + "…\" (" + strconv.Itoa(len(s)) + " bytes)"
}

func isBasic(k reflect.Kind) bool {
	return k >= reflect.Bool && k <= reflect.Complex128 || k == reflect.String
}

// name is the type of a value as Go source spells it: the declared name
// from the interpreter's type when known, else from reflect.
func (f *formatter) name(t reflect.Type, it itype) string {
	if s := f.itypeName(it, 0); s != "" {
		return s
	}
	return f.typeString(t)
}

// declaredName is the name a type was declared with in the session, or "".
func declaredName(t itype) string {
	if !t.valid() || t.path() != "main" {
		return ""
	}
	return t.name()
}

// underlying is t without the names the session gave it, or t invalid.
func (t itype) underlying() itype {
	for range maxDepth {
		if !t.valid() || t.cat() != "linkedT" {
			return t
		}
		t = t.val()
	}
	return itype{}
}

// elem is the element type of t if t is of category cat, else invalid.
func (t itype) elem(cat string) itype {
	if !t.valid() || t.cat() != cat {
		return itype{}
	}
	return t.val()
}

// itypeName writes an interpreter type the way the session spells it, or
// returns "" for what it cannot name.
func (f *formatter) itypeName(t itype, depth int) string {
	if !t.valid() || depth > maxDepth {
		return ""
	}
	if name := declaredName(t); name != "" {
		return name
	}
	cat := t.cat()
	if b, ok := basicTypes[cat]; ok {
		return b
	}
	elem := func(prefix string) string {
		if e := f.itypeName(t.val(), depth+1); e != "" {
			return prefix + e
		}
		return ""
	}
	switch cat {
	case "errorT":
		return "error"
	case "valueT":
		if rt := t.rtype(); rt != nil {
			return f.typeString(rt)
		}
	case "ptrT":
		return elem("*")
	case "sliceT":
		return elem("[]")
	case "arrayT":
		return elem("[" + strconv.Itoa(t.length()) + "]")
	case "chanT":
		return elem("chan ")
	case "chanSendT":
		return elem("chan<- ")
	case "chanRecvT":
		return elem("<-chan ")
	case "linkedT":
		return elem("")
	case "mapT":
		k, e := f.itypeName(t.key(), depth+1), f.itypeName(t.val(), depth+1)
		if k != "" && e != "" {
			return "map[" + k + "]" + e
		}
	case "interfaceT":
		if len(t.fields()) == 0 {
			return "interface{}"
		}
	}
	return ""
}

// isLibraryType reports whether t (or what it points to) is a named type
// of compiled code; types declared by interpreted code have no name.
func isLibraryType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() != reflect.Interface && t.PkgPath() != ""
}

func (f *formatter) more(n int) {
	if n > maxElems {
		fmt.Fprintf(&f.b, ", ... (%d more)", n-maxElems)
	}
}

func (f *formatter) structValue(v reflect.Value, it itype, elide bool, depth int) {
	t := v.Type()
	if t.PkgPath() != "" && v.CanInterface() {
		// A library struct: Go's own syntax, unexported fields included.
		fmt.Fprintf(&f.b, "%#v", v.Interface())
		return
	}
	info := f.types[t]
	if !elide {
		if name := declaredName(it); name != "" {
			f.b.WriteString(name)
		} else if info != nil {
			f.b.WriteString(info.name)
		} else {
			f.b.WriteString(f.structType(t, it)) // a literal of a struct type
		}
	}
	var fields []itype
	var names []string
	if under := it.underlying(); under.valid() && under.cat() == "structT" {
		for _, fl := range under.fields() {
			fields = append(fields, fl.typ)
			names = append(names, fl.name)
		}
	}
	if len(fields) != t.NumField() {
		fields, names = nil, nil
	}
	f.b.WriteByte('{')
	for i := range t.NumField() {
		if i > 0 {
			f.b.WriteString(", ")
		}
		name := t.Field(i).Name
		var ft itype
		switch {
		case names != nil:
			name, ft = names[i], fields[i]
		case info != nil && len(info.fields) == t.NumField():
			name = info.fields[i]
		}
		f.b.WriteString(name + ":")
		// A field's type is the struct's to say, unless it is a struct
		// (Go's %#v names those).
		f.value(v.Field(i), ft, isBasic(v.Field(i).Kind()), depth+1)
	}
	f.b.WriteByte('}')
}

// structType spells a struct type that has no name in the session the way
// Go's %#v does (struct { A int; B string }), with the field names the code
// declared when the interpreter's type is known (reflect's are renamed).
func (f *formatter) structType(t reflect.Type, it itype) string {
	var fields []string
	under := it.underlying()
	if under.valid() && under.cat() == "structT" && len(under.fields()) == t.NumField() {
		for k, fl := range under.fields() {
			typ := f.itypeName(fl.typ, 1)
			if typ == "" {
				typ = f.typeString(t.Field(k).Type)
			}
			if fl.embed {
				fields = append(fields, typ)
			} else {
				fields = append(fields, fl.name+" "+typ)
			}
		}
	} else {
		for k := range t.NumField() {
			fl := t.Field(k)
			if fl.Anonymous {
				fields = append(fields, f.typeString(fl.Type))
			} else {
				fields = append(fields, fl.Name+" "+f.typeString(fl.Type))
			}
		}
	}
	if len(fields) == 0 {
		return "struct {}"
	}
	return "struct { " + strings.Join(fields, "; ") + " }"
}

// typeString is t as Go source would spell it, with the declared names of
// interpreted struct types.
func (f *formatter) typeString(t reflect.Type) string {
	if info := f.types[t]; info != nil {
		return info.name
	}
	if it, _ := valueInterface(); t == it {
		return "interface{...}" // some interface type the code declared
	}
	if t.Name() != "" {
		return t.String()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + f.typeString(t.Elem())
	case reflect.Slice:
		return "[]" + f.typeString(t.Elem())
	case reflect.Array:
		return "[" + strconv.Itoa(t.Len()) + "]" + f.typeString(t.Elem())
	case reflect.Map:
		return "map[" + f.typeString(t.Key()) + "]" + f.typeString(t.Elem())
	case reflect.Chan:
		switch t.ChanDir() {
		case reflect.RecvDir:
			return "<-chan " + f.typeString(t.Elem())
		case reflect.SendDir:
			return "chan<- " + f.typeString(t.Elem())
		}
		return "chan " + f.typeString(t.Elem())
	}
	return t.String()
}

// sortKeys orders map keys the way fmt does for the common kinds.
func sortKeys(keys []reflect.Value) {
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Kind() != b.Kind() {
			return a.Kind() < b.Kind()
		}
		switch a.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return a.Int() < b.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return a.Uint() < b.Uint()
		case reflect.Float32, reflect.Float64:
			return a.Float() < b.Float()
		case reflect.String:
			return a.String() < b.String()
		case reflect.Bool:
			return !a.Bool() && b.Bool()
		}
		return fmt.Sprint(a) < fmt.Sprint(b)
	})
}

// yaegi stores a value of a non-empty interface type declared by
// interpreted code (and of error in interpreted structs) as its unexported
// struct valueInterface{node *node; value reflect.Value}; its type is only
// reachable through such a value.
var valueInterface = sync.OnceValues(func() (reflect.Type, int) {
	v, err := interp.New(interp.Options{SourcecodeFilesystem: emptyFS{}}).Eval("make([]interface{ M() }, 0)")
	if err != nil || !v.IsValid() || v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Struct {
		return nil, -1
	}
	t := v.Type().Elem()
	f, ok := t.FieldByName("value")
	if !ok || f.Type != reflect.TypeOf(reflect.Value{}) || len(f.Index) != 1 {
		return nil, -1
	}
	return t, f.Index[0]
})

// unwrapValueInterface returns the value inside a yaegi valueInterface.
func unwrapValueInterface(v reflect.Value) (reflect.Value, bool) {
	t, field := valueInterface()
	if t == nil || v.Type() != t {
		return reflect.Value{}, false
	}
	c := reflect.New(t).Elem()
	c.Set(v)
	return *(*reflect.Value)(unsafe.Pointer(c.Field(field).UnsafeAddr())), true
}

// Fit fits a printed value to a window width columns wide and maxLines
// lines high: it breaks a line after a ", " where one falls in the second
// half of the line, else at the width, and ends a value it cut short with
// the count of bytes left out. A width or maxLines below 1 leaves s as it
// is. Columns are counted in runes.
func Fit(s string, width, maxLines int) string {
	if width < 1 || maxLines < 1 {
		return s
	}
	type line struct{ start, end int } // in s
	var lines []line
	for start := 0; start <= len(s); {
		nl := strings.IndexByte(s[start:], '\n')
		stop := len(s)
		if nl >= 0 {
			stop = start + nl
		}
		for utf8.RuneCountInString(s[start:stop]) > width {
			end := start + runeOffset(s[start:stop], width)
			if i := strings.LastIndex(s[start:end], ", "); i >= 0 && i+2 > (end-start)/2 {
				end = start + i + 2
			}
			lines = append(lines, line{start, end})
			start = end
		}
		lines = append(lines, line{start, stop})
		start = stop + 1
	}
	var b strings.Builder
	for k, l := range lines {
		if k > 0 {
			b.WriteByte('\n')
		}
		text := s[l.start:l.end]
		if k == maxLines-1 && len(lines) > maxLines {
			more := fmt.Sprintf("… (%d more bytes)", len(s)-l.start)
			room := max(width-utf8.RuneCountInString(more), 0)
			text = text[:runeOffset(text, room)]
			more = fmt.Sprintf("… (%d more bytes)", len(s)-l.start-len(text))
			b.WriteString(text + more)
			break
		}
		b.WriteString(strings.TrimRight(text, " "))
	}
	return b.String()
}

// minFold is the narrowest window Fold folds text for:
// narrower, a fold leaves too little on each line to read better than the
// terminal's own wrap.
const minFold = 20

// Fold folds each line of text longer than width at its last space that
// fits, as prose reads best (a terminal wraps mid-word): Fit is for
// values, Fold for the REPL's own text. A folded line goes on under the
// start of its text (the doc line of :doc), or under its second column
// for a table row (:help, :vars). Spaces inside a line stay; a word longer
// than a line is cut where the line ends.
func Fold(text string, width int) string {
	if width < minFold || utf8.RuneCountInString(text) <= width && !strings.Contains(text, "\n") {
		return text
	}
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		foldLine(&b, line, width)
	}
	return b.String()
}

// foldLine writes line to b, folded at width (see Fold).
func foldLine(b *strings.Builder, line string, width int) {
	hang := hangIndent(line)
	if hang > width/2 {
		hang = 0
	}
	pad := strings.Repeat(" ", hang)
	for k := 0; utf8.RuneCountInString(line) > width; k++ {
		cut := runeOffset(line, width) // line[:cut] fits
		from := 0                      // a fold falls after the indent
		if k > 0 {
			from = hang
		} else {
			from = len(line) - len(strings.TrimLeft(line, " \r"))
		}
		brk := strings.LastIndexByte(line[:cut+1], ' ') // a space just past the end fits too
		if brk <= from {
			brk = cut // one word longer than the line
		}
		b.WriteString(strings.TrimRight(line[:brk], " "))
		b.WriteByte('\n')
		line = pad + strings.TrimLeft(line[brk:], " ")
	}
	b.WriteString(line)
}

// hangIndent is the column a folded line goes on at: that of a table
// row's second column (a word, then two spaces or more), else that of the
// line's first word.
func hangIndent(line string) int {
	lead := len(line) - len(strings.TrimLeft(line, " "))
	rest := line[lead:]
	word := strings.IndexByte(rest, ' ')
	if word > 0 && strings.HasPrefix(rest[word:], "  ") {
		gap := len(rest[word:]) - len(strings.TrimLeft(rest[word:], " "))
		if word+gap < len(rest) {
			return utf8.RuneCountInString(line[:lead+word+gap])
		}
	}
	return utf8.RuneCountInString(line[:lead])
}

// runeOffset is the byte offset of the n-th rune of s, or len(s).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
