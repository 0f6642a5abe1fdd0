package namespace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Graph is a Snapshot's values as a graph, for people to look at before a
// migration (WriteDOT) and for tools to draw: a node for each variable
// and for each value that something refers to (what a pointer points to,
// a slice's or map's contents, a struct or interface value too large to
// show inside its holder), with the scalars it holds as rows, and an edge
// for each reference. Two pointers to one value are two edges into one
// node; a cycle is a loop. A graph stops at graphMaxNodes nodes and
// graphMaxEdges references from one node, counting what it leaves out.
type Graph struct {
	Nodes   []GraphNode `json:"nodes"`
	Edges   []GraphEdge `json:"edges"`
	Omitted int         `json:"omitted,omitempty"` // nodes past the limit, not shown
}

// GraphNode is a variable, or a value of a Snapshot (#N, Snapshot.Nodes[N-1]).
// A variable's node is the node of its storage: a pointer to the variable
// is an edge to it.
type GraphNode struct {
	ID      string   `json:"id"`                // "v<k>" for the k-th variable, "n<N>" for node #N
	Var     string   `json:"var,omitempty"`     // the variable's name
	Node    int      `json:"node,omitempty"`    // N, for a node of the snapshot
	Type    string   `json:"type"`              // and length, for a slice or map
	Rows    []string `json:"rows,omitempty"`    // fields, elements and scalars shown in the node, shortened
	NoValue bool     `json:"noValue,omitempty"` // a variable without a value in the snapshot: it arrives at its zero value
}

// GraphEdge is a reference from one node to another.
type GraphEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"` // the field, index, key or dynamic type it is from

	// Value is set when the target is part of the source's value, as a
	// struct field or an interface's dynamic value is, rather than
	// referred to.
	Value bool `json:"value,omitempty"`
}

// Limits of what a Graph shows.
const (
	graphMaxNodes = 500 // nodes in a graph
	graphMaxEdges = 32  // references drawn from one node
	graphMaxRows  = 12  // rows of one node
	graphMaxRow   = 60  // bytes of one row
)

// Graph returns the graph of s's values. Like Describe, it fails only for
// a snapshot of another version.
func (s *Snapshot) Graph() (Graph, error) {
	if s == nil {
		return Graph{}, errors.New("namespace: graph: no snapshot")
	}
	if s.Version != SnapshotVersion {
		return Graph{}, fmt.Errorf("namespace: snapshot version %d, this build draws version %d", s.Version, SnapshotVersion)
	}
	b := &graphBuilder{
		d: newDescriber(s), ids: map[int]string{}, edges: map[int]int{}, omitted: map[int]bool{},
		g: Graph{Nodes: []GraphNode{}, Edges: []GraphEdge{}},
	}
	for k, v := range s.Vars {
		if len(b.g.Nodes) >= graphMaxNodes {
			b.g.Omitted += len(s.Vars) - k
			break
		}
		t := b.d.env.source(v.Type, v.At)
		at := len(b.g.Nodes)
		b.g.Nodes = append(b.g.Nodes, GraphNode{ID: "v" + strconv.Itoa(k), Var: varName(v.Name), Type: b.d.env.display(v.Type, graphMaxRow)})
		switch _, seen := b.ids[v.Value]; {
		case v.Value == 0:
			b.g.Nodes[at].NoValue = true
			w := b.d.newWriter(graphMaxRow)
			w.zero(t, false)
			b.row(at, w.String())
		case !b.d.valid(v.Value):
			b.row(at, fmt.Sprintf("<bad ref %d>", v.Value))
		case seen: // two variables of one storage: only in a damaged snapshot
			b.edge(at, "", b.ids[v.Value], false)
		default:
			b.g.Nodes[at].Node = v.Value
			b.ids[v.Value] = b.g.Nodes[at].ID
			b.queue = append(b.queue, graphJob{ref: v.Value, t: t, at: at})
		}
	}
	for k := 0; k < len(b.queue); k++ {
		b.fill(b.queue[k])
	}
	for at, n := range b.edges {
		if n > graphMaxEdges {
			b.rows(at, fmt.Sprintf("… %d more references", n-graphMaxEdges))
		}
	}
	b.g.Omitted += len(b.omitted)
	return b.g, nil
}

