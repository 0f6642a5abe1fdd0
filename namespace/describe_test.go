package namespace

import (
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// snapshotOf evaluates srcs in a new namespace and returns its snapshot as
// the other side of a migration (or a snapshot file) decodes it.
func snapshotOf(t testing.TB, srcs ...string) Snapshot {
	t.Helper()
	ns := newTestNS(t, false)
	for _, src := range srcs {
		ns.mustEval(t, src)
	}
	_, snap, _ := carry(t, ns.Namespace)
	return snap
}

func describe(t testing.TB, s Snapshot) Description {
	t.Helper()
	d, err := s.Describe()
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return d
}

func varOf(t testing.TB, d Description, name string) VarDescription {
	t.Helper()
	for _, v := range d.Vars {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variable %s in %+v", name, d.Vars)
	return VarDescription{}
}

// nodeNumbers stands for the numbers of nodes, which depend on the
// encoder's order, in the table below.
var nodeNumbers = regexp.MustCompile(`#\d+`)

func TestDescribeValues(t *testing.T) {
	point := "type Point struct{ X, Y int }"
	node := "type Node struct{ V int; Next *Node }"
	for _, c := range []struct {
		name string
		src  []string
		v    string // the variable
		want string // its value, #N for any node number
	}{
		{"int", []string{"x := 42"}, "x", "42"},
		{"string", []string{`s := "a\"b\n"`}, "s", `"a\"b\n"`},
		{"float", []string{"f := 0.1"}, "f", "0.1"},
		{"float32", []string{"f := float32(1.25)"}, "f", "1.25"},
		{"float bits", []string{`import "math"`, "z := []float64{math.Copysign(0, -1), math.NaN(), math.Inf(1)}"}, "z", "[]float64{-0, NaN, +Inf}"},
		{"complex", []string{"c := 3.5 - 4i"}, "c", "(3.5-4i)"},
		{"bool", []string{"b := true"}, "b", "true"},
		{"struct", []string{point, "p := Point{1, 2}"}, "p", "Point{X: 1, Y: 2}"},
		{"zero struct field", []string{point, "type Line struct{ From, To Point }", "l := Line{To: Point{5, 5}}"}, "l", "Line{From: Point{}, To: Point{X: 5, Y: 5}}"},
		{"pointer to a variable", []string{point, "p := Point{1, 2}", "pp := &p"}, "pp", "&p"},
		{"pointer to a pointer", []string{"x := 1", "px := &x", "ppx := &px"}, "ppx", "&px"},
		{"pointer to the heap", []string{point, "hp := &Point{3, 4}"}, "hp", "&Point{X: 3, Y: 4}"},
		{"nil pointer", []string{point, "var np *Point"}, "np", "nil"},
		{"cycle", []string{node, "n := &Node{V: 1}", "n.Next = n"}, "n", "#N=&Node{V: 1, Next: <cycle: #N>}"},
		{"ring", []string{node, "r := &Node{V: 1, Next: &Node{V: 2}}", "r.Next.Next = r"}, "r", "#N=&Node{V: 1, Next: &Node{V: 2, Next: <cycle: #N>}}"},
		{"cycle through a variable", []string{node, "var self Node", "self.Next = &self"}, "self", "Node{V: 0, Next: &self}"},
		{"shared slice", []string{"s1 := []int{1, 2, 3}", "s2 := s1"}, "s2", "#N=[]int{1, 2, 3}"},
		{"slice of a slice", []string{"s1 := []int{1, 2, 3}", "tail := s1[1:]"}, "tail", "[]int{2, 3}"},
		{"nil slice", []string{"var ns []int"}, "ns", "nil"},
		{"slice of structs", []string{point, "ps := []Point{{1, 2}, {3, 4}}"}, "ps", "[]Point{{X: 1, Y: 2}, {X: 3, Y: 4}}"},
		{"slice of pointers", []string{point, "ps := []*Point{{1, 2}}"}, "ps", "[]*Point{&Point{X: 1, Y: 2}}"},
		{"bytes", []string{`b := []byte("hi\x00")`}, "b", `[]uint8("hi\x00")`},
		{"array", []string{"a := [3]int{1, 2, 3}"}, "a", "[3]int{1, 2, 3}"},
		{"byte array", []string{"a := [2]byte{1, 2}"}, "a", "[2]uint8{1, 2}"},
		{"map", []string{`m := map[string]int{"b": 2, "a": 1}`}, "m", `map[string]int{"a": 1, "b": 2}`},
		{"map with int keys", []string{`m := map[int]string{10: "x", 2: "y"}`}, "m", `map[int]string{2: "y", 10: "x"}`},
		{"map with struct keys", []string{point, `m := map[Point]bool{{1, 2}: true}`}, "m", "map[Point]bool{{X: 1, Y: 2}: true}"},
		{"map of slices", []string{`m := map[string][]int{"a": {1}}`}, "m", `map[string][]int{"a": {1}}`},
		{"anonymous struct", []string{`a := struct{ A int; B []string }{1, []string{"x"}}`}, "a", `struct{A int; B []string}{A: 1, B: []string{"x"}}`},
		{"lower-case fields", []string{"type low struct{ a int; b string }", `l := low{1, "x"}`}, "l", `low{a: 1, b: "x"}`},
		{"embedded", []string{"type Base struct{ ID int }", "type Derived struct{ Base; Name string }", `d := Derived{Base{1}, "n"}`}, "d", `Derived{Base: Base{ID: 1}, Name: "n"}`},
		{"generic", []string{"type Box[T any] struct{ V T }", `b := Box[string]{"x"}`}, "b", `Box[string]{V: "x"}`},
		{"defined basic type", []string{"type Celsius float64", "c := Celsius(21.5)"}, "c", "21.5"},
		// The T that t1 has is gone from the session: its structure.
		{"redeclared type", []string{"type T struct{ A int }", "t1 := T{1}", "type T struct{ B string }"}, "t1", "struct{A int}{A: 1}"},
		{"interface of a declared type", []string{point, "var v any = Point{1, 2}"}, "v", "Point{X: 1, Y: 2}"},
		{"interface of int8", []string{"var v any = int8(3)"}, "v", "int8(3)"},
		{"interface of a whole float", []string{"var v any = 3.0"}, "v", "float64(3)"},
		{"nil interface", []string{"var v any"}, "v", "nil"},
		{"interface of a pointer", []string{point, "p := Point{1, 2}", "var ap any", "ap = &p"}, "ap", "&p"},
		{"declared interface", []string{"type Shape interface{ Area() float64 }", "type Sq struct{ Side float64 }",
			"func (s Sq) Area() float64 { return s.Side * s.Side }", "var sh Shape = Sq{3}"}, "sh", "Sq{Side: 3}"},
		{"slice of interfaces", []string{point, `xs := []any{1, "s", nil, Point{1, 1}, int8(3)}`}, "xs", `[]interface{}{1, "s", nil, Point{X: 1, Y: 1}, int8(3)}`},
		{"error", []string{`import "errors"`, `e := errors.New("boom")`}, "e", `errors.New("boom")`},
		{"wrapped error", []string{`import ("errors"; "fmt")`, `e := fmt.Errorf("outer: %w", errors.New("inner"))`}, "e", `errors.New("outer: inner")`},
		{"time", []string{`import "time"`, "tm := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC)"}, "tm", "2024-02-29 13:14:15.123456789 +0000 UTC"},
		{"time in a fixed zone", []string{`import "time"`, `tm := time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))`}, "tm", "2024-01-01 00:00:00 +0100 X"},
		{"duration", []string{`import "time"`, "d := 90 * time.Minute"}, "d", "1h30m0s"},
		{"month", []string{`import "time"`, "m := time.March"}, "m", "time.March"},
		{"package struct", []string{`import "image"`, "r := image.Rect(0, 0, 3, 4)"}, "r", "image.Rectangle{Min: image.Point{}, Max: image.Point{X: 3, Y: 4}}"},
		{"big.Int", []string{`import "math/big"`, "bi := big.NewInt(12345)"}, "bi", "&big.Int(12345)"},
		{"big.Rat", []string{`import "math/big"`, "br := big.NewRat(1, 3)"}, "br", "&big.Rat(1/3)"},
		{"url", []string{`import "net/url"`, `u, _ := url.Parse("https://example.org/a?b=c")`}, "u", `&url.URL("https://example.org/a?b=c")`},
		{"regexp", []string{`import "regexp"`, `re := regexp.MustCompile("a+b")`}, "re", `&regexp.Regexp("a+b")`},
		{"strings.Builder", []string{`import "strings"`, "var sb strings.Builder", `sb.WriteString("built")`}, "sb", `strings.Builder("built")`},
		{"channel", []string{"ch := make(chan int)"}, "ch", "nil"},
		{"func field", []string{"type WithFunc struct{ F func(); N int }", "wf := WithFunc{func() {}, 3}"}, "wf", "WithFunc{F: nil, N: 3}"},
		{"long slice", []string{"s := make([]int, 100)"}, "s", "[]int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, … (84 more)}"},
		{"long string", []string{`import "strings"`, `s := strings.Repeat("ab", 150)`}, "s", `"` + strings.Repeat("ab", 100) + `"…`},
		{"deep list", []string{"type L struct{ N int; Next *L }", "var head *L", "for i := 0; i < 50; i++ { head = &L{i, head} }"},
			"head", "&L{N: 49, Next: &L{N: 48, Next: &L{N: 47, Next: &L{N: 46, Next: &…}}}}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := describe(t, snapshotOf(t, c.src...))
			got := nodeNumbers.ReplaceAllString(varOf(t, d, c.v).Value, "#N")
			if got != c.want {
				t.Errorf("%s = %s\nwant   %s", c.v, got, c.want)
			}
		})
	}
}

func TestDescribeReferences(t *testing.T) {
	d := describe(t, snapshotOf(t,
		"type Point struct{ X, Y int }", "p := Point{1, 2}", "pp := &p",
		"type Node struct{ V int; Next *Node }", "n := &Node{V: 1}", "n.Next = n",
		"heap := &Point{7, 8}", "h1, h2 := heap, heap", "ps := []*Point{heap, heap}",
		"ch := make(chan int)", "var nilCh chan int", "lone := 5",
	))
	// A cycle names the node it returns to.
	m := regexp.MustCompile(`^#(\d+)=&Node\{V: 1, Next: <cycle: #(\d+)>\}$`).FindStringSubmatch(varOf(t, d, "n").Value)
	if m == nil || m[1] != m[2] {
		t.Errorf("n = %s, want a cycle back to the node it labels", varOf(t, d, "n").Value)
	}
	// Two pointers to one value show one node number; within one value the
	// second is a reference.
	h1, h2 := varOf(t, d, "h1"), varOf(t, d, "h2")
	if h1.Value != h2.Value || !strings.HasPrefix(h1.Value, "#") {
		t.Errorf("h1 = %s, h2 = %s: want the same labelled node", h1.Value, h2.Value)
	}
	label := strings.TrimSuffix(strings.SplitN(h1.Value, "=", 2)[0], "=")
	if want := "[]*Point{" + label + "=&Point{X: 7, Y: 8}, <same as " + label + ">}"; varOf(t, d, "ps").Value != want {
		t.Errorf("ps = %s, want %s", varOf(t, d, "ps").Value, want)
	}
	for name, want := range map[string][]string{
		"p": {"pp"}, "pp": {"p"}, "h1": {"h2", "heap", "ps"}, "heap": {"h1", "h2", "ps"}, "n": nil, "lone": nil,
	} {
		if got := varOf(t, d, name).Shares; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s shares with %v, want %v", name, got, want)
		}
	}
	for name, carried := range map[string]bool{"ch": false, "nilCh": false, "lone": true, "p": true} {
		v := varOf(t, d, name)
		if v.Carried != carried || (v.Node != 0) != carried {
			t.Errorf("%s: carried %v, node %d; want carried %v", name, v.Carried, v.Node, carried)
		}
	}
	if v := varOf(t, d, "ch"); v.Value != "nil" || v.Type != "chan int" {
		t.Errorf("ch = %s (%s), want nil (chan int)", v.Value, v.Type)
	}
}

