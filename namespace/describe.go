package namespace

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/big"
	"net/netip"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Describe and Graph show a Snapshot to people, and to tools that draw it:
// `translucent inspect` prints a snapshot file with them. A snapshot file
// comes from disk, so nothing in a Snapshot is trusted here either: a bad
// reference is shown as <bad ref N>, a cycle is cut, and every rendering
// has a size, a depth and a count of elements it stops at. The types that
// give values their shape are read back from their Go source (the
// variables' types, Types, and the journal's type declarations); a type
// that cannot be read is shown by position rather than refused.
//
// Nodes are named #N after their reference (Snapshot.Nodes[N-1]) in both
// the text and the graph. A node that more than one value refers to is
// labelled where it is first shown (#N=…) and named after that: <same as
// #N> when shown again, <cycle: #N> inside itself. A pointer to a
// variable is shown as &name.

// Limits of what Describe and Graph show.
const (
	describeMaxValue  = 512      // bytes of one variable's rendered value
	describeMaxElems  = 16       // elements of a slice, array, map or struct shown
	describeMaxShares = 16       // variables named as sharing a variable's values
	describeMaxDepth  = 8        // nesting shown
	describeMaxStr    = 200      // bytes of a string shown
	describeMaxDecl   = 16 << 10 // bytes of one declaration shown
	describeMaxType   = 200      // bytes of a type's name
	describeMaxTypes  = 1 << 16  // types made, against hostile journals
	typeMaxDepth      = 64       // nesting of a type resolved
	formMaxBytes      = 4 << 10  // encodings decoded for display
)

// Description is a Snapshot for people: what Restore would declare and the
// values it would set.
type Description struct {
	Imports      []string         `json:"imports"`      // as written: "fmt", str "strconv"
	Declarations []string         `json:"declarations"` // the journal's entries other than imports
	Vars         []VarDescription `json:"vars"`
}

// VarDescription is one variable of a Description.
type VarDescription struct {
	Name string `json:"name"`
	Type string `json:"type"` // as the user's code would write it

	// Value is a Go-like rendering of the value: Point{X: 1, Y: 2}, &p
	// for a pointer to variable p, #N= and <same as #N> for a node
	// shared with other values, <cycle: #N> for a reference back. It is
	// cut with "…" past a size, a depth or a number of elements.
	Value string `json:"value"`

	// Carried is false when the snapshot holds no value for the variable:
	// it arrives at its zero value, which Value shows. That is right for a
	// nil channel; for one that was not nil, or a variable dropped by
	// request, the session's notes say what was lost.
	Carried bool `json:"carried"`

	Node int `json:"node,omitempty"` // the variable's own node, #N

	// Shares names other variables that reach a value this one reaches:
	// a change through one shows through the others (the first few).
	Shares []string `json:"shares,omitempty"`
}

// Describe returns s for people. It fails only for a snapshot of another
// version, whose encoding it cannot know; anything else that is wrong in s
// is shown where it is.
func (s *Snapshot) Describe() (Description, error) {
	if s == nil {
		return Description{}, errors.New("namespace: describe: no snapshot")
	}
	if s.Version != SnapshotVersion {
		return Description{}, fmt.Errorf("namespace: snapshot version %d, this build describes version %d", s.Version, SnapshotVersion)
	}
	d := newDescriber(s)
	desc := Description{Imports: d.env.importList, Declarations: d.env.declList}
	reached := map[int][]int{} // shared node → the variables reaching it, the first describeMaxShares+1
	for k, v := range s.Vars {
		t := d.env.source(v.Type, v.At)
		w := d.newWriter(describeMaxValue)
		vd := VarDescription{Name: varName(v.Name), Type: d.env.display(v.Type, describeMaxType), Carried: v.Value != 0}
		if d.valid(v.Value) {
			vd.Node = v.Value
		}
		if v.Value == 0 {
			w.zero(t, false)
		} else if w.enter(v.Value) {
			w.content(v.Value, t, false, 0)
			w.leave(v.Value)
		}
		vd.Value = w.String()
		for ref := range w.reached {
			if ks := reached[ref]; len(ks) <= describeMaxShares && !slices.Contains(ks, k) {
				reached[ref] = append(ks, k)
			}
		}
		desc.Vars = append(desc.Vars, vd)
	}
	for _, ks := range reached {
		for _, a := range ks {
			for _, b := range ks {
				shares := desc.Vars[a].Shares
				if a != b && len(shares) < describeMaxShares && !slices.Contains(shares, s.Vars[b].Name) {
					desc.Vars[a].Shares = append(shares, s.Vars[b].Name)
				}
			}
		}
	}
	for k := range desc.Vars {
		slices.Sort(desc.Vars[k].Shares)
	}
	return desc, nil
}

// A describer holds what the renderings of one Snapshot share.
type describer struct {
	s      *Snapshot
	env    *typeEnv
	varOf  map[int]int   // node → the variable whose storage it is
	shared []bool        // by node: referred to more than once
	orders map[int][]int // map node → the order of its keys, sorted once
}

func newDescriber(s *Snapshot) *describer {
	d := &describer{s: s, env: newTypeEnv(s), varOf: map[int]int{}, shared: make([]bool, len(s.Nodes)+1), orders: map[int][]int{}}
	counts := make([]uint8, len(s.Nodes)+1)
	count := func(ref int) {
		if d.valid(ref) && counts[ref] < 2 {
			counts[ref]++
		}
	}
	for k, v := range s.Vars {
		count(v.Value)
		if _, ok := d.varOf[v.Value]; d.valid(v.Value) && !ok {
			d.varOf[v.Value] = k
		}
	}
	for k := range s.Nodes {
		n := &s.Nodes[k]
		count(n.V.Ref)
		for _, v := range n.Elems {
			count(v.Ref)
		}
		for _, v := range n.Keys {
			count(v.Ref)
		}
	}
	for ref, c := range counts {
		d.shared[ref] = c > 1
	}
	return d
}