// WriteDOT writes the graph of s's values as a Graphviz DOT subgraph
// (see Graph), for a digraph to hold, with several sessions side by side:
// a cluster labelled label whose node names begin with prefix.
func (s *Snapshot) WriteDOT(w io.Writer, prefix, label string) error {
	g, err := s.Graph()
	if err != nil {
		return err
	}
	return g.WriteDOT(w, prefix, label)
}

type graphJob struct {
	ref int
	t   *dtype
	own bool // the node is the slice or map itself, not what holds one
	at  int  // its index in Graph.Nodes
}

type graphBuilder struct {
	d       *describer
	g       Graph
	ids     map[int]string // snapshot node → graph node
	queue   []graphJob
	edges   map[int]int // graph node → references from it
	omitted map[int]bool
}

func (b *graphBuilder) row(at int, s string) {
	n := &b.g.Nodes[at]
	switch {
	case len(n.Rows) < graphMaxRows:
		n.Rows = append(n.Rows, cutRow(s))
	case len(n.Rows) == graphMaxRows:
		n.Rows = append(n.Rows, "…")
	}
}

// rows adds a row even to a full node: a count of what it leaves out.
func (b *graphBuilder) rows(at int, s string) {
	b.g.Nodes[at].Rows = append(b.g.Nodes[at].Rows, cutRow(s))
}

func cutRow(s string) string {
	s = printable(s)
	if len(s) > graphMaxRow {
		return cut(s, graphMaxRow) + "…"
	}
	return s
}

func (b *graphBuilder) edge(at int, label, to string, value bool) {
	b.edges[at]++
	if b.edges[at] > graphMaxEdges {
		return
	}
	b.g.Edges = append(b.g.Edges, GraphEdge{From: b.g.Nodes[at].ID, To: to, Label: cutRow(label), Value: value})
}

// target returns the graph node of snapshot node ref, as a value of type
// t, adding it if it is new; "" past the limit.
func (b *graphBuilder) target(ref int, t *dtype, own bool) string {
	if id, ok := b.ids[ref]; ok {
		return id
	}
	if len(b.g.Nodes) >= graphMaxNodes {
		b.omitted[ref] = true
		return ""
	}
	id := "n" + strconv.Itoa(ref)
	b.ids[ref] = id
	typ := t.name
	if own {
		if n := b.d.node(ref); t.underlying().kind == kMap {
			typ += ", len " + strconv.Itoa(min(len(n.Keys), len(n.Elems)))
		} else if e, ok := packed(n, t.underlying().elem); ok {
			typ += ", len " + strconv.Itoa(e.n)
		}
	}
	b.g.Nodes = append(b.g.Nodes, GraphNode{ID: id, Node: ref, Type: cutRow(typ)})
	b.queue = append(b.queue, graphJob{ref: ref, t: t, own: own, at: len(b.g.Nodes) - 1})
	return id
}

// fill adds the rows and edges of a node.
func (b *graphBuilder) fill(j graphJob) {
	n := b.d.node(j.ref)
	if n.Form != "" {
		b.row(j.at, b.d.form(n, j.t))
		return
	}
	u := j.t.underlying()
	switch {
	case j.own && u.kind == kMap:
		b.mapRows(j.at, j.ref, u)
	case j.own || u.kind == kArray:
		b.listRows(j.at, n, j.t, u)
	case u.kind == kStruct && len(n.Elems) == len(u.fields):
		for k, f := range u.fields {
			b.field(j.at, f.name, n.Elems[k], f.typ, 0)
		}
	case u.kind == kInterface:
		b.ifaceRows(j.at, n)
	case u.kind == kUnknown || composite(n):
		b.guessRows(j.at, n)
	default: // a scalar, or a pointer, slice or map variable
		b.field(j.at, "", n.V, j.t, 0)
	}
}