func TestDescribeJournal(t *testing.T) {
	d := describe(t, snapshotOf(t,
		`import ("fmt"; str "strconv")`, `import "time"`,
		"type Event struct{ At time.Time; Note string }", "const Max = 10",
		"func greet(name string) string {\n\treturn fmt.Sprint(\"hi \", name, str.Itoa(Max))\n}",
		"ev := Event{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), \"x\"}",
	))
	if got, want := strings.Join(d.Imports, " "), `"fmt" str "strconv" "time"`; got != want {
		t.Errorf("Imports = %s, want %s", got, want)
	}
	want := []string{
		"type Event struct{ At time.Time; Note string }", "const Max = 10",
		"func greet(name string) string {\n\treturn fmt.Sprint(\"hi \", name, str.Itoa(Max))\n}",
	}
	if strings.Join(d.Declarations, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Errorf("Declarations = %q, want %q", d.Declarations, want)
	}
	// A journal type's field of a package type, through the import's name.
	if got, want := varOf(t, d, "ev").Value, `Event{At: 2024-01-02 03:04:05 +0000 UTC, Note: "x"}`; got != want {
		t.Errorf("ev = %s, want %s", got, want)
	}
}

// hostileSnapshots are snapshots no namespace writes.
func hostileSnapshots() map[string]Snapshot {
	v := func(name, typ string, ref int) SnapshotVar { return SnapshotVar{Name: name, Type: typ, Value: ref} }
	ints := make([]int64, 1<<20)
	// A chain of diamonds: each node refers twice to the next. Shown
	// naively, it takes 2^1000 steps.
	diamonds := make([]Node, 1000)
	for k := range diamonds[:len(diamonds)-1] {
		diamonds[k].Elems = []Value{{Ref: k + 2}, {Ref: k + 2}}
	}
	deep := strings.Repeat("[]", 5000) + "int"
	// Many variables sharing one big map: sorted once, named sharing a few.
	bigMap := Node{Keys: make([]Value, 100_000), Elems: make([]Value, 100_000)}
	for k := range bigMap.Keys {
		bigMap.Keys[k] = Value{Int: int64(len(bigMap.Keys) - k)}
	}
	sharers := make([]SnapshotVar, 3000)
	for k := range sharers {
		sharers[k] = v("m"+strconv.Itoa(k), "map[int]int", 1)
	}
	return map[string]Snapshot{
		"refs out of range": {Vars: []SnapshotVar{v("x", "*int", 7), v("y", "*int", -1), v("z", "[]int", 1)},
			Nodes: []Node{{V: Value{Ref: 99}}}},
		"self-referring slice": {Vars: []SnapshotVar{v("s", "[]int", 1)}, Nodes: []Node{{V: Value{Ref: 1}}}},
		"struct containing itself": {Vars: []SnapshotVar{v("s", "struct{A struct{B int}}", 1)},
			Nodes: []Node{{Elems: []Value{{Ref: 1}}}}},
		"unknown types": {Vars: []SnapshotVar{v("a", "Nowhere", 1), v("b", "]]][", 2), v("c", "__tr_p9.T", 1), v("d", "x.Y", 2)},
			Nodes: []Node{{Elems: []Value{{Int: 1}, {Str: "s"}, {Ref: 2}}}, {Keys: []Value{{Str: "k"}}, Elems: []Value{{Bool: true}}}}},
		"bad dynamic type": {Vars: []SnapshotVar{v("i", "any", 1), v("j", "any", 2)}, Types: []string{"int"},
			Nodes: []Node{{Type: 9}, {Type: 1, V: Value{Ref: 2}}}},
		"map with fewer values": {Vars: []SnapshotVar{v("m", "map[string]int", 1)},
			Nodes: []Node{{V: Value{Ref: 2}}, {Keys: []Value{{Str: "a"}, {Str: "b"}}, Elems: []Value{{Int: 1}}}}},
		"bad forms": {Vars: []SnapshotVar{v("t", "__tr_p0.Time", 1), v("f", "any", 2), v("b", "*__tr_p1.Int", 3)},
			Packages: []string{"time", "math/big"},
			Nodes:    []Node{{Form: formTime, Bytes: []byte{1, 2, 3}}, {Form: "weird"}, {V: Value{Ref: 4}}, {Form: formGob, Bytes: []byte{0xff, 0xff}}}},
		"huge float": {Vars: []SnapshotVar{v("f", "*__tr_p0.Float", 1)}, Packages: []string{"math/big"},
			Nodes: []Node{{V: Value{Ref: 2}}, {Form: formGob, Bytes: []byte{1, 10, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}}}},
		"a million elements": {Vars: []SnapshotVar{v("s", "[]int", 1), v("u", "[]Unknown", 1)},
			Nodes: []Node{{V: Value{Ref: 2}}, {Ints: ints}}},
		"diamonds": {Vars: []SnapshotVar{v("d", "T", 1), v("e", "Unknown", 1)},
			Journal: []string{"type T struct{ L, R *T }"}, Nodes: diamonds},
		"type loops": {
			Journal: []string{"type A = B", "type B = A", "type C D", "type D C", "type G[T any] struct{ Next *G[[]T] }",
				"type E struct{ A, B, C, D, E, F, G, H F }", "type F = struct{ A, B, C, D, E, F, G, H E2 }", "type E2 = struct{ A, B, C, D, E, F, G, H E }"},
			Vars:  []SnapshotVar{v("a", "A", 1), v("c", "C", 1), v("g", "G[int]", 1), v("e", "E", 1), v("deep", deep, 1)},
			Nodes: []Node{{Elems: []Value{{Int: 1}}}}},
		"many sharers": {Vars: sharers, Nodes: []Node{{V: Value{Ref: 2}}, bigMap}},
		"control characters": {Vars: []SnapshotVar{v("s", "string", 1)}, Journal: []string{"type \x1b[31mX int"},
			Nodes: []Node{{V: Value{Str: "\x1b[2J"}}}},
	}
}