func (d *describer) valid(ref int) bool { return ref > 0 && ref <= len(d.s.Nodes) }

func (d *describer) node(ref int) *Node { return &d.s.Nodes[ref-1] }

// A valueWriter renders values into a bounded buffer.
type valueWriter struct {
	d       *describer
	b       strings.Builder
	max     int
	onPath  map[int]bool // nodes being rendered: a reference to one is a cycle
	done    map[int]bool // nodes rendered: each is rendered once
	reached map[int]bool // shared nodes and variables' nodes reached
}

func (d *describer) newWriter(limit int) *valueWriter {
	return &valueWriter{d: d, max: limit, onPath: map[int]bool{}, done: map[int]bool{}, reached: map[int]bool{}}
}

func (w *valueWriter) full() bool { return w.b.Len() > w.max }

func (w *valueWriter) write(s string) {
	if !w.full() {
		w.b.WriteString(s)
	}
}

// String is what was written, cut at the writer's size.
func (w *valueWriter) String() string {
	s := w.b.String()
	if len(s) <= w.max {
		return s
	}
	return cut(s, w.max) + "…"
}

// enter begins the rendering of node ref, or renders what stands for it
// instead (a bad reference, a cycle, a node already shown) and returns
// false.
func (w *valueWriter) enter(ref int) bool {
	d := w.d
	switch {
	case !d.valid(ref):
		w.write(fmt.Sprintf("<bad ref %d>", ref))
		return false
	case w.onPath[ref]:
		w.write(fmt.Sprintf("<cycle: #%d>", ref))
		return false
	case w.done[ref]:
		w.write(fmt.Sprintf("<same as #%d>", ref))
		return false
	}
	_, isVar := d.varOf[ref]
	if d.shared[ref] || isVar {
		w.reached[ref] = true
	}
	if d.shared[ref] && !isVar {
		w.write(fmt.Sprintf("#%d=", ref))
	}
	w.onPath[ref] = true
	return true
}

func (w *valueWriter) leave(ref int) {
	delete(w.onPath, ref)
	w.done[ref] = true
}

// value renders v, of type t. elide leaves out the type of a composite
// literal, as Go allows for the elements of a slice, array or map.
func (w *valueWriter) value(v Value, t *dtype, elide bool, depth int) {
	if w.full() {
		return
	}
	u := t.underlying()
	switch u.kind {
	case kBool, kInt, kUint, kFloat, kComplex, kString:
		w.write(scalar(v, t))
	case kChan, kFunc:
		w.write("nil") // never carried
	case kPointer:
		if v.Ref == 0 {
			w.write("nil")
			return
		}
		if k, ok := w.d.varOf[v.Ref]; ok {
			w.reached[v.Ref] = true
			w.write("&" + w.d.s.Vars[k].Name)
			return
		}
		if w.enter(v.Ref) {
			w.write("&")
			w.content(v.Ref, u.elem, false, depth+1)
			w.leave(v.Ref)
		}
	case kSlice, kMap:
		if v.Ref == 0 {
			w.write("nil")
			return
		}
		if w.enter(v.Ref) {
			w.own(v.Ref, t, elide, depth+1)
			w.leave(v.Ref)
		}
	default: // struct, array, interface, unknown
		if v.Ref == 0 {
			if u.kind == kUnknown && v != (Value{}) {
				w.write(guessScalar(v))
				return
			}
			w.zero(t, elide)
			return
		}
		if w.enter(v.Ref) {
			w.content(v.Ref, t, elide, depth+1)
			w.leave(v.Ref)
		}
	}
}

// content renders node ref as a value of type t: a variable, what a
// pointer points to, a struct, array or interface value.
func (w *valueWriter) content(ref int, t *dtype, elide bool, depth int) {
	if depth > describeMaxDepth {
		w.write("…")
		return
	}
	n := w.d.node(ref)
	if n.Form != "" {
		w.write(w.d.form(n, t))
		return
	}
	u := t.underlying()
	switch u.kind {
	case kStruct:
		w.structLit(n, t, u, elide, depth)
	case kArray:
		w.list(n, t, u, elide, depth)
	case kInterface:
		w.iface(n, depth)
	case kUnknown:
		w.guess(n, t, depth)
	default:
		if composite(n) {
			w.guess(n, t, depth)
			return
		}
		w.value(n.V, t, elide, depth)
	}
}

// own renders node ref as the slice or map it is.
func (w *valueWriter) own(ref int, t *dtype, elide bool, depth int) {
	if depth > describeMaxDepth {
		w.write("…")
		return
	}
	n := w.d.node(ref)
	u := t.underlying()
	switch {
	case n.Form != "":
		w.write(w.d.form(n, t))
	case u.kind == kMap:
		w.mapLit(ref, t, u, elide, depth)
	default:
		w.list(n, t, u, elide, depth)
	}
}

func (w *valueWriter) typeName(t *dtype, elide bool) {
	if !elide {
		w.write(t.name)
	}
}

