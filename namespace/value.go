package namespace

import (
	"bytes"
	"cmp"
	"context"
	"encoding"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The values of a Snapshot form a graph, kept flat so that no value nests
// deeper in CBOR than a few levels and no cycle reaches the encoder.
//
// A Value holds a scalar, or refers to a Node (Ref, from 1; 0 is the zero
// value). A Node is
//   - a variable, or what pointers point to: one node per address and type,
//     whichever pointers lead there, which keeps aliasing and cycles;
//   - a slice (one node per backing array, length and capacity, shared by
//     its copies) or a map (one node per map);
//   - a struct, array or interface value, referred to once.
//
// What a node holds depends on the type of what it is read into: a
// struct's fields in Elems; an array's or slice's elements in Elems, or
// packed into Ints, Uints, Strs, Bools or Bytes when of a basic kind; a
// map's Keys and Elems; an interface's dynamic type (Type, an index into
// Snapshot.Types, from 1) and value (V), with Wrap when yaegi held it in
// its own interface form; a package value that only its own methods can
// rebuild: Form and Bytes or V; anything else: V.

// Value is one value of a Snapshot: a scalar, or a reference to a Node.
// Floats are their IEEE 754 bits, so that -0 and NaNs survive.
type Value struct {
	Int  int64  `cbor:"1,keyasint,omitempty"` // signed integers
	Uint uint64 `cbor:"2,keyasint,omitempty"` // unsigned integers; floats' bits; a complex number's real part's bits
	Imag uint64 `cbor:"3,keyasint,omitempty"` // a complex number's imaginary part's bits
	Str  string `cbor:"4,keyasint,omitempty"`
	Bool bool   `cbor:"5,keyasint,omitempty"`
	Ref  int    `cbor:"6,keyasint,omitempty"` // Snapshot.Nodes[Ref-1]; 0: the zero value
}

// Node is one variable, pointer target, slice, map, struct, array or
// interface of a Snapshot (see Value).
type Node struct {
	V     Value    `cbor:"1,keyasint,omitempty"`
	Elems []Value  `cbor:"2,keyasint,omitempty"`
	Keys  []Value  `cbor:"3,keyasint,omitempty"`
	Ints  []int64  `cbor:"4,keyasint,omitempty"`
	Uints []uint64 `cbor:"5,keyasint,omitempty"`
	Strs  []string `cbor:"6,keyasint,omitempty"`
	Bools []bool   `cbor:"7,keyasint,omitempty"`
	Bytes []byte   `cbor:"8,keyasint,omitempty"`
	Type  int      `cbor:"9,keyasint,omitempty"`
	Wrap  bool     `cbor:"10,keyasint,omitempty"`
	Form  string   `cbor:"11,keyasint,omitempty"`
}

// Forms of nodes that are not plain data.
const (
	formError    = "error"    // an error, as its message (V.Str): errors.New
	formTime     = "time"     // time.Time: MarshalBinary, location name in V.Str
	formLocation = "location" // time.Location: name in V.Str, offset in V.Int
	formBuilder  = "builder"  // strings.Builder: its String in V.Str
	formBuffer   = "buffer"   // bytes.Buffer: its unread bytes
	formGob      = "gob"      // GobEncode, as big.Int, big.Float, big.Rat
	formBinary   = "binary"   // MarshalBinary, as url.URL, netip.Addr
	formText     = "text"     // MarshalText, as regexp.Regexp
)

// Limits that keep a Snapshot within what the other process decodes
// (repl's DecMode: 1<<20 elements per array) and sends (migrate's records
// of 64 MiB), and what Restore allocates.
const (
	maxSnapshotNodes = 1<<20 - 1
	maxSnapshotElems = 1 << 20
	maxSnapshotBytes = 32 << 20 // estimated size of the CBOR
	maxRestoreBytes  = 1 << 30  // memory Restore gives the values
	errorCallTimeout = time.Second
)

var (
	timeType        = reflect.TypeOf(time.Time{})
	locationType    = reflect.TypeOf(time.Location{})
	builderType     = reflect.TypeOf(strings.Builder{})
	bufferType      = reflect.TypeOf(bytes.Buffer{})
	errorStringType = reflect.TypeOf(errors.New(""))
	gobEncoderType  = reflect.TypeOf((*gob.GobEncoder)(nil)).Elem()
	gobDecoderType  = reflect.TypeOf((*gob.GobDecoder)(nil)).Elem()
	binMarshalType  = reflect.TypeOf((*encoding.BinaryMarshaler)(nil)).Elem()
	binUnmarshType  = reflect.TypeOf((*encoding.BinaryUnmarshaler)(nil)).Elem()
	textMarshalType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	textUnmarshType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// A path names where a value sits, for the notes on what was not carried.
type valuePath struct {
	up    *valuePath
	name  string        // a variable, or a field after a dot
	index int           // an element, when name is "" and key invalid
	key   reflect.Value // a map key
}

func (p *valuePath) field(name string) *valuePath      { return &valuePath{up: p, name: name} }
func (p *valuePath) elem(i int) *valuePath             { return &valuePath{up: p, index: i} }
func (p *valuePath) mapKey(k reflect.Value) *valuePath { return &valuePath{up: p, key: k} }

func (p *valuePath) root() string {
	for p.up != nil {
		p = p.up
	}
	return p.name
}

func (p *valuePath) String() string {
	var parts []string
	for ; p != nil; p = p.up {
		switch {
		case p.up == nil:
			parts = append(parts, p.name)
		case p.name != "":
			parts = append(parts, "."+p.name)
		case p.key.IsValid():
			k := "[…]"
			switch p.key.Kind() {
			case reflect.String:
				k = "[" + strconv.Quote(p.key.String()) + "]"
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Bool:
				k = fmt.Sprintf("[%v]", p.key)
			}
			parts = append(parts, k)
		default:
			parts = append(parts, "["+strconv.Itoa(p.index)+"]")
		}
	}
	var b strings.Builder
	for k := len(parts) - 1; k >= 0; k-- {
		b.WriteString(parts[k])
	}
	return b.String()
}

// maxNotesPerVar bounds the notes on one variable; the rest are counted.
const maxNotesPerVar = 5

// notes are what a Snapshot could not carry, each naming the value.
type notes struct {
	list    []string
	perVar  map[string]int
	dropped map[string]int
	order   []string // variables with dropped notes, in order
}

func (n *notes) add(p *valuePath, typ, msg string) {
	if n.perVar == nil {
		n.perVar, n.dropped = map[string]int{}, map[string]int{}
	}
	root := p.root()
	if n.perVar[root] >= maxNotesPerVar {
		if n.dropped[root] == 0 {
			n.order = append(n.order, root)
		}
		n.dropped[root]++
		return
	}
	n.perVar[root]++
	n.list = append(n.list, fmt.Sprintf("%s (%s): %s", p, typ, msg))
}

func (n *notes) all() []string {
	out := n.list
	for _, v := range n.order {
		out = append(out, fmt.Sprintf("%s: %d more values not carried", v, n.dropped[v]))
	}
	return out
}

// notCarried ends the note on a value left at its zero value.
const notCarried = ", left at its zero value"

type boxKey struct {
	addr uintptr
	typ  reflect.Type
}

type sliceKey struct {
	ptr      uintptr
	len, cap int
	typ      reflect.Type
}

type encodeJob struct {
	id  int
	v   reflect.Value
	p   *valuePath
	own bool // v is a slice or map whose node this is, not a variable holding one
}

// An encoder turns variables into the value graph. It never recurses into
// what a value refers to: pointer targets, slices, maps, structs, arrays
// and interfaces become nodes, filled from a work list.
type encoder struct {
	ns      *Namespace
	types   *typeWriter
	nodes   []Node
	typeSrc []string
	typeIDs map[string]int
	boxes   map[boxKey]int
	slices  map[sliceKey]int
	maps    map[uintptr]int
	forms   map[reflect.Type]structForm
	work    []encodeJob
	size    int
	full    bool // a limit was reached: values from now on are not carried
	notes   notes
	fmt     *formatter
}

func newEncoder(ns *Namespace, types *typeWriter) *encoder {
	e := &encoder{
		typeIDs: map[string]int{},
		boxes:   map[boxKey]int{}, slices: map[sliceKey]int{}, maps: map[uintptr]int{},
		forms: map[reflect.Type]structForm{},
	}
	e.reset(ns, types)
	return e
}

// reset readies e for another snapshot, keeping the memory of its maps and
// work list; what a snapshot returns (nodes, typeSrc, notes) is new.
func (e *encoder) reset(ns *Namespace, types *typeWriter) {
	e.ns, e.types, e.fmt = ns, types, &formatter{types: ns.byType}
	clear(e.work[:cap(e.work)]) // the jobs of the last snapshot hold its values
	e.nodes, e.typeSrc, e.work = nil, nil, e.work[:0]
	e.size, e.full, e.notes = 0, false, notes{}
	clear(e.typeIDs)
	clear(e.boxes)
	clear(e.slices)
	clear(e.maps)
	clear(e.forms)
}

// A scratch is a snapshot's working memory, kept for the next one: a
// migration takes thousands of snapshots in a row with the collector held,
// when each allocation is fresh memory. It was a third of a snapshot's
// bytes (BenchmarkSnapshot).
type scratch struct {
	types *typeWriter
	enc   *encoder
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// get returns a scratch readied for a snapshot of ns.
func (sc *scratch) get(ns *Namespace, scope mainScope) (*typeWriter, *encoder) {
	if sc.types == nil {
		sc.types = newTypeWriter(ns, scope)
		sc.enc = newEncoder(ns, sc.types)
		return sc.types, sc.enc
	}
	sc.types.reset(ns, scope)
	sc.enc.reset(ns, sc.types)
	return sc.types, sc.enc
}

func (e *encoder) note(p *valuePath, t reflect.Type, msg string) {
	e.notes.add(p, e.fmt.typeString(t), msg)
}

// newNode returns the id of a new empty node, or 0 when the snapshot is
// full.
func (e *encoder) newNode(p *valuePath, t reflect.Type) int {
	if e.full || len(e.nodes) >= maxSnapshotNodes || e.size >= maxSnapshotBytes {
		e.full = true
		e.note(p, t, "the snapshot reached its size limit"+notCarried)
		return 0
	}
	e.nodes = append(e.nodes, Node{})
	e.size += 4
	return len(e.nodes)
}

func (e *encoder) queue(id int, v reflect.Value, p *valuePath) {
	e.work = append(e.work, encodeJob{id: id, v: v, p: p})
}

// drain fills the queued nodes, and those they lead to.
func (e *encoder) drain() {
	for k := 0; k < len(e.work); k++ {
		j := e.work[k]
		e.work[k] = encodeJob{}
		n := e.content(j.v, j.own, j.p)
		e.nodes[j.id-1] = n
	}
	e.work = e.work[:0]
}

// variable adds a global variable: a node for its storage, which pointers
// to it share. It returns 0 if its type cannot be carried at all.
// asInterface says the variable is of an interface type although yaegi
// stores a concrete value in it.
func (e *encoder) variable(name string, slot reflect.Value, asInterface bool) int {
	p := &valuePath{name: name}
	if asInterface {
		id := e.newNode(p, slot.Type())
		if id != 0 {
			n := e.iface(slot, slot.Type(), true, p) // may add nodes
			e.nodes[id-1] = n
		}
		return id
	}
	if msg := e.uncarriable(slot.Type()); msg != "" {
		if !slot.IsZero() {
			e.note(p, slot.Type(), msg+notCarried)
		}
		return 0
	}
	if !slot.CanAddr() {
		id := e.newNode(p, slot.Type())
		if id != 0 {
			e.queue(id, slot, p)
		}
		return id
	}
	return e.box(slot.Addr(), p)
}

// box returns the node of what pointer v points to.
func (e *encoder) box(v reflect.Value, p *valuePath) int {
	key := boxKey{v.Pointer(), v.Type().Elem()}
	if id, ok := e.boxes[key]; ok {
		return id
	}
	id := e.newNode(p, v.Type().Elem())
	if id != 0 {
		e.boxes[key] = id
		e.queue(id, v.Elem(), p)
	}
	return id
}

// value returns v as a Value, queueing the nodes it refers to.
func (e *encoder) value(v reflect.Value, p *valuePath) Value {
	t := v.Type()
	switch t.Kind() {
	case reflect.Bool:
		return Value{Bool: v.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Value{Int: v.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return Value{Uint: v.Uint()}
	case reflect.Float32, reflect.Float64:
		return Value{Uint: math.Float64bits(v.Float())}
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return Value{Uint: math.Float64bits(real(c)), Imag: math.Float64bits(imag(c))}
	case reflect.String:
		e.size += v.Len()
		return Value{Str: v.String()}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if !v.IsNil() {
			e.note(p, t, e.uncarriable(t)+notCarried)
		}
		return Value{}
	case reflect.Pointer:
		if v.IsNil() {
			return Value{}
		}
		if msg := e.uncarriable(t.Elem()); msg != "" {
			e.note(p, t, msg+notCarried)
			return Value{}
		}
		return Value{Ref: e.box(v, p)}
	case reflect.Slice:
		if v.IsNil() {
			return Value{}
		}
		if v.Len() > maxSnapshotElems {
			e.note(p, t, fmt.Sprintf("%d elements are more than a snapshot carries", v.Len())+notCarried)
			return Value{}
		}
		key := sliceKey{v.Pointer(), v.Len(), v.Cap(), t}
		if id, ok := e.slices[key]; ok {
			return Value{Ref: id}
		}
		id := e.newNode(p, t)
		if id != 0 {
			e.slices[key] = id
			e.work = append(e.work, encodeJob{id: id, v: v, p: p, own: true})
		}
		return Value{Ref: id}
	case reflect.Map:
		if v.IsNil() {
			return Value{}
		}
		if v.Len() > maxSnapshotElems {
			e.note(p, t, fmt.Sprintf("%d entries are more than a snapshot carries", v.Len())+notCarried)
			return Value{}
		}
		if id, ok := e.maps[v.Pointer()]; ok {
			return Value{Ref: id}
		}
		id := e.newNode(p, t)
		if id != 0 {
			e.maps[v.Pointer()] = id
			e.work = append(e.work, encodeJob{id: id, v: v, p: p, own: true})
		}
		return Value{Ref: id}
	case reflect.Interface:
		if v.IsNil() {
			return Value{}
		}
		return e.ifaceValue(v, t, p)
	case reflect.Struct, reflect.Array:
		if vit, _ := valueInterface(); t == vit {
			return e.ifaceValue(v, t, p)
		}
		if v.IsZero() {
			return Value{}
		}
		if msg := e.uncarriable(t); msg != "" {
			e.note(p, t, msg+notCarried)
			return Value{}
		}
		if t.Kind() == reflect.Array && t.Len() > maxSnapshotElems {
			e.note(p, t, "more elements than a snapshot carries"+notCarried)
			return Value{}
		}
		id := e.newNode(p, t)
		if id != 0 {
			e.queue(id, v, p)
		}
		return Value{Ref: id}
	}
	e.note(p, t, "values of this kind cannot be carried"+notCarried)
	return Value{}
}

// ifaceValue returns a non-nil interface value as a reference to its node.
func (e *encoder) ifaceValue(v reflect.Value, slot reflect.Type, p *valuePath) Value {
	n := e.iface(v, slot, false, p)
	if n.Type == 0 && n.Form == "" {
		return Value{} // nil, or not carried (and noted)
	}
	id := e.newNode(p, slot)
	if id != 0 {
		e.nodes[id-1] = n
	}
	return Value{Ref: id}
}

// iface returns the node of an interface value, or of a variable of an
// interface type in which yaegi stored a concrete value (concrete): its
// dynamic type and value. An error whose type cannot be carried is carried
// as its message.
func (e *encoder) iface(v reflect.Value, slot reflect.Type, concrete bool, p *valuePath) Node {
	inner, it, wrapped := v, itype{}, false
	if !concrete {
		inner, it, wrapped = unwrapInterface(v)
	}
	if !inner.IsValid() {
		return Node{}
	}
	// yaegi's type for the value names it best (Celsius, not float64),
	// unless it is the interface it was stored through.
	t := inner.Type()
	src, err := "", errNoType
	if it.valid() && !it.isInterface() {
		src, err = e.types.itype(it)
	}
	if err != nil {
		src, err = e.types.rtype(t)
	}
	msg := e.uncarriable(t)
	if err == nil && msg == "" {
		id, ok := e.typeIDs[src]
		if !ok {
			e.typeSrc = append(e.typeSrc, src)
			id = len(e.typeSrc)
			e.typeIDs[src] = id
			e.size += len(src)
		}
		return Node{Type: id, Wrap: wrapped, V: e.value(inner, p)}
	}
	if msg == "" {
		msg = "its dynamic type " + e.fmt.typeString(t) + " cannot be written in Go source"
	}
	if inner.CanInterface() && slot.Kind() == reflect.Interface && errorStringType.Implements(slot) {
		if x, ok := inner.Interface().(error); ok {
			text, ok := e.errorMessage(x)
			if !ok {
				e.note(p, slot, "its Error method did not return"+notCarried)
				return Node{}
			}
			if t != errorStringType {
				e.note(p, slot, "carried as errors.New of its message; its type "+e.fmt.typeString(t)+" is not")
			}
			e.size += len(text)
			return Node{Form: formError, V: Value{Str: text}}
		}
	}
	e.note(p, slot, msg+notCarried)
	return Node{}
}

var errNoType = errors.New("no type")

// errorMessage calls x.Error(), which may be interpreted code, for at most
// errorCallTimeout. If it does not return, it stops the namespace's code,
// so that it does not go on running after the token is put back.
func (e *encoder) errorMessage(x error) (string, bool) {
	type result struct {
		s  string
		ok bool
	}
	done := make(chan result, 1)
	go func() { // ends when Error returns, or the namespace's code is stopped
		s, ok := callString(x.Error)
		done <- result{s, ok}
	}()
	t := time.NewTimer(errorCallTimeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.s, r.ok
	case <-t.C:
		e.ns.mu.Lock()
		e.ns.stopLocked()
		e.ns.mu.Unlock()
		return "", false
	}
}

// unwrapInterface returns the dynamic value of an interface value, seen
// through yaegi's valueInterface (wrapped), with yaegi's type for it when
// it has one.
func unwrapInterface(v reflect.Value) (inner reflect.Value, t itype, wrapped bool) {
	for range 8 {
		if v.Kind() == reflect.Interface {
			if v.IsNil() {
				return reflect.Value{}, t, wrapped
			}
			v = v.Elem()
		}
		vt, iv, ok := valueInterfaceParts(v)
		if !ok {
			return v, t, wrapped
		}
		v, t, wrapped = iv, vt, true
		if !v.IsValid() {
			return v, t, wrapped
		}
	}
	return reflect.Value{}, itype{}, false
}

// A structForm is how values of a struct type are carried.
type structForm struct {
	form string // "" for field by field
	msg  string // why they are not carried, if they are not
}

// uncarriable says why values of type t cannot be carried, or "".
func (e *encoder) uncarriable(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Chan:
		return "channels cannot be carried"
	case reflect.Func:
		return "funcs and closures cannot be carried"
	case reflect.UnsafePointer:
		return "unsafe pointers cannot be carried"
	case reflect.Struct:
		return e.structForm(t).msg
	}
	return ""
}

func (e *encoder) structForm(t reflect.Type) structForm {
	if f, ok := e.forms[t]; ok {
		return f
	}
	f := findStructForm(t)
	e.forms[t] = f
	return f
}

func findStructForm(t reflect.Type) structForm {
	pt := reflect.PointerTo(t)
	vit, _ := valueInterface()
	switch pkg := t.PkgPath(); {
	case t == vit:
		return structForm{} // an interface value: see encoder.iface
	case t == timeType:
		return structForm{form: formTime}
	case t == locationType:
		return structForm{form: formLocation}
	case t == builderType:
		return structForm{form: formBuilder}
	case t == bufferType:
		return structForm{form: formBuffer}
	case pkg == "":
		return structForm{} // the interpreter's: every field exported
	case strings.HasPrefix(pkg, yaegiPrefix):
		return structForm{msg: "an interpreted value behind a native interface cannot be carried"}
	case pkg == "sync" || pkg == "sync/atomic":
		return structForm{msg: "sync values cannot be carried"}
	case pkg == "os" && t.Name() == "File":
		return structForm{msg: "open files cannot be carried"}
	case pt.Implements(gobEncoderType) && pt.Implements(gobDecoderType):
		return structForm{form: formGob}
	case pt.Implements(binMarshalType) && pt.Implements(binUnmarshType):
		return structForm{form: formBinary}
	case pt.Implements(textMarshalType) && pt.Implements(textUnmarshType):
		return structForm{form: formText}
	}
	for k := range t.NumField() {
		if !t.Field(k).IsExported() {
			return structForm{msg: "its unexported state cannot be carried"}
		}
	}
	return structForm{}
}

// content returns the node of v: a variable or pointer target, a struct,
// array or interface value, or (own) a slice or map.
func (e *encoder) content(v reflect.Value, own bool, p *valuePath) Node {
	var n Node
	t := v.Type()
	switch k := t.Kind(); {
	case !own && (k == reflect.Slice || k == reflect.Map):
		n.V = e.value(v, p)
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		if vit, _ := valueInterface(); t == vit {
			return e.iface(v, t, false, p)
		}
		if f := e.structForm(t); f.form != "" {
			return e.packageValue(f.form, v, p)
		}
		info := e.ns.byType[t]
		n.Elems = make([]Value, t.NumField())
		for k := range n.Elems {
			name := t.Field(k).Name
			if info != nil && len(info.fields) == len(n.Elems) {
				name = info.fields[k]
			} else if len(name) > 1 && name[0] == 'X' && name[1] >= 'a' && name[1] <= 'z' {
				name = name[1:] // yaegi's name for a lower-case field
			}
			n.Elems[k] = e.value(v.Field(k), p.field(name))
		}
		e.size += len(n.Elems)
	case reflect.Array, reflect.Slice:
		e.elems(&n, v, p)
	case reflect.Map:
		n.Keys = make([]Value, 0, v.Len())
		n.Elems = make([]Value, 0, v.Len())
		// In key order, not Go's random one: a namespace that did not
		// change must encode the same (a dry run compares encodings, and
		// so does the handoff, to reuse what was restored ahead).
		keys := v.MapKeys()
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			n.Keys = append(n.Keys, e.value(k, p))
			n.Elems = append(n.Elems, e.value(v.MapIndex(k), p.mapKey(k)))
		}
		e.size += 2 * len(n.Keys)
	case reflect.Interface:
		if v.IsNil() {
			return n
		}
		return e.iface(v, t, false, p)
	default:
		n.V = e.value(v, p)
	}
	return n
}

// elems fills n with the elements of array or slice v, packed when of a
// basic kind.
func (e *encoder) elems(n *Node, v reflect.Value, p *valuePath) {
	l := v.Len()
	switch et := v.Type().Elem(); et.Kind() {
	case reflect.Uint8:
		n.Bytes = make([]byte, l)
		if v.Kind() == reflect.Slice {
			copy(n.Bytes, v.Bytes())
		} else {
			for k := range l {
				n.Bytes[k] = byte(v.Index(k).Uint())
			}
		}
		e.size += l
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n.Ints = make([]int64, l)
		for k := range l {
			n.Ints[k] = v.Index(k).Int()
		}
		e.size += 5 * l
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n.Uints = make([]uint64, l)
		for k := range l {
			n.Uints[k] = v.Index(k).Uint()
		}
		e.size += 5 * l
	case reflect.Float32, reflect.Float64:
		n.Uints = make([]uint64, l)
		for k := range l {
			n.Uints[k] = math.Float64bits(v.Index(k).Float())
		}
		e.size += 9 * l
	case reflect.String:
		n.Strs = make([]string, l)
		for k := range l {
			n.Strs[k] = v.Index(k).String()
			e.size += len(n.Strs[k]) + 1
		}
	case reflect.Bool:
		n.Bools = make([]bool, l)
		for k := range l {
			n.Bools[k] = v.Index(k).Bool()
		}
		e.size += l
	default:
		n.Elems = make([]Value, l)
		for k := range l {
			n.Elems[k] = e.value(v.Index(k), p.elem(k))
		}
		e.size += l
	}
}

// packageValue returns the node of a package type carried by its own
// methods.
func (e *encoder) packageValue(form string, v reflect.Value, p *valuePath) Node {
	if !v.CanInterface() {
		e.note(p, v.Type(), "not reachable"+notCarried)
		return Node{}
	}
	ptr := reflect.New(v.Type()) // a copy: these methods only read
	ptr.Elem().Set(v)
	n := Node{Form: form}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		switch x := ptr.Interface().(type) {
		case *time.Time:
			n.Bytes, err = x.MarshalBinary()
			n.V.Str = locationName(x.Location())
		case *time.Location:
			n.V.Str = x.String()
			_, off := time.Now().In(x).Zone()
			n.V.Int = int64(off)
		case *strings.Builder:
			n.V.Str = x.String()
		case *bytes.Buffer:
			n.Bytes = bytes.Clone(x.Bytes())
		case gob.GobEncoder:
			n.Bytes, err = x.GobEncode()
		case encoding.BinaryMarshaler:
			n.Bytes, err = x.MarshalBinary()
		case encoding.TextMarshaler:
			n.Bytes, err = x.MarshalText()
		}
	}()
	if err != nil {
		e.note(p, v.Type(), "cannot be encoded: "+err.Error()+notCarried)
		return Node{}
	}
	e.size += len(n.Bytes) + len(n.V.Str)
	return n
}

func locationName(loc *time.Location) string {
	switch loc {
	case time.UTC:
		return "UTC"
	case time.Local:
		return "Local"
	}
	return loc.String()
}

// A decoder sets the values of a Snapshot into the variables of a new
// interpreter. Like the encoder it works from a list: a node's content is
// decoded after the value that refers to it has been given its place.
// Values that Go copies (an interface's dynamic value, a map's keys and
// elements) are completed in a temporary and copied by a finisher; the
// finishers run last, newest first, so that a copy happens after the copies
// into what it copies.
type decoder struct {
	ctx    context.Context
	nodes  []Node
	types  []dynType
	wraps  map[int]wrapForm      // by node: how to make its yaegi valueInterface
	homes  map[int]reflect.Value // pointer targets (as pointers), slices, maps
	used   []bool                // nodes already given a place
	work   []decodeJob
	finish []func() error
	budget int64 // bytes Restore may still allocate
	locs   map[string]*time.Location
}

// A dynType is a type of Snapshot.Types in the new interpreter.
type dynType struct {
	t     reflect.Type
	wraps wrapForm // shared by its wrapped values that have none of their own
}

// A wrapForm makes yaegi's valueInterface of an interface node: a template
// to copy, whose node is what yaegi evaluates again when it converts the
// value to a native interface (x.(fmt.Stringer)), and the hidden global
// that node reads, which is given the value. A template of a type's zero
// value, without a global, serves values beyond maxWrapGlobals.
type wrapForm struct {
	template reflect.Value
	global   reflect.Value
}

type decodeJob struct {
	target reflect.Value
	id     int
	own    bool // target is the slice or map of the node, not a variable holding one
}

func newDecoder(ctx context.Context, s *Snapshot, types []dynType, wraps map[int]wrapForm, budget int64) *decoder {
	return &decoder{
		ctx: ctx, nodes: s.Nodes, types: types, wraps: wraps, homes: map[int]reflect.Value{},
		used: make([]bool, len(s.Nodes)+1), budget: budget, locs: map[string]*time.Location{},
	}
}

func (d *decoder) charge(bytes int64) error {
	if bytes < 0 || bytes > d.budget {
		return fmt.Errorf("values of more than %d bytes", maxRestoreBytes)
	}
	d.budget -= bytes
	return nil
}

// node checks a reference and marks its node used.
func (d *decoder) take(ref int) (*Node, error) {
	if ref < 1 || ref > len(d.nodes) {
		return nil, fmt.Errorf("reference to node %d of %d", ref, len(d.nodes))
	}
	if d.used[ref] {
		return nil, fmt.Errorf("node %d used twice", ref)
	}
	d.used[ref] = true
	return &d.nodes[ref-1], nil
}

// variable gives node ref the place of a variable, so that pointers to
// the variable point there.
func (d *decoder) variable(slot reflect.Value, ref int) error {
	if _, ok := d.homes[ref]; ok || ref < 1 || ref > len(d.nodes) {
		return fmt.Errorf("variable node %d: bad reference", ref)
	}
	d.homes[ref] = slot.Addr()
	return nil
}

// fill decodes node ref into target (a variable), and then everything.
func (d *decoder) content(target reflect.Value, ref int) error {
	if _, err := d.take(ref); err != nil {
		return err
	}
	d.work = append(d.work, decodeJob{target: target, id: ref})
	return nil
}

// run decodes until every node reached has its place, then runs the
// finishers.
func (d *decoder) run() error {
	for k := 0; k < len(d.work); k++ {
		if k%1024 == 0 && d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		j := d.work[k]
		d.work[k] = decodeJob{}
		if err := d.fill(j.target, j.own, j.id); err != nil {
			return fmt.Errorf("node %d: %w", j.id, err)
		}
	}
	d.work = d.work[:0]
	for k := len(d.finish) - 1; k >= 0; k-- {
		if err := d.finish[k](); err != nil {
			return err
		}
	}
	d.finish = nil
	return nil
}

// fill decodes n into target: a variable or pointer target, a struct,
// array or interface value, all addressable, or (own) the slice or map of n.
func (d *decoder) fill(target reflect.Value, own bool, id int) error {
	n := &d.nodes[id-1]
	t := target.Type()
	if n.Form != "" && n.Form != formError {
		return d.packageValue(target, n)
	}
	if k := t.Kind(); !own && (k == reflect.Slice || k == reflect.Map) {
		return d.value(target, n.V)
	}
	switch t.Kind() {
	case reflect.Struct:
		if vit, _ := valueInterface(); t == vit {
			return d.iface(target, id)
		}
		if len(n.Elems) != t.NumField() {
			return fmt.Errorf("%d fields for %s", len(n.Elems), t)
		}
		for k, v := range n.Elems {
			f := target.Field(k)
			if !f.CanSet() {
				return fmt.Errorf("field %d of %s cannot be set", k, t)
			}
			if err := d.value(f, v); err != nil {
				return err
			}
		}
		return nil
	case reflect.Array, reflect.Slice:
		return d.elems(target, n)
	case reflect.Map:
		if len(n.Keys) != len(n.Elems) {
			return errors.New("map with more keys than elements")
		}
		kt, et := t.Key(), t.Elem()
		if err := d.charge(int64(len(n.Keys)) * int64(kt.Size()+et.Size())); err != nil {
			return err
		}
		for k := range n.Keys {
			key, elem := reflect.New(kt).Elem(), reflect.New(et).Elem()
			m := target
			d.finish = append(d.finish, func() error {
				m.SetMapIndex(key, elem)
				return nil
			})
			if err := d.value(key, n.Keys[k]); err != nil {
				return err
			}
			if err := d.value(elem, n.Elems[k]); err != nil {
				return err
			}
		}
		return nil
	case reflect.Interface:
		return d.iface(target, id)
	}
	if len(n.Elems)+len(n.Keys)+len(n.Ints)+len(n.Uints)+len(n.Strs)+len(n.Bools)+len(n.Bytes) > 0 || n.Type != 0 {
		return fmt.Errorf("a composite node for a %s", t)
	}
	return d.value(target, n.V)
}

// packedLen is the number of elements of a slice node of element type et.
func packedLen(n *Node, et reflect.Type) int {
	switch et.Kind() {
	case reflect.Uint8:
		return len(n.Bytes)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return len(n.Ints)
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr, reflect.Float32, reflect.Float64:
		return len(n.Uints)
	case reflect.String:
		return len(n.Strs)
	case reflect.Bool:
		return len(n.Bools)
	}
	return len(n.Elems)
}

func (d *decoder) elems(target reflect.Value, n *Node) error {
	l := target.Len()
	et := target.Type().Elem()
	if packedLen(n, et) != l {
		return fmt.Errorf("%d elements for %s of %d", packedLen(n, et), target.Type(), l)
	}
	switch et.Kind() {
	case reflect.Uint8:
		if target.Kind() == reflect.Slice && et == reflect.TypeOf(byte(0)) {
			reflect.Copy(target, reflect.ValueOf(n.Bytes))
			return nil
		}
		for k, b := range n.Bytes {
			target.Index(k).SetUint(uint64(b))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		for k, x := range n.Ints {
			if err := d.value(target.Index(k), Value{Int: x}); err != nil {
				return err
			}
		}
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr, reflect.Float32, reflect.Float64:
		for k, x := range n.Uints {
			if err := d.value(target.Index(k), Value{Uint: x}); err != nil {
				return err
			}
		}
	case reflect.String:
		for k, s := range n.Strs {
			target.Index(k).SetString(s)
		}
	case reflect.Bool:
		for k, b := range n.Bools {
			target.Index(k).SetBool(b)
		}
	default:
		for k, v := range n.Elems {
			if err := d.value(target.Index(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// value decodes v into target, which holds its zero value.
func (d *decoder) value(target reflect.Value, v Value) error {
	t := target.Type()
	switch t.Kind() {
	case reflect.Bool:
		target.SetBool(v.Bool)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if target.OverflowInt(v.Int) {
			return fmt.Errorf("%d overflows %s", v.Int, t)
		}
		target.SetInt(v.Int)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if target.OverflowUint(v.Uint) {
			return fmt.Errorf("%d overflows %s", v.Uint, t)
		}
		target.SetUint(v.Uint)
	case reflect.Float32, reflect.Float64:
		target.SetFloat(math.Float64frombits(v.Uint))
	case reflect.Complex64, reflect.Complex128:
		target.SetComplex(complex(math.Float64frombits(v.Uint), math.Float64frombits(v.Imag)))
	case reflect.String:
		target.SetString(v.Str)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		// never carried: left nil
	default:
		if v.Ref == 0 {
			return nil
		}
		return d.ref(target, v.Ref)
	}
	return nil
}

// ref decodes a reference into target.
func (d *decoder) ref(target reflect.Value, ref int) error {
	t := target.Type()
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		if home, ok := d.homes[ref]; ok {
			if home.Type() != t {
				return fmt.Errorf("node %d is a %s, not a %s", ref, home.Type(), t)
			}
			target.Set(home)
			return nil
		}
		n, err := d.take(ref)
		if err != nil {
			return err
		}
		var home, fill reflect.Value
		own := t.Kind() != reflect.Pointer
		switch t.Kind() {
		case reflect.Pointer:
			if err := d.charge(int64(t.Elem().Size())); err != nil {
				return err
			}
			home = reflect.New(t.Elem())
			fill = home.Elem()
		case reflect.Slice:
			l := packedLen(n, t.Elem())
			if err := d.charge(int64(l) * int64(t.Elem().Size())); err != nil {
				return err
			}
			home = reflect.MakeSlice(t, l, l)
			fill = home
		case reflect.Map:
			home = reflect.MakeMapWithSize(t, len(n.Keys))
			fill = home
		}
		d.homes[ref] = home
		target.Set(home)
		d.work = append(d.work, decodeJob{target: fill, id: ref, own: own})
		return nil
	case reflect.Interface:
		if _, err := d.take(ref); err != nil {
			return err
		}
		return d.iface(target, ref)
	case reflect.Struct, reflect.Array:
		if vit, _ := valueInterface(); t == vit {
			if _, err := d.take(ref); err != nil {
				return err
			}
			return d.iface(target, ref)
		}
		return d.content(target, ref)
	}
	return fmt.Errorf("a reference for a %s", t)
}

// iface decodes interface node id into target, of an interface type or
// yaegi's valueInterface.
func (d *decoder) iface(target reflect.Value, id int) error {
	n := &d.nodes[id-1]
	t := target.Type()
	switch {
	case n.Form == formError:
		ev := reflect.ValueOf(errors.New(n.V.Str))
		if !ev.Type().AssignableTo(t) {
			return fmt.Errorf("an error for a %s", t)
		}
		target.Set(ev)
		return nil
	case n.Form != "":
		return fmt.Errorf("form %q for a %s", n.Form, t)
	case n.Type == 0:
		return nil // nil
	case n.Type < 0 || n.Type > len(d.types):
		return fmt.Errorf("dynamic type %d of %d", n.Type, len(d.types))
	}
	dt := d.types[n.Type-1]
	vit, _ := valueInterface()
	wrap := n.Wrap || t == vit
	form, ok := d.wraps[id]
	if !ok {
		form = dt.wraps
	}
	if wrap && !form.template.IsValid() {
		return fmt.Errorf("no interface form for dynamic type %s", dt.t)
	}
	if err := d.charge(int64(dt.t.Size())); err != nil {
		return err
	}
	tmp := reflect.New(dt.t).Elem()
	d.finish = append(d.finish, func() error {
		v := tmp
		if wrap {
			if form.global.IsValid() {
				if form.global.Type() != tmp.Type() {
					return fmt.Errorf("a %s for a %s", tmp.Type(), form.global.Type())
				}
				form.global.Set(tmp)
			}
			v = makeValueInterface(form.template, tmp)
		}
		if !v.Type().AssignableTo(t) {
			return fmt.Errorf("a %s is not a %s", dt.t, t)
		}
		target.Set(v)
		return nil
	})
	return d.value(tmp, n.V)
}

// packageValue decodes a value that its type's own methods rebuild.
func (d *decoder) packageValue(target reflect.Value, n *Node) (err error) {
	t := target.Type()
	if !target.CanAddr() {
		return fmt.Errorf("%s is not addressable", t)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: panic: %v", t, r)
		}
	}()
	want := map[string]reflect.Type{formTime: timeType, formLocation: locationType, formBuilder: builderType, formBuffer: bufferType}[n.Form]
	if want != nil && t != want {
		return fmt.Errorf("form %s for a %s", n.Form, t)
	}
	p := target.Addr().Interface()
	switch n.Form {
	case formTime:
		var tm time.Time
		if err := tm.UnmarshalBinary(n.Bytes); err != nil {
			return err
		}
		_, off := tm.Zone()
		*p.(*time.Time) = tm.In(d.location(n.V.Str, off, tm))
	case formLocation:
		if n.V.Int < math.MinInt32 || n.V.Int > math.MaxInt32 {
			return errors.New("bad zone offset")
		}
		*p.(*time.Location) = *d.location(n.V.Str, int(n.V.Int), time.Now())
	case formBuilder:
		p.(*strings.Builder).WriteString(n.V.Str)
	case formBuffer:
		p.(*bytes.Buffer).Write(n.Bytes)
	case formGob:
		x, ok := p.(gob.GobDecoder)
		if !ok {
			return fmt.Errorf("%s is not a gob.GobDecoder", t)
		}
		return x.GobDecode(n.Bytes)
	case formBinary:
		x, ok := p.(encoding.BinaryUnmarshaler)
		if !ok {
			return fmt.Errorf("%s is not an encoding.BinaryUnmarshaler", t)
		}
		return x.UnmarshalBinary(n.Bytes)
	case formText:
		x, ok := p.(encoding.TextUnmarshaler)
		if !ok {
			return fmt.Errorf("%s is not an encoding.TextUnmarshaler", t)
		}
		return x.UnmarshalText(n.Bytes)
	default:
		return fmt.Errorf("unknown form %q", n.Form)
	}
	return nil
}

// location returns the location a time was in: UTC, Local, a zone of the
// system's database if it has the same offset at that instant, or else a
// fixed zone of that name and offset.
func (d *decoder) location(name string, offset int, at time.Time) *time.Location {
	switch name {
	case "UTC":
		return time.UTC
	case "Local":
		return time.Local
	}
	loc, ok := d.locs[name]
	if !ok {
		loc, _ = time.LoadLocation(name)
		if len(d.locs) < 64 {
			d.locs[name] = loc
		}
	}
	if loc != nil {
		if _, off := at.In(loc).Zone(); off == offset {
			return loc
		}
	}
	return time.FixedZone(name, offset)
}

// compareKeys orders map keys of one type, as fmt prints maps: numbers,
// strings and booleans by value, pointers and channels by address,
// structs and arrays field by field, interfaces by type then value. NaN
// keys compare equal to each other and below every other number.
func compareKeys(a, b reflect.Value) int {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.String:
		return strings.Compare(a.String(), b.String())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	case reflect.Complex64, reflect.Complex128:
		if c := cmp.Compare(real(a.Complex()), real(b.Complex())); c != 0 {
			return c
		}
		return cmp.Compare(imag(a.Complex()), imag(b.Complex()))
	case reflect.Bool:
		switch {
		case a.Bool() == b.Bool():
			return 0
		case !a.Bool():
			return -1
		}
		return 1
	case reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		return cmp.Compare(a.Pointer(), b.Pointer())
	case reflect.Struct:
		for i := range a.NumField() {
			if c := compareKeys(a.Field(i), b.Field(i)); c != 0 {
				return c
			}
		}
		return 0
	case reflect.Array:
		for i := range a.Len() {
			if c := compareKeys(a.Index(i), b.Index(i)); c != 0 {
				return c
			}
		}
		return 0
	case reflect.Interface:
		switch {
		case a.IsNil() && b.IsNil():
			return 0
		case a.IsNil():
			return -1
		case b.IsNil():
			return 1
		}
		ea, eb := a.Elem(), b.Elem()
		if c := strings.Compare(ea.Type().String(), eb.Type().String()); c != 0 {
			return c
		}
		if ea.Type() != eb.Type() {
			return cmp.Compare(ea.Type().Size(), eb.Type().Size()) // distinct types of one name: any stable order
		}
		return compareKeys(ea, eb)
	}
	return 0
}