// field shows value v of type t, from a field, element or variable
// (label): as a row if it fits, else as an edge to a node of its own.
func (b *graphBuilder) field(at int, label string, v Value, t *dtype, depth int) {
	if b.inline(v, t, 0) {
		w := b.d.newWriter(graphMaxRow)
		w.value(v, t, false, 0)
		if label != "" {
			b.row(at, label+": "+w.String())
		} else {
			b.row(at, w.String())
		}
		return
	}
	u := t.underlying()
	switch u.kind {
	case kPointer:
		b.edgeTo(at, label, v.Ref, u.elem, false, false)
	case kSlice, kMap:
		b.edgeTo(at, label, v.Ref, t, true, false)
	case kInterface:
		// An interface value is not a thing of its own: the edge goes
		// to its dynamic value, named by its type.
		in := b.d.node(v.Ref)
		_, isVar := b.d.varOf[v.Ref]
		if dt, ok := b.d.dynType(in); ok && !isVar && !b.d.shared[v.Ref] && in.Form == "" && depth < 4 {
			if label == "" {
				label = dt.name
			} else {
				label += " (" + dt.name + ")"
			}
			b.field(at, label, in.V, dt, depth+1)
			return
		}
		b.edgeTo(at, label, v.Ref, t, false, true)
	default:
		b.edgeTo(at, label, v.Ref, t, false, true)
	}
}

func (b *graphBuilder) edgeTo(at int, label string, ref int, t *dtype, own, value bool) {
	if id := b.target(ref, t, own); id != "" {
		b.edge(at, label, id, value)
	} else {
		b.row(at, label+": …")
	}
}