func (w *valueWriter) structLit(n *Node, t, u *dtype, elide bool, depth int) {
	if len(n.Elems) != len(u.fields) {
		w.guess(n, t, depth) // not this type's shape: by position
		return
	}
	w.typeName(t, elide)
	w.write("{")
	for k, f := range u.fields {
		if w.full() {
			return
		}
		if k == describeMaxElems {
			w.more(len(u.fields) - k)
			break
		}
		if k > 0 {
			w.write(", ")
		}
		w.write(f.name + ": ")
		w.value(n.Elems[k], f.typ, false, depth+1)
	}
	w.write("}")
}

func (w *valueWriter) more(n int) {
	w.write(fmt.Sprintf(", … (%d more)", n))
}

// list renders an array or slice node, whose elements are packed by kind.
func (w *valueWriter) list(n *Node, t, u *dtype, elide bool, depth int) {
	et := u.elem
	if u.kind == kSlice && isByte(et) && len(n.Elems) == 0 {
		w.write(t.name + "(" + quote(string(n.Bytes), describeMaxStr) + ")")
		return
	}
	elems, ok := packed(n, et)
	if !ok {
		w.guess(n, t, depth)
		return
	}
	w.typeName(t, elide)
	w.write("{")
	for k := range elems.n {
		if w.full() {
			return
		}
		if k == describeMaxElems {
			w.more(elems.n - k)
			break
		}
		if k > 0 {
			w.write(", ")
		}
		w.value(elems.at(k), et, true, depth+1)
	}
	w.write("}")
}

func (w *valueWriter) mapLit(ref int, t, u *dtype, elide bool, depth int) {
	n := w.d.node(ref)
	w.typeName(t, elide)
	w.write("{")
	l := min(len(n.Keys), len(n.Elems))
	for i, k := range w.d.mapOrder(ref, u.key) {
		if w.full() {
			return
		}
		if i == describeMaxElems {
			w.more(l - i)
			break
		}
		if i > 0 {
			w.write(", ")
		}
		w.value(n.Keys[k], u.key, true, depth+1)
		w.write(": ")
		w.value(n.Elems[k], u.elem, true, depth+1)
	}
	if len(n.Keys) != len(n.Elems) {
		w.write(fmt.Sprintf(" <bad map: %d keys, %d values>", len(n.Keys), len(n.Elems)))
	}
	w.write("}")
}

// iface renders an interface node: its dynamic value, converted to its
// dynamic type where the value alone would not say it (Celsius(3)).
func (w *valueWriter) iface(n *Node, depth int) {
	if n.Type == 0 {
		if composite(n) || n.V != (Value{}) {
			w.guess(n, unknownType, depth)
			return
		}
		w.write("nil")
		return
	}
	dt, ok := w.d.dynType(n)
	if !ok {
		w.write(fmt.Sprintf("<bad type %d>", n.Type))
		return
	}
	if needsConversion(dt, n.V) {
		w.write(dt.name + "(")
		w.value(n.V, dt, false, depth)
		w.write(")")
		return
	}
	w.value(n.V, dt, false, depth)
}

// guess renders a node whose type is unknown, or does not fit it, by
// position: a map's pairs, or the elements it has.
func (w *valueWriter) guess(n *Node, t *dtype, depth int) {
	switch {
	case n.Form != "":
		w.write(w.d.form(n, t))
		return
	case n.Type != 0:
		w.iface(n, depth)
		return
	}
	name := t.name
	if t.kind == kUnknown && name == unknownType.name {
		name = ""
	}
	switch {
	case len(n.Keys) > 0:
		w.write(name + "{")
		for k := range n.Keys {
			if w.full() {
				return
			}
			if k == describeMaxElems {
				w.more(len(n.Keys) - k)
				break
			}
			if k > 0 {
				w.write(", ")
			}
			w.value(n.Keys[k], unknownType, true, depth+1)
			w.write(": ")
			if k < len(n.Elems) {
				w.value(n.Elems[k], unknownType, true, depth+1)
			}
		}
		w.write("}")
	case composite(n):
		elems := anyPacked(n)
		w.write(name + "{")
		for k := range elems.n {
			if w.full() {
				return
			}
			if k == describeMaxElems {
				w.more(elems.n - k)
				break
			}
			if k > 0 {
				w.write(", ")
			}
			w.value(elems.at(k), elems.typ, true, depth+1)
		}
		w.write("}")
	default:
		w.value(n.V, unknownType, true, depth)
	}
}

// zero renders the zero value of t.
func (w *valueWriter) zero(t *dtype, elide bool) {
	u := t.underlying()
	switch u.kind {
	case kBool, kInt, kUint, kFloat, kComplex, kString:
		w.write(scalar(Value{}, t))
	case kStruct, kArray:
		w.typeName(t, elide)
		w.write("{}")
	case kUnknown:
		w.write("<zero>")
	default:
		w.write("nil")
	}
}