func TestDescribeHostile(t *testing.T) {
	for name, s := range hostileSnapshots() {
		t.Run(name, func(t *testing.T) {
			s.Version = SnapshotVersion
			start := time.Now()
			d := describe(t, s)
			for _, v := range d.Vars {
				if len(v.Value) > describeMaxValue+len("…") {
					t.Errorf("%s: %d bytes", v.Name, len(v.Value))
				}
				if len(v.Shares) > describeMaxShares {
					t.Errorf("%s: shares with %d variables", v.Name, len(v.Shares))
				}
				if len(d.Vars) < 100 {
					t.Logf("%s %s = %s", v.Name, v.Type, v.Value)
				}
			}
			var dot bytes.Buffer
			if err := s.WriteDOT(&dot, "s", name); err != nil {
				t.Fatal(err)
			}
			checkDOT(t, "digraph g {\n"+dot.String()+"}\n")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("named", func(t *testing.T) {
		s := hostileSnapshots()["refs out of range"]
		s.Version = SnapshotVersion
		d := describe(t, s)
		if got := varOf(t, d, "x").Value + " " + varOf(t, d, "z").Value; got != "<bad ref 7> <bad ref 99>" {
			t.Errorf("got %s, want the bad references named", got)
		}
		s = hostileSnapshots()["control characters"]
		s.Version = SnapshotVersion
		d = describe(t, s)
		if got := varOf(t, d, "s").Value; got != `"\x1b[2J"` {
			t.Errorf("got %s, want the string quoted", got)
		}
	})
	if _, err := (&Snapshot{Version: 99}).Describe(); err == nil {
		t.Error("Describe of a snapshot of version 99 did not fail")
	}
	if _, err := (*Snapshot)(nil).Graph(); err == nil {
		t.Error("Graph of nil did not fail")
	}
}

// checkDOT checks that a digraph is plausible DOT: braces and quotes
// balance outside strings, every statement ends its line; and that
// Graphviz reads it, if it is installed.
func checkDOT(t *testing.T, dot string) {
	t.Helper()
	depth, inString := 0, false
	for k := 0; k < len(dot); k++ {
		c := dot[k]
		switch {
		case inString && c == '\\':
			k++
		case c == '"':
			inString = !inString
		case inString && c == '\n':
			t.Fatalf("a newline inside a string at %d", k)
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth < 0 {
				t.Fatalf("unbalanced } at %d", k)
			}
		}
	}
	if depth != 0 || inString {
		t.Fatalf("unbalanced: depth %d, in a string %v", depth, inString)
	}
	path, err := exec.LookPath("dot")
	if err != nil {
		return // Graphviz is not installed: the check above is what there is
	}
	cmd := exec.Command(path, "-Tsvg", "-o", "/dev/null")
	cmd.Stdin = strings.NewReader(dot)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("dot: %v\n%s", err, out)
	}
}

func TestWriteDOT(t *testing.T) {
	s := snapshotOf(t,
		"type Point struct{ X, Y int }", "p := Point{1, 2}", "pp := &p",
		"type Node struct{ V int; Next *Node }", "n := &Node{V: 1}", "n.Next = n",
		"s1 := []int{1, 2, 3}", "s2 := s1", `label := "a|b{c}<d>\"e\"\\N"`,
		"type Shape interface{ Area() float64 }", "type Sq struct{ Side float64 }",
		"func (s Sq) Area() float64 { return s.Side * s.Side }", "var sh Shape = &Sq{2}",
	)
	g, err := s.Graph()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // variable → its graph node
	for _, n := range g.Nodes {
		if n.Var != "" {
			ids[n.Var] = n.ID
		}
	}
	into := map[string][]GraphEdge{}
	for _, e := range g.Edges {
		into[e.To] = append(into[e.To], e)
	}
	// pp points at p's own node.
	if es := into[ids["p"]]; len(es) != 1 || es[0].From != ids["pp"] {
		t.Errorf("edges into p: %+v, want one from pp", es)
	}
	// s1 and s2 share a node: two edges into it.
	var shared string
	for _, e := range g.Edges {
		if e.From == ids["s1"] {
			shared = e.To
		}
	}
	if es := into[shared]; shared == "" || len(es) != 2 {
		t.Errorf("edges into s1's slice %q: %+v, want two", shared, es)
	}
	// n's node refers to itself.
	loop := false
	for _, e := range g.Edges {
		loop = loop || e.From == e.To && e.Label == "Next"
	}
	if !loop {
		t.Errorf("no loop labelled Next in %+v", g.Edges)
	}
	// An interface's edge names the dynamic type.
	found := false
	for _, e := range g.Edges {
		found = found || e.From == ids["sh"] && e.Label == "*Sq"
	}
	if !found {
		t.Errorf("no edge *Sq from sh in %+v", g.Edges)
	}

	var b bytes.Buffer
	b.WriteString("digraph translucent {\nrankdir=LR;\n")
	if err := s.WriteDOT(&b, "s1", `session 1 "alice"`); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteDOT(&b, "s2", "session 2"); err != nil {
		t.Fatal(err)
	}
	b.WriteString("}\n")
	dot := b.String()
	for _, want := range []string{
		`subgraph "cluster_s1" {`, `label="session 1 \"alice\"";`,
		`"s1_` + ids["pp"] + `" -> "s1_` + ids["p"] + `";`,
		`label="label string|\"a\|b\{c\}\<d\>\\\"e\\\"\\\\N\""`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	checkDOT(t, dot)
}

func FuzzDescribe(f *testing.F) {
	for _, srcs := range [][]string{
		{"type Point struct{ X, Y int }", "p := Point{1, 2}", "pp := &p", `m := map[string]int{"a": 1}`,
			"s := []int{1, 2, 3}", "s2 := s", "var v any = Point{3, 4}"},
		{"type Node struct{ V int; Next *Node }", "n := &Node{V: 1}", "n.Next = n",
			"r := &Node{V: 1, Next: &Node{V: 2}}", "r.Next.Next = r", "ns := []*Node{n, r, nil}"},
		{`import ("errors"; "time")`, `e := errors.New("boom")`, "tm := time.Date(2024, 2, 29, 13, 14, 15, 1, time.UTC)",
			"d := time.Second", "type Event struct{ At time.Time; Err error }", "ev := Event{tm, e}"},
		{"type Shape interface{ Area() float64 }", "type Sq struct{ Side float64 }",
			"func (s Sq) Area() float64 { return s.Side * s.Side }", "var sh Shape = Sq{3}",
			`xs := []any{1, "s", nil, Sq{1}, int8(3), []byte("b")}`, "type Box[T any] struct{ V T }", "bx := Box[[]string]{}"},
		{`import ("math/big"; "image")`, "bi := big.NewInt(7)", "r := image.Rect(0, 0, 1, 2)", "a := [2][2]bool{{true}}",
			"m := map[[2]int]*int{}", "x := 3", "m[[2]int{1, 2}] = &x"},
	} {
		s := snapshotOf(f, srcs...)
		data, err := cbor.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Snapshot
		if err := snapshotDecMode.Unmarshal(data, &s); err != nil {
			return
		}
		d, err := s.Describe()
		if err != nil {
			return
		}
		for _, v := range d.Vars {
			if len(v.Value) > describeMaxValue+len("…") {
				t.Errorf("%s: a value of %d bytes", v.Name, len(v.Value))
			}
		}
		g, err := s.Graph()
		if err != nil {
			t.Fatalf("Graph failed where Describe did not: %v", err)
		}
		if len(g.Nodes) > graphMaxNodes+1 {
			t.Errorf("%d nodes", len(g.Nodes))
		}
		var dot bytes.Buffer
		if err := g.WriteDOT(&dot, "s", "fuzz"); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(dot.String(), "\n"), "\n")[1:] {
			if line != "}" && !strings.HasPrefix(line, "\t") {
				t.Fatalf("a statement broken across lines: %q", line)
			}
		}
	})
}