// inline reports whether v fits in a row: a scalar, or a small struct,
// array or interface value of scalars, which nothing else refers to.
func (b *graphBuilder) inline(v Value, t *dtype, depth int) bool {
	u := t.underlying()
	switch u.kind {
	case kBool, kInt, kUint, kFloat, kComplex, kString, kChan, kFunc:
		return true
	}
	if v.Ref == 0 || !b.d.valid(v.Ref) {
		return true // nil, zero, or a bad reference, which the row names
	}
	if _, isVar := b.d.varOf[v.Ref]; isVar || b.d.shared[v.Ref] || depth > 2 {
		return false
	}
	n := b.d.node(v.Ref)
	if n.Form != "" {
		return true
	}
	switch u.kind {
	case kInterface:
		dt, ok := b.d.dynType(n)
		return !ok || b.inline(n.V, dt, depth+1)
	case kStruct:
		if len(n.Elems) != len(u.fields) || len(n.Elems) > 4 {
			return false
		}
		for k, f := range u.fields {
			if !b.inline(n.Elems[k], f.typ, depth+1) {
				return false
			}
		}
		return true
	case kArray:
		e, ok := packed(n, u.elem)
		if !ok || e.n > 8 {
			return false
		}
		for k := range e.n {
			if !b.inline(e.at(k), u.elem, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func (b *graphBuilder) listRows(at int, n *Node, t, u *dtype) {
	et := u.elem
	if isByte(et) && len(n.Elems) == 0 {
		b.row(at, quote(string(n.Bytes), graphMaxRow))
		return
	}
	e, ok := packed(n, et)
	if !ok {
		b.guessRows(at, n)
		return
	}
	if k := et.underlying().kind; k != kUnknown && k <= kString {
		// Numbers, strings, bools: a line of them.
		w := b.d.newWriter(graphMaxRow)
		w.list(n, t, u, true, 0)
		b.row(at, w.String())
		return
	}
	for k := range e.n {
		if k == graphMaxEdges {
			b.rows(at, fmt.Sprintf("… %d more elements", e.n-k))
			return
		}
		b.field(at, "["+strconv.Itoa(k)+"]", e.at(k), et, 0)
	}
}

func (b *graphBuilder) mapRows(at, ref int, u *dtype) {
	n := b.d.node(ref)
	l := min(len(n.Keys), len(n.Elems))
	for i, k := range b.d.mapOrder(ref, u.key) {
		if i == graphMaxEdges {
			b.rows(at, fmt.Sprintf("… %d more entries", l-i))
			return
		}
		var key string
		if b.inline(n.Keys[k], u.key, 0) {
			w := b.d.newWriter(graphMaxRow / 2)
			w.value(n.Keys[k], u.key, true, 0)
			key = w.String()
		} else {
			key = "key " + strconv.Itoa(i)
			b.field(at, key, n.Keys[k], u.key, 0)
		}
		if b.inline(n.Elems[k], u.elem, 0) {
			b.field(at, key, n.Elems[k], u.elem, 0)
		} else {
			b.field(at, "["+key+"]", n.Elems[k], u.elem, 0)
		}
	}
	if len(n.Keys) != len(n.Elems) {
		b.rows(at, fmt.Sprintf("<bad map: %d keys, %d values>", len(n.Keys), len(n.Elems)))
	}
}

func (b *graphBuilder) ifaceRows(at int, n *Node) {
	dt, ok := b.d.dynType(n)
	if !ok || n.Type == 0 || b.inline(n.V, dt, 0) {
		w := b.d.newWriter(graphMaxRow)
		w.iface(n, 0)
		b.row(at, w.String())
		return
	}
	b.field(at, dt.name, n.V, dt, 1)
}

// guessRows shows a node of an unknown type by position.
func (b *graphBuilder) guessRows(at int, n *Node) {
	if n.Type != 0 {
		b.ifaceRows(at, n)
		return
	}
	if len(n.Keys) > 0 {
		for k := range min(len(n.Keys), graphMaxEdges) {
			key := guessScalar(n.Keys[k])
			b.field(at, "key "+strconv.Itoa(k), n.Keys[k], unknownType, 0)
			if k < len(n.Elems) {
				b.field(at, "["+key+"]", n.Elems[k], unknownType, 0)
			}
		}
		return
	}
	e := anyPacked(n)
	if e.n == 0 {
		b.field(at, "", n.V, unknownType, 0)
		return
	}
	for k := range min(e.n, graphMaxEdges) {
		b.field(at, "["+strconv.Itoa(k)+"]", e.at(k), e.typ, 0)
	}
	if e.n > graphMaxEdges {
		b.rows(at, fmt.Sprintf("… %d more elements", e.n-graphMaxEdges))
	}
}

// WriteDOT writes g as a Graphviz DOT subgraph, a cluster labelled label
// whose node names begin with prefix; a digraph holds one or more. Nodes
// are records whose fields are rows: one above the other under rankdir=LR.
// Variables are filled; a dashed edge leads to a part of a value rather
// than to what it refers to.
func (g *Graph) WriteDOT(w io.Writer, prefix, label string) error {
	prefix = dotName(prefix)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "subgraph \"cluster_%s\" {\n\tlabel=%s;\n", prefix, dotQuote(label))
	for _, n := range g.Nodes {
		title := n.Type
		switch {
		case n.Var != "":
			title = n.Var + " " + n.Type
		case n.Node != 0:
			title = "#" + strconv.Itoa(n.Node) + " " + n.Type
		}
		fields := make([]string, 0, len(n.Rows)+1)
		for _, f := range append([]string{title}, n.Rows...) {
			fields = append(fields, recordEscape(f))
		}
		attrs := "shape=Mrecord"
		switch {
		case n.Var != "" && n.NoValue:
			attrs = `shape=record, style="dashed"`
		case n.Var != "":
			attrs = `shape=record, style="filled", fillcolor="#fff2b3"`
		}
		fmt.Fprintf(bw, "\t\"%s_%s\" [%s, label=\"%s\"];\n", prefix, dotName(n.ID), attrs, strings.Join(fields, "|"))
	}
	if g.Omitted > 0 {
		fmt.Fprintf(bw, "\t\"%s_omitted\" [shape=plaintext, label=%s];\n", prefix, dotQuote(fmt.Sprintf("… %d more nodes not drawn", g.Omitted)))
	}
	for _, e := range g.Edges {
		attrs := ""
		if e.Label != "" {
			attrs = "label=" + dotQuote(e.Label)
		}
		if e.Value {
			if attrs != "" {
				attrs += ", "
			}
			attrs += `style="dashed"`
		}
		if attrs != "" {
			attrs = " [" + attrs + "]"
		}
		fmt.Fprintf(bw, "\t\"%s_%s\" -> \"%s_%s\"%s;\n", prefix, dotName(e.From), prefix, dotName(e.To), attrs)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// dotName keeps what a node name may hold inside quotes without escapes.
func dotName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// dotQuote quotes s as a DOT string for an escString attribute (a label):
// backslashes doubled, so that \N and the like are not expanded.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(printable(s)) + `"`
}

// recordEscape escapes s as a field of a record label (inside quotes).
func recordEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `{`, `\{`, `}`, `\}`, `|`, `\|`, `<`, `\<`, `>`, `\>`)
	return r.Replace(printable(s))
}