// scalar renders a value of a basic kind.
func scalar(v Value, t *dtype) string {
	u := t.underlying()
	switch u.kind {
	case kBool:
		return strconv.FormatBool(v.Bool)
	case kInt:
		if t.pkg == "time" {
			switch t.name {
			case "time.Duration":
				return time.Duration(v.Int).String()
			case "time.Month":
				if v.Int >= 1 && v.Int <= 12 {
					return "time." + time.Month(v.Int).String()
				}
			case "time.Weekday":
				if v.Int >= 0 && v.Int <= 6 {
					return "time." + time.Weekday(v.Int).String()
				}
			}
		}
		return strconv.FormatInt(v.Int, 10)
	case kUint:
		return strconv.FormatUint(v.Uint, 10)
	case kFloat:
		f := math.Float64frombits(v.Uint)
		if u.bits == 32 {
			return strconv.FormatFloat(float64(float32(f)), 'g', -1, 32)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case kComplex:
		return strconv.FormatComplex(complex(math.Float64frombits(v.Uint), math.Float64frombits(v.Imag)), 'g', -1, 128)
	case kString:
		return quote(v.Str, describeMaxStr)
	}
	return guessScalar(v)
}

// guessScalar renders a scalar Value of an unknown type: whichever field
// is set.
func guessScalar(v Value) string {
	switch {
	case v.Str != "":
		return quote(v.Str, describeMaxStr)
	case v.Bool:
		return "true"
	case v.Int != 0:
		return strconv.FormatInt(v.Int, 10)
	case v.Uint != 0 || v.Imag != 0:
		return strconv.FormatUint(v.Uint, 10)
	case v.Ref != 0:
		return fmt.Sprintf("<#%d>", v.Ref)
	}
	return "<zero>"
}

// needsConversion reports whether an interface's dynamic value needs its
// type written around it: a named type or a basic type other than the
// one a literal of that value has.
func needsConversion(t *dtype, v Value) bool {
	switch t.underlying().kind {
	case kBool, kInt, kUint, kFloat, kComplex, kString:
		switch t.name {
		case "float64":
			// 3 would read as an int.
			f := math.Float64frombits(v.Uint)
			return f == math.Trunc(f) && !math.IsInf(f, 0)
		case "bool", "int", "complex128", "string", "time.Duration", "time.Month", "time.Weekday":
			return false
		}
		return true
	case kUnknown:
		return v.Ref == 0 && t.name != unknownType.name
	}
	return false
}

// composite reports whether n holds more than a scalar.
func composite(n *Node) bool {
	return len(n.Elems)+len(n.Keys)+len(n.Ints)+len(n.Uints)+len(n.Strs)+len(n.Bools)+len(n.Bytes) > 0
}

func isByte(t *dtype) bool {
	u := t.underlying()
	return u.kind == kUint && u.bits == 8
}

// elements are the elements of an array or slice node, wherever they are
// packed.
type elements struct {
	n   int
	at  func(int) Value
	typ *dtype // of the elements, when guessed
}

// packed returns the elements of n for element type et, and false when n
// has them elsewhere (n is not of this type).
func packed(n *Node, et *dtype) (elements, bool) {
	var e elements
	switch u := et.underlying(); {
	case u.kind == kUint && u.bits == 8:
		e = elements{n: len(n.Bytes), at: func(k int) Value { return Value{Uint: uint64(n.Bytes[k])} }}
	case u.kind == kInt:
		e = elements{n: len(n.Ints), at: func(k int) Value { return Value{Int: n.Ints[k]} }}
	case u.kind == kUint || u.kind == kFloat:
		e = elements{n: len(n.Uints), at: func(k int) Value { return Value{Uint: n.Uints[k]} }}
	case u.kind == kString:
		e = elements{n: len(n.Strs), at: func(k int) Value { return Value{Str: n.Strs[k]} }}
	case u.kind == kBool:
		e = elements{n: len(n.Bools), at: func(k int) Value { return Value{Bool: n.Bools[k]} }}
	case u.kind == kUnknown:
		return anyPacked(n), true
	default:
		e = elements{n: len(n.Elems), at: func(k int) Value { return n.Elems[k] }}
	}
	if e.n == 0 && composite(n) {
		return e, false
	}
	return e, true
}

// anyPacked returns the elements of n, of whichever kind it has.
func anyPacked(n *Node) elements {
	switch {
	case len(n.Elems) > 0:
		return elements{n: len(n.Elems), at: func(k int) Value { return n.Elems[k] }, typ: unknownType}
	case len(n.Ints) > 0:
		return elements{n: len(n.Ints), at: func(k int) Value { return Value{Int: n.Ints[k]} }, typ: predeclared["int64"]}
	case len(n.Uints) > 0:
		return elements{n: len(n.Uints), at: func(k int) Value { return Value{Uint: n.Uints[k]} }, typ: predeclared["uint64"]}
	case len(n.Strs) > 0:
		return elements{n: len(n.Strs), at: func(k int) Value { return Value{Str: n.Strs[k]} }, typ: predeclared["string"]}
	case len(n.Bools) > 0:
		return elements{n: len(n.Bools), at: func(k int) Value { return Value{Bool: n.Bools[k]} }, typ: predeclared["bool"]}
	}
	return elements{n: len(n.Bytes), at: func(k int) Value { return Value{Uint: uint64(n.Bytes[k])} }, typ: predeclared["uint8"]}
}

// mapOrder returns the order in which to show the keys of map node ref:
// sorted when they are of a basic kind, as fmt sorts them; as stored
// otherwise (the order of the map's iteration when the snapshot was
// taken). A map is sorted once, however many values share it.
func (d *describer) mapOrder(ref int, kt *dtype) []int {
	if order, ok := d.orders[ref]; ok {
		return order
	}
	n := d.node(ref)
	keys := n.Keys[:min(len(n.Keys), len(n.Elems))]
	order := make([]int, len(keys))
	d.orders[ref] = order
	for k := range order {
		order[k] = k
	}
	u := kt.underlying()
	var less func(a, b Value) int
	switch u.kind {
	case kInt:
		less = func(a, b Value) int { return cmpOrdered(a.Int, b.Int) }
	case kUint:
		less = func(a, b Value) int { return cmpOrdered(a.Uint, b.Uint) }
	case kFloat:
		less = func(a, b Value) int { return cmpOrdered(math.Float64frombits(a.Uint), math.Float64frombits(b.Uint)) }
	case kString:
		less = func(a, b Value) int { return strings.Compare(a.Str, b.Str) }
	case kBool:
		less = func(a, b Value) int {
			switch {
			case a.Bool == b.Bool:
				return 0
			case b.Bool:
				return -1
			}
			return 1
		}
	default:
		return order
	}
	slices.SortStableFunc(order, func(a, b int) int { return less(keys[a], keys[b]) })
	return order
}

func cmpOrdered[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dynType returns the dynamic type of interface node n.
func (d *describer) dynType(n *Node) (*dtype, bool) {
	if n.Type < 1 || n.Type > len(d.s.Types) {
		return nil, false
	}
	// Restore compiles them after the whole journal.
	return d.env.source(d.s.Types[n.Type-1], len(d.s.Journal)), true
}

// form renders a value of a package type that its own methods carry.
func (d *describer) form(n *Node, t *dtype) string {
	name := t.name
	if t.kind == kUnknown && name == unknownType.name {
		name = ""
	}
	named := func(def string) string {
		if name != "" {
			return name
		}
		return def
	}
	switch n.Form {
	case formError:
		return "errors.New(" + quote(n.V.Str, describeMaxStr) + ")"
	case formTime:
		var tm time.Time
		if len(n.Bytes) > formMaxBytes || tm.UnmarshalBinary(n.Bytes) != nil {
			return "time.Time(<bad encoding>)"
		}
		return tm.Format("2006-01-02 15:04:05.999999999 -0700") + " " + printable(cut(n.V.Str, 64))
	case formLocation:
		switch n.V.Str {
		case "UTC", "Local":
			return "time." + n.V.Str
		}
		return fmt.Sprintf("time.FixedZone(%s, %d)", quote(n.V.Str, 64), n.V.Int)
	case formBuilder:
		return named("strings.Builder") + "(" + quote(n.V.Str, describeMaxStr) + ")"
	case formBuffer:
		return named("bytes.Buffer") + "(" + quote(string(n.Bytes), describeMaxStr) + ")"
	case formText:
		return named("?") + "(" + quote(string(n.Bytes), describeMaxStr) + ")"
	case formGob, formBinary:
		if s, ok := decodeForm(t, n); ok {
			return named("?") + "(" + s + ")"
		}
		return fmt.Sprintf("%s(<%d bytes>)", named("?"), len(n.Bytes))
	}
	return fmt.Sprintf("<form %s>", quote(n.Form, 32))
}

// decodeForm renders the encoding of a few package types whose decoders
// are safe on any input of a bounded size; others are shown as a size.
func decodeForm(t *dtype, n *Node) (s string, ok bool) {
	if len(n.Bytes) > formMaxBytes {
		return "", false
	}
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	switch t.pkg + " " + t.name {
	case "math/big big.Int":
		var x big.Int
		if x.GobDecode(n.Bytes) == nil {
			return x.String(), true
		}
	case "math/big big.Rat":
		var x big.Rat
		if x.GobDecode(n.Bytes) == nil {
			return x.RatString(), true
		}
	case "math/big big.Float":
		var x big.Float
		// Printing a huge exponent in decimal takes as long as the
		// exponent is large.
		if x.GobDecode(n.Bytes) == nil && (x.IsInf() || x.MantExp(nil) > -1<<12 && x.MantExp(nil) < 1<<12) {
			return x.Text('g', 20), true
		}
	case "net/url url.URL":
		return quote(string(n.Bytes), describeMaxStr), true // URL.MarshalBinary is its String
	case "net/netip netip.Addr":
		var x netip.Addr
		if x.UnmarshalBinary(n.Bytes) == nil {
			return x.String(), true
		}
	case "net/netip netip.AddrPort":
		var x netip.AddrPort
		if x.UnmarshalBinary(n.Bytes) == nil {
			return x.String(), true
		}
	case "net/netip netip.Prefix":
		var x netip.Prefix
		if x.UnmarshalBinary(n.Bytes) == nil {
			return x.String(), true
		}
	}
	return "", false
}

// quote quotes s, cut to n bytes.
func quote(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s, n)) + "…"
}

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// printable is s with control characters (a file's content must not drive
// a terminal) and invalid UTF-8 replaced.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// Types are read back from Go source into dtypes, enough to give values
// their shape: fields' names, elements' types.

