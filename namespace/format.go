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
	maxElems = 200 // elements of one slice, array or map
	maxDepth = 10  // nesting
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
// as a parenthesized list.
func formatValues(types map[reflect.Type]*typeInfo, vals []interface{}) string {
	f := &formatter{types: types}
	if len(vals) != 1 {
		f.b.WriteByte('(')
	}
	for i, v := range vals {
		if i > 0 {
			f.b.WriteString(", ")
		}
		f.value(reflect.ValueOf(v), false, 0)
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
	return formatValues(nil, []interface{}{v})
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

// value prints v. Inside a composite literal whose type already says it,
// elide leaves out a struct's type name, as Go allows.
func (f *formatter) value(v reflect.Value, elide bool, depth int) {
	if !v.IsValid() {
		f.b.WriteString("nil")
		return
	}
	if depth > maxDepth {
		f.b.WriteString("...")
		return
	}
	t := v.Type()
	if iv, ok := unwrapValueInterface(v); ok {
		f.value(iv, false, depth)
		return
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		if v.IsNil() {
			f.b.WriteString("nil")
			return
		}
	case reflect.Slice, reflect.Map:
		if v.IsNil() {
			f.b.WriteString(f.typeString(t) + "(nil)")
			return
		}
	}
	if v.CanInterface() && isLibraryType(t) {
		// A standard library type, or yaegi's wrapper for an interpreted
		// Stringer or error: its own text.
		switch x := v.Interface().(type) {
		case error:
			if s, ok := callString(x.Error); ok {
				f.b.WriteString(s)
				return
			}
		case fmt.Stringer:
			if s, ok := callString(x.String); ok {
				f.b.WriteString(s)
				return
			}
		}
	}

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
		f.b.WriteString(strconv.Quote(v.String()))
	case reflect.Interface:
		f.value(v.Elem(), false, depth)
	case reflect.Pointer:
		switch t.Elem().Kind() {
		case reflect.Struct, reflect.Array, reflect.Slice, reflect.Map:
			if f.ptrs[v.Pointer()] {
				fmt.Fprintf(&f.b, "(%s)(%#x)", f.typeString(t), v.Pointer())
				return
			}
			if f.ptrs == nil {
				f.ptrs = map[uintptr]bool{}
			}
			f.ptrs[v.Pointer()] = true
			f.b.WriteByte('&')
			f.value(v.Elem(), false, depth+1)
			delete(f.ptrs, v.Pointer())
		default:
			fmt.Fprintf(&f.b, "(%s)(%#x)", f.typeString(t), v.Pointer())
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		fmt.Fprintf(&f.b, "(%s)(%#x)", f.typeString(t), v.Pointer())
	case reflect.Struct:
		f.structValue(v, elide, depth)
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t.Name() == "" && t.Elem().Name() == "uint8" {
			if b := v.Bytes(); utf8.Valid(b) {
				f.b.WriteString("[]byte(" + strconv.Quote(string(b)) + ")")
				return
			}
		}
		if !elide {
			f.b.WriteString(f.typeString(t))
		}
		f.b.WriteByte('{')
		n := v.Len()
		for i := range min(n, maxElems) {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.value(v.Index(i), true, depth+1)
		}
		f.more(n)
		f.b.WriteByte('}')
	case reflect.Map:
		if !elide {
			f.b.WriteString(f.typeString(t))
		}
		f.b.WriteByte('{')
		keys := v.MapKeys()
		sortKeys(keys)
		for i, k := range keys[:min(len(keys), maxElems)] {
			if i > 0 {
				f.b.WriteString(", ")
			}
			f.value(k, true, depth+1)
			f.b.WriteByte(':')
			f.value(v.MapIndex(k), true, depth+1)
		}
		f.more(len(keys))
		f.b.WriteByte('}')
	default:
		fmt.Fprintf(&f.b, "%v", v)
	}
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

func (f *formatter) structValue(v reflect.Value, elide bool, depth int) {
	t := v.Type()
	if t.PkgPath() != "" && v.CanInterface() {
		// A library struct: Go's own syntax, unexported fields included.
		fmt.Fprintf(&f.b, "%#v", v.Interface())
		return
	}
	info := f.types[t]
	if !elide && info != nil {
		f.b.WriteString(info.name)
	}
	f.b.WriteByte('{')
	for i := range t.NumField() {
		if i > 0 {
			f.b.WriteString(", ")
		}
		name := t.Field(i).Name
		if info != nil && len(info.fields) == t.NumField() {
			name = info.fields[i]
		}
		f.b.WriteString(name + ":")
		f.value(v.Field(i), false, depth+1)
	}
	f.b.WriteByte('}')
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