type dkind uint8

const (
	kUnknown dkind = iota
	kBool
	kInt
	kUint
	kFloat
	kComplex
	kString
	kPointer
	kSlice
	kArray
	kMap
	kChan
	kFunc
	kInterface
	kStruct
	kNamed // a defined type: under is its type
)

type dtype struct {
	kind   dkind
	name   string // as Go source writes it, for display
	bits   int    // of a number
	elem   *dtype // of a pointer, slice, array, map or chan
	key    *dtype // of a map
	length int64  // of an array
	fields []dfield
	under  *dtype // of a kNamed
	pkg    string // import path of a package's defined type
}

type dfield struct {
	name string
	typ  *dtype
}

var unknownType = &dtype{kind: kUnknown, name: "?"}

// underlying returns the type t is defined as; unknownType for a chain
// of definitions that does not end.
func (t *dtype) underlying() *dtype {
	for range 32 {
		if t == nil {
			return unknownType
		}
		if t.kind != kNamed {
			return t
		}
		t = t.under
	}
	return unknownType
}

var predeclared = map[string]*dtype{
	"bool": {kind: kBool, name: "bool"}, "string": {kind: kString, name: "string"},
	"int": {kind: kInt, name: "int", bits: 64}, "int8": {kind: kInt, name: "int8", bits: 8},
	"int16": {kind: kInt, name: "int16", bits: 16}, "int32": {kind: kInt, name: "int32", bits: 32},
	"rune": {kind: kInt, name: "rune", bits: 32}, "int64": {kind: kInt, name: "int64", bits: 64},
	"uint": {kind: kUint, name: "uint", bits: 64}, "uint8": {kind: kUint, name: "uint8", bits: 8},
	"byte": {kind: kUint, name: "byte", bits: 8}, "uint16": {kind: kUint, name: "uint16", bits: 16},
	"uint32": {kind: kUint, name: "uint32", bits: 32}, "uint64": {kind: kUint, name: "uint64", bits: 64},
	"uintptr": {kind: kUint, name: "uintptr", bits: 64},
	"float32": {kind: kFloat, name: "float32", bits: 32}, "float64": {kind: kFloat, name: "float64", bits: 64},
	"complex64": {kind: kComplex, name: "complex64", bits: 64}, "complex128": {kind: kComplex, name: "complex128", bits: 128},
	"error": {kind: kInterface, name: "error"}, "any": {kind: kInterface, name: "any"},
}

// A typeEnv resolves the types of one Snapshot.
type typeEnv struct {
	s       *Snapshot
	decls   map[string][]typeDeclAt // the journal's type declarations, in order
	imports map[string]string       // the journal's package names → import paths
	named   map[string]*dtype       // defined types and generic instances, by name
	srcs    map[srcAt]*dtype        // type sources resolved
	rtypes  map[reflect.Type]*dtype
	left    int // types it may still make

	importList []string
	declList   []string
}

// A typeDeclAt is a type declaration and the journal entry that holds it.
type typeDeclAt struct {
	entry int
	spec  *ast.TypeSpec
}

// A srcAt is a type's source and where in the journal it is compiled:
// a name denotes the type declared last before that entry.
type srcAt struct {
	src string
	pos int
}

func newTypeEnv(s *Snapshot) *typeEnv {
	e := &typeEnv{
		s: s, decls: map[string][]typeDeclAt{}, imports: map[string]string{},
		named: map[string]*dtype{}, srcs: map[srcAt]*dtype{}, rtypes: map[reflect.Type]*dtype{},
		left: describeMaxTypes, importList: []string{}, declList: []string{},
	}
	for k, entry := range s.Journal {
		// Parsed the way the namespace parses declarations; an entry that
		// does not parse is shown as it is, and declares nothing here.
		f, _ := parser.ParseFile(token.NewFileSet(), "", declPrefix+entry, parser.SkipObjectResolution)
		onlyImports := f != nil && len(f.Decls) > 0
		if f != nil {
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.IMPORT {
					onlyImports = false
				}
				if !ok {
					continue
				}
				for _, spec := range g.Specs {
					switch spec := spec.(type) {
					case *ast.ImportSpec:
						e.addImport(spec)
					case *ast.TypeSpec:
						e.decls[spec.Name.Name] = append(e.decls[spec.Name.Name], typeDeclAt{k, spec})
					}
				}
			}
		}
		if !onlyImports && strings.TrimSpace(entry) != "" {
			text := strings.TrimSpace(entry)
			if len(text) > describeMaxDecl {
				text = cut(text, describeMaxDecl) + "…"
			}
			e.declList = append(e.declList, text)
		}
	}
	return e
}

func (e *typeEnv) addImport(spec *ast.ImportSpec) {
	p, err := strconv.Unquote(spec.Path.Value)
	if err != nil {
		return
	}
	name := pkgName(p)
	shown := strconv.Quote(p)
	if spec.Name != nil {
		name = spec.Name.Name
		shown = name + " " + shown
	}
	if name != "_" && name != "." {
		e.imports[name] = p
	}
	e.importList = append(e.importList, shown)
}

// pkgName is the name a package of import path p is known by: its last
// element, but for a major version suffix (math/rand/v2 is rand).
func pkgName(p string) string {
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		if dir := path.Dir(p); dir != "." {
			return path.Base(dir)
		}
	}
	return base
}

var pkgAliasRE = regexp.MustCompile(reservedPrefix + `p(\d+)`)

// display returns type source src for people: the packages Restore
// imports under reserved names named by their own names, cut to n bytes.
func (e *typeEnv) display(src string, n int) string {
	if len(src) > 4*n {
		src = cut(src, 4*n)
	}
	src = pkgAliasRE.ReplaceAllStringFunc(src, func(alias string) string {
		k, err := strconv.Atoi(alias[len(reservedPrefix)+1:])
		if err != nil || k >= len(e.s.Packages) {
			return alias
		}
		return pkgName(e.s.Packages[k])
	})
	src = printable(src)
	if len(src) > n {
		return cut(src, n) + "…"
	}
	return src
}

// source resolves a type written in Go source, compiled before journal
// entry pos; a type it cannot read is of unknown kind, named as written.
func (e *typeEnv) source(src string, pos int) *dtype {
	pos = min(max(pos, 0), len(e.s.Journal))
	key := srcAt{src, pos}
	if t, ok := e.srcs[key]; ok {
		return t
	}
	var t *dtype
	if len(src) <= maxTypeSource {
		if x, err := parser.ParseExpr(src); err == nil {
			t = e.expr(x, typeScope{pos: pos}, 0)
		}
	}
	if t == nil || t.kind == kUnknown {
		t = &dtype{kind: kUnknown, name: e.display(src, describeMaxType)}
	}
	if len(e.srcs) < 1<<12 {
		e.srcs[key] = t
	}
	return t
}

// A typeScope is where a type expression is resolved: before journal entry
// pos, in a generic type's declaration with its type parameters.
type typeScope struct {
	pos    int
	params map[string]*dtype
}

func (e *typeEnv) newType(t dtype) *dtype {
	if len(t.name) > describeMaxType {
		t.name = cut(t.name, describeMaxType) + "…"
	}
	return &t
}

// expr resolves a type expression; params are the type parameters of the
// generic type being instantiated.
func (e *typeEnv) expr(x ast.Expr, sc typeScope, depth int) *dtype {
	if depth > typeMaxDepth || e.left <= 0 {
		return unknownType
	}
	e.left--
	switch x := x.(type) {
	case *ast.ParenExpr:
		return e.expr(x.X, sc, depth+1)
	case *ast.Ident:
		if t, ok := sc.params[x.Name]; ok {
			return t
		}
		if t, ok := predeclared[x.Name]; ok {
			return t
		}
		return e.declared(x.Name, nil, sc.pos, depth+1)
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok {
			return e.pkgType(pkg.Name, x.Sel.Name, depth+1)
		}
	case *ast.IndexExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			return e.declared(id.Name, []*dtype{e.expr(x.Index, sc, depth+1)}, sc.pos, depth+1)
		}
	case *ast.IndexListExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			var args []*dtype
			for _, a := range x.Indices {
				args = append(args, e.expr(a, sc, depth+1))
			}
			return e.declared(id.Name, args, sc.pos, depth+1)
		}
	case *ast.StarExpr:
		el := e.expr(x.X, sc, depth+1)
		return e.newType(dtype{kind: kPointer, name: "*" + el.name, elem: el})
	case *ast.ArrayType:
		el := e.expr(x.Elt, sc, depth+1)
		if x.Len == nil {
			return e.newType(dtype{kind: kSlice, name: "[]" + el.name, elem: el})
		}
		l := int64(-1)
		if lit, ok := x.Len.(*ast.BasicLit); ok && lit.Kind == token.INT {
			if n, err := strconv.ParseInt(lit.Value, 0, 64); err == nil {
				l = n
			}
		}
		return e.newType(dtype{kind: kArray, name: "[" + strconv.FormatInt(l, 10) + "]" + el.name, elem: el, length: l})
	case *ast.MapType:
		k, el := e.expr(x.Key, sc, depth+1), e.expr(x.Value, sc, depth+1)
		return e.newType(dtype{kind: kMap, name: "map[" + k.name + "]" + el.name, key: k, elem: el})
	case *ast.ChanType:
		el := e.expr(x.Value, sc, depth+1)
		prefix := map[ast.ChanDir]string{ast.SEND: "chan<- ", ast.RECV: "<-chan "}[x.Dir]
		if prefix == "" {
			prefix = "chan "
		}
		return e.newType(dtype{kind: kChan, name: prefix + el.name, elem: el})
	case *ast.FuncType:
		return e.newType(dtype{kind: kFunc, name: "func" + e.signature(x, sc, depth+1)})
	case *ast.InterfaceType:
		if x.Methods == nil || len(x.Methods.List) == 0 {
			return e.newType(dtype{kind: kInterface, name: "interface{}"})
		}
		return e.newType(dtype{kind: kInterface, name: "interface{…}"})
	case *ast.StructType:
		return e.structType(x, sc, depth+1)
	}
	return unknownType
}

func (e *typeEnv) signature(x *ast.FuncType, sc typeScope, depth int) string {
	list := func(fl *ast.FieldList) []string {
		var out []string
		if fl == nil {
			return nil
		}
		for _, f := range fl.List {
			var name string
			if el, ok := f.Type.(*ast.Ellipsis); ok {
				name = "..." + e.expr(el.Elt, sc, depth).name
			} else {
				name = e.expr(f.Type, sc, depth).name
			}
			for range max(1, len(f.Names)) {
				out = append(out, name)
			}
		}
		return out
	}
	s := "(" + strings.Join(list(x.Params), ", ") + ")"
	switch res := list(x.Results); len(res) {
	case 0:
	case 1:
		s += " " + res[0]
	default:
		s += " (" + strings.Join(res, ", ") + ")"
	}
	return s
}

func (e *typeEnv) structType(x *ast.StructType, sc typeScope, depth int) *dtype {
	t := dtype{kind: kStruct}
	var parts []string
	if x.Fields != nil {
		for _, f := range x.Fields.List {
			ft := e.expr(f.Type, sc, depth)
			if len(f.Names) == 0 { // embedded: named after its type
				name := embeddedName(f.Type)
				t.fields = append(t.fields, dfield{name: name, typ: ft})
				parts = append(parts, ft.name)
				continue
			}
			for _, n := range f.Names {
				t.fields = append(t.fields, dfield{name: n.Name, typ: ft})
				parts = append(parts, n.Name+" "+ft.name)
			}
		}
	}
	t.name = "struct{" + strings.Join(parts, "; ") + "}"
	return e.newType(t)
}

// embeddedName is the field name of an embedded type.
func embeddedName(x ast.Expr) string {
	for range typeMaxDepth {
		switch y := x.(type) {
		case *ast.StarExpr:
			x = y.X
		case *ast.ParenExpr:
			x = y.X
		case *ast.IndexExpr:
			x = y.X
		case *ast.IndexListExpr:
			x = y.X
		case *ast.SelectorExpr:
			return y.Sel.Name
		case *ast.Ident:
			return y.Name
		default:
			return "?"
		}
	}
	return "?"
}

// declared resolves a type the journal declares before entry pos (or,
// if none does, after it), instantiated with args if it is generic.
func (e *typeEnv) declared(name string, args []*dtype, pos, depth int) *dtype {
	display := name
	if len(args) > 0 {
		names := make([]string, len(args))
		for k, a := range args {
			names[k] = a.name
		}
		display += "[" + strings.Join(names, ", ") + "]"
	}
	decls := e.decls[name]
	if len(decls) == 0 {
		return e.newType(dtype{kind: kUnknown, name: display})
	}
	decl := decls[len(decls)-1]
	for _, d := range decls {
		if d.entry < pos {
			decl = d
		}
	}
	key := display + "@" + strconv.Itoa(decl.entry)
	if t, ok := e.named[key]; ok {
		return t
	}
	spec := decl.spec
	params := map[string]*dtype{}
	if spec.TypeParams != nil {
		k := 0
		for _, f := range spec.TypeParams.List {
			for _, n := range f.Names {
				params[n.Name] = unknownType
				if k < len(args) {
					params[n.Name] = args[k]
				}
				k++
			}
		}
	}
	// Its declaration sees what was declared before, and itself.
	sc := typeScope{pos: decl.entry + 1, params: params}
	if spec.Assign.IsValid() { // an alias: the type itself
		t := e.expr(spec.Type, sc, depth+1)
		if len(e.named) < describeMaxTypes {
			e.named[key] = t
		}
		return t
	}
	// Entered before its definition is resolved, so that a type that
	// refers to itself (through a pointer) finds it.
	t := e.newType(dtype{kind: kNamed, name: display})
	if len(e.named) < describeMaxTypes {
		e.named[key] = t
	}
	t.under = e.expr(spec.Type, sc, depth+1)
	return t
}

// pkgType resolves a package's type: through the symbols the interpreter
// has for the package, when it is one of the standard library's.
func (e *typeEnv) pkgType(pkgIdent, name string, depth int) *dtype {
	var p string
	if rest, ok := strings.CutPrefix(pkgIdent, reservedPrefix+"p"); ok {
		k, err := strconv.Atoi(rest)
		if err != nil || k < 0 || k >= len(e.s.Packages) {
			return e.newType(dtype{kind: kUnknown, name: pkgIdent + "." + name})
		}
		p = e.s.Packages[k]
	} else if p = e.imports[pkgIdent]; p == "" {
		return e.newType(dtype{kind: kUnknown, name: pkgIdent + "." + name})
	}
	if pk := unrestrictedSymbols()[p]; pk != nil {
		if sym, ok := pk.syms[name]; ok && sym.IsValid() && sym.Kind() == reflect.Pointer && sym.IsNil() {
			return e.rtype(sym.Type().Elem(), depth+1)
		}
	}
	return e.newType(dtype{kind: kUnknown, name: pkgName(p) + "." + name, pkg: p})
}

// rtype resolves a compiled type.
func (e *typeEnv) rtype(rt reflect.Type, depth int) *dtype {
	if t, ok := e.rtypes[rt]; ok {
		return t
	}
	if depth > typeMaxDepth || e.left <= 0 {
		return unknownType
	}
	e.left--
	if rt.Name() != "" && rt.PkgPath() != "" {
		t := e.newType(dtype{kind: kNamed, name: pkgName(rt.PkgPath()) + "." + rt.Name(), pkg: rt.PkgPath()})
		e.rtypes[rt] = t // before its fields, which may point back to it
		t.under = e.rtypeLiteral(rt, depth+1)
		return t
	}
	t := e.rtypeLiteral(rt, depth+1)
	e.rtypes[rt] = t
	return t
}

func (e *typeEnv) rtypeLiteral(rt reflect.Type, depth int) *dtype {
	switch k := rt.Kind(); k {
	case reflect.Bool:
		return predeclared["bool"]
	case reflect.String:
		return predeclared["string"]
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.newType(dtype{kind: kInt, name: k.String(), bits: rt.Bits()})
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return e.newType(dtype{kind: kUint, name: k.String(), bits: rt.Bits()})
	case reflect.Float32, reflect.Float64:
		return e.newType(dtype{kind: kFloat, name: k.String(), bits: rt.Bits()})
	case reflect.Complex64, reflect.Complex128:
		return e.newType(dtype{kind: kComplex, name: k.String(), bits: rt.Bits()})
	case reflect.Pointer:
		el := e.rtype(rt.Elem(), depth)
		return e.newType(dtype{kind: kPointer, name: "*" + el.name, elem: el})
	case reflect.Slice:
		el := e.rtype(rt.Elem(), depth)
		return e.newType(dtype{kind: kSlice, name: "[]" + el.name, elem: el})
	case reflect.Array:
		el := e.rtype(rt.Elem(), depth)
		return e.newType(dtype{kind: kArray, name: "[" + strconv.Itoa(rt.Len()) + "]" + el.name, elem: el, length: int64(rt.Len())})
	case reflect.Map:
		key, el := e.rtype(rt.Key(), depth), e.rtype(rt.Elem(), depth)
		return e.newType(dtype{kind: kMap, name: "map[" + key.name + "]" + el.name, key: key, elem: el})
	case reflect.Chan:
		return e.newType(dtype{kind: kChan, name: rt.String()})
	case reflect.Func:
		return e.newType(dtype{kind: kFunc, name: rt.String()})
	case reflect.Interface:
		return e.newType(dtype{kind: kInterface, name: rt.String()})
	case reflect.Struct:
		t := dtype{kind: kStruct, name: rt.String()}
		for k := range rt.NumField() {
			f := rt.Field(k)
			t.fields = append(t.fields, dfield{name: f.Name, typ: e.rtype(f.Type, depth)})
		}
		return e.newType(t)
	}
	return unknownType
}
