package namespace

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/traefik/yaegi/interp"
)

// SnapshotVersion is the version of Snapshot this build writes. Restore
// refuses any other; a build that knows an older version would convert it
// here.
const SnapshotVersion = 1

// restoreTimeout bounds Restore: a snapshot holds code to compile.
var restoreTimeout = 5 * time.Second

const (
	// maxVarSize is the largest variable Restore declares.
	maxVarSize = 256 << 20
	// maxTypeSource is the longest type a Snapshot may write.
	maxTypeSource = 64 << 10
)

// Snapshot is a namespace as plain data, encodable with CBOR, for another
// process, where Restore builds the same namespace from it.
type Snapshot struct {
	Version int

	// Journal is the namespace's journal: its imports, types, functions
	// and constants, as evaluated, in order. Restore replays it.
	Journal []string `cbor:",omitempty"`

	// Packages are imported by Restore under reserved names, Packages[k]
	// as __tr_p<k>, for the types below, whether or not the namespace's
	// code imported them (under which name, shadowed since or not).
	Packages []string `cbor:",omitempty"`

	// Vars are the global variables, in the order of their first
	// declaration.
	Vars []SnapshotVar `cbor:",omitempty"`

	// Types are the dynamic types of the interface values in Nodes, in Go
	// source.
	Types []string `cbor:",omitempty"`

	// Nodes are the values of the variables (see Value).
	Nodes []Node `cbor:",omitempty"`
}

// SnapshotVar is a global variable of a Snapshot.
type SnapshotVar struct {
	Name string
	Type string // in Go source

	// At is where Restore declares it: before replaying Journal[At] (at
	// the end if At is len(Journal)), so that the functions declared after
	// it can use it. Retry is where it was declared last, where Restore
	// declares it if its type does not compile at At.
	At, Retry int

	// Value is its node: 0 for the zero value, when it was not carried.
	Value int `cbor:",omitempty"`

	// Assign is set for a variable of an interface type in which yaegi
	// stores a value of its dynamic type as is (var err error = myErr{}):
	// Restore sets it by an assignment the interpreter evaluates.
	Assign bool `cbor:",omitempty"`
}

// Snapshot returns the namespace as plain data, and names each value it
// could not carry, saying what the variable holds after Restore instead
// (its zero value, or a part of it). Values of channels, funcs, unsafe
// pointers, sync types, open files, package types whose state is
// unexported, and interpreted values behind a native interface
// (fmt.Stringer) are not carried; an error is carried as errors.New of its
// message when its own type cannot be.
//
// Snapshot takes the interpreter as Eval does: it fails with ErrBusy while
// an interrupted evaluation is still blocked in a native call, and
// ErrClosed after Close. Goroutines that the namespace's code started may
// run meanwhile; values they change during the snapshot may be caught
// half-changed, as they would be by another goroutine.
//
// The variables named in drop, and those Drop marked, are left out: they
// arrive at their zero value, with a note saying so.
func (ns *Namespace) Snapshot(drop ...string) (Snapshot, []string, error) {
	if err := ns.acquire(context.Background(), false); err != nil {
		return Snapshot{}, nil, fmt.Errorf("namespace: snapshot: %w", err)
	}
	defer ns.release()
	ns.mu.Lock()
	i := ns.in
	snap := Snapshot{Version: SnapshotVersion, Journal: append([]string(nil), ns.journal...)}
	at := maps.Clone(ns.varAt)
	dropped := maps.Clone(ns.dropped)
	ns.mu.Unlock()
	for _, name := range drop {
		if dropped == nil {
			dropped = map[string]bool{}
		}
		dropped[name] = true
	}
	if i == nil {
		return snap, nil, nil
	}
	scope, err := readMainScope(i)
	if err != nil {
		return Snapshot{}, nil, err
	}
	globals := i.Globals()
	var names []string
	for name := range globals {
		// Declared by the user: not a top-level loop's variable. Not
		// `_`, the last value (last.go): it changes at nearly every line,
		// and carried, it made every namespace changed since a migration's
		// precopy, so that the pause snapshotted them all (at 1,000
		// sessions typing, the pause went from 0.1 s to 1 s).
		if _, ok := scope.isVar(name); ok && ns.kinds[name] == "var" && name != "_" && !strings.HasPrefix(name, reservedPrefix) {
			names = append(names, name)
		}
	}
	end := varAt{len(snap.Journal), len(snap.Journal)}
	position := func(name string) varAt {
		if p, ok := at[name]; ok {
			return p
		}
		return end
	}
	sort.Slice(names, func(a, b int) bool {
		pa, pb := position(names[a]), position(names[b])
		if pa.first != pb.first {
			return pa.first < pb.first
		}
		return names[a] < names[b]
	})

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	types, enc := sc.get(ns, scope)
	// Room for each variable and about one value it refers to: growing
	// these copies nodes, and a migration's pause snapshots thousands.
	enc.nodes = make([]Node, 0, 2*len(names))
	vit, _ := valueInterface()
	for _, name := range names {
		it, _ := scope.isVar(name)
		slot := globals[name]
		if !slot.IsValid() {
			continue
		}
		src, err := types.itype(it)
		if err != nil {
			enc.notes.add(&valuePath{name: name}, enc.fmt.typeString(slot.Type()),
				"its type cannot be written in Go source ("+err.Error()+"): not carried, not declared after the migration")
			continue
		}
		p := position(name)
		if dropped[name] {
			enc.notes.add(&valuePath{name: name}, enc.fmt.typeString(slot.Type()), "dropped by request"+notCarried)
			snap.Vars = append(snap.Vars, SnapshotVar{Name: name, Type: src, At: p.first, Retry: p.last})
			continue
		}
		// yaegi may keep a concrete value in a variable of an interface type.
		concrete := it.isInterface() && slot.Kind() != reflect.Interface && slot.Type() != vit
		snap.Vars = append(snap.Vars, SnapshotVar{
			Name: name, Type: src, At: p.first, Retry: p.last,
			Value: enc.variable(name, slot, concrete), Assign: concrete,
		})
		enc.drain()
	}
	snap.Packages = types.paths
	snap.Types = enc.typeSrc
	snap.Nodes = enc.nodes
	return snap, enc.notes.all(), nil
}

// ErrReshaped is Update's answer when a snapshot's declarations differ
// from those of the namespace: only Restore can make it.
var ErrReshaped = errors.New("namespace: the snapshot declares other things than the namespace")

// Update makes ns, restored from base and unchanged since, equal to the
// namespace s was taken from, as Restore(s) would, when only the values of
// the variables differ: same journal, packages and variables (names,
// types, places), and no interface value of a dynamic type. It sets the
// values and compiles nothing, a fraction of a restore's time: a
// namespace restored ahead of a migration is brought up to date in the
// pause this way. It fails with ErrReshaped, leaving ns as it was, when s
// differs otherwise; after any other error ns is half updated and must be
// closed.
func (ns *Namespace) Update(base, s Snapshot) error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("namespace: snapshot version %d, this build reads version %d", s.Version, SnapshotVersion)
	}
	if !sameShape(base, s) {
		return ErrReshaped
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("namespace: bad snapshot: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	// Every variable starts again from its zero value, as in Restore:
	// what a snapshot does not carry is zero there too.
	err := ns.withInterpreter(ctx, func(i *interp.Interpreter) error {
		g := i.Globals()
		for _, v := range s.Vars {
			slot := g[v.Name]
			if !slot.IsValid() || !slot.CanSet() {
				return fmt.Errorf("variable %s was not declared", v.Name)
			}
			slot.Set(reflect.Zero(slot.Type()))
		}
		return nil
	})
	if err == nil {
		r := &restorer{ns: ns, s: &s, ctx: ctx, budget: maxRestoreBytes}
		err = r.setValues(nil, nil)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("namespace: update did not finish within %v: %w", restoreTimeout, err)
		}
		return fmt.Errorf("namespace: update: %w", err)
	}
	return nil
}

// sameShape reports whether Update can take a namespace restored from a
// to b: they declare the same things, and neither holds a value of a
// dynamic type (those need declarations of their own).
func sameShape(a, b Snapshot) bool {
	if len(a.Types) > 0 || len(b.Types) > 0 || !slices.Equal(a.Journal, b.Journal) ||
		!slices.Equal(a.Packages, b.Packages) || len(a.Vars) != len(b.Vars) {
		return false
	}
	for k, v := range a.Vars {
		w := b.Vars[k]
		if v.Assign || w.Assign || v.Name != w.Name || v.Type != w.Type || v.At != w.At || v.Retry != w.Retry {
			return false
		}
	}
	return true
}

// Restore returns a new namespace equal to the one s was taken from: it
// replays the journal (without re-running its init functions), declares
// the variables with their types where they were declared (those not
// carried keep their zero value) and sets their values. It runs no
// statement of the old namespace, so no side effect repeats.
//
// s is not trusted: Restore returns an error, never panics, for a snapshot
// of another version or one it cannot replay, and gives up after a few
// seconds (restoreTimeout) or past a gigabyte of values.
func Restore(opts Options, s Snapshot) (*Namespace, error) {
	if s.Version != SnapshotVersion {
		return nil, fmt.Errorf("namespace: snapshot version %d, this build reads version %d", s.Version, SnapshotVersion)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("namespace: bad snapshot: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	ns := New(opts)
	r := &restorer{ns: ns, s: &s, ctx: ctx, budget: maxRestoreBytes}
	if err := r.run(); err != nil {
		ns.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("namespace: restore did not finish within %v: %w", restoreTimeout, err)
		}
		return nil, fmt.Errorf("namespace: restore: %w", err)
	}
	return ns, nil
}

// check validates what Restore compiles: names, types and positions.
func (s *Snapshot) check() error {
	if len(s.Nodes) > maxSnapshotNodes {
		return fmt.Errorf("%d nodes", len(s.Nodes))
	}
	for k, p := range s.Packages {
		if p == "" || !strconv.CanBackquote(p) {
			return fmt.Errorf("package %d: bad import path %q", k, p)
		}
	}
	seen := map[string]bool{}
	for _, v := range s.Vars {
		switch {
		case !token.IsIdentifier(v.Name) || v.Name == "_" || strings.HasPrefix(v.Name, reservedPrefix) && v.Name != lastName:
			return fmt.Errorf("bad variable name %q", v.Name)
		case seen[v.Name]:
			return fmt.Errorf("variable %s twice", v.Name)
		case v.At < 0 || v.At > v.Retry || v.Retry > len(s.Journal):
			return fmt.Errorf("variable %s: declared at %d and %d of %d journal entries", v.Name, v.At, v.Retry, len(s.Journal))
		case v.Value < 0 || v.Value > len(s.Nodes):
			return fmt.Errorf("variable %s: node %d of %d", v.Name, v.Value, len(s.Nodes))
		case v.Assign && (v.Value == 0 || s.Nodes[v.Value-1].Type < 1 || s.Nodes[v.Value-1].Type > len(s.Types)):
			return fmt.Errorf("variable %s: assigned without a dynamic type", v.Name)
		}
		seen[v.Name] = true
		if err := checkTypeSource(v.Type); err != nil {
			return fmt.Errorf("variable %s: %w", v.Name, err)
		}
	}
	for _, t := range s.Types {
		if err := checkTypeSource(t); err != nil {
			return err
		}
	}
	return nil
}

// checkTypeSource makes sure src is a type, which compiles to no code.
func checkTypeSource(src string) error {
	if len(src) > maxTypeSource {
		return fmt.Errorf("type of %d bytes", len(src))
	}
	e, err := parser.ParseExpr(src)
	if err != nil {
		return fmt.Errorf("type %q: %w", src, err)
	}
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case nil, *ast.Ident, *ast.StarExpr, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.FieldList,
			*ast.Field, *ast.StructType, *ast.InterfaceType, *ast.Ellipsis, *ast.IndexExpr, *ast.IndexListExpr, *ast.ParenExpr:
		case *ast.SelectorExpr:
			if _, ok := n.X.(*ast.Ident); !ok {
				err = fmt.Errorf("type %q: a selector of an expression", src)
			}
		case *ast.ArrayType:
			if l, ok := n.Len.(*ast.BasicLit); n.Len != nil && (!ok || l.Kind != token.INT) {
				err = fmt.Errorf("type %q: an array length that is not a number", src)
			}
		case *ast.BasicLit:
			if n.Kind != token.INT && n.Kind != token.STRING {
				err = fmt.Errorf("type %q: a %s literal", src, n.Kind)
			}
		default:
			err = fmt.Errorf("type %q: not a type (%T)", src, n)
		}
		return err == nil
	})
	return err
}

// A restorer runs one Restore.
type restorer struct {
	ns     *Namespace
	s      *Snapshot
	ctx    context.Context
	budget int64 // bytes the variables may still take
}

func (r *restorer) run() error {
	if len(r.s.Packages) > 0 {
		var b strings.Builder
		b.WriteString("import (")
		for k, p := range r.s.Packages {
			b.WriteString("\n\t" + pkgAlias(k) + " " + strconv.Quote(p))
		}
		b.WriteString("\n)")
		err := r.ns.withInterpreter(r.ctx, func(i *interp.Interpreter) error {
			for _, p := range r.s.Packages {
				if err := r.ns.loadPackage(i, p); err != nil {
					return err
				}
			}
			return runHidden(i, b.String(), nil)
		})
		if err != nil {
			return err
		}
	}
	if err := r.replay(); err != nil {
		return err
	}
	types, wraps, err := r.dynamicTypes()
	if err != nil {
		return err
	}
	return r.setValues(types, wraps)
}

// replay replays the journal, declaring each variable before the entry it
// precedes, or with it when it needs a type the entry declares.
func (r *restorer) replay() error {
	pending := map[int][]int{} // position → indexes in s.Vars
	for k, v := range r.s.Vars {
		pending[v.At] = append(pending[v.At], k)
	}
	for q := 0; q <= len(r.s.Journal); q++ {
		failed, err := r.declare(pending[q])
		if errors.Is(err, errTooLarge) {
			return err
		}
		if q == len(r.s.Journal) {
			if len(failed) > 0 {
				v := r.s.Vars[failed[0]]
				return fmt.Errorf("declaring variable %s %s: %w", v.Name, v.Type, err)
			}
			break
		}
		entry, err := replayable(r.s.Journal[q])
		if err != nil {
			return fmt.Errorf("journal entry %d: %w", q, err)
		}
		if len(failed) > 0 && entry != "" {
			_, err := r.ns.eval(r.ctx, entry, &extraDecls{src: r.varDecls(failed), check: r.checkVars(failed)})
			if err == nil {
				continue
			}
			if r.ctx.Err() != nil || errors.Is(err, errTooLarge) {
				return err
			}
		}
		if entry != "" {
			if _, err := r.ns.eval(r.ctx, entry, nil); err != nil {
				return fmt.Errorf("replaying journal entry %d (%.60q): %w", q, entry, err)
			}
		}
		for _, k := range failed {
			if v := r.s.Vars[k]; v.Retry > q {
				pending[v.Retry] = append(pending[v.Retry], k)
				continue
			}
			if _, err := r.declare([]int{k}); err != nil {
				v := r.s.Vars[k]
				return fmt.Errorf("declaring variable %s %s: %w", v.Name, v.Type, err)
			}
		}
	}
	return nil
}

// replayable returns a journal entry ready to be replayed, "" if nothing
// is left of it: declarations only (a snapshot is not trusted to hold
// nothing else), with its init functions left out, which ran when the
// entry was first evaluated.
func replayable(src string) (string, error) {
	c, err := parseChunk(src)
	if err != nil {
		return "", err
	}
	if c.empty {
		return "", nil
	}
	if !c.decl {
		return "", errors.New("not declarations")
	}
	for name, kind := range c.declared {
		if kind == "var" {
			return "", fmt.Errorf("declares variable %s", name)
		}
	}
	b := []byte(c.src)
	for _, d := range c.file.Decls {
		if f, ok := d.(*ast.FuncDecl); ok && f.Recv == nil && f.Name.Name == "init" {
			for k := c.offset(f.Pos()); k < c.offset(f.End()); k++ {
				if b[k] != '\n' {
					b[k] = ' '
				}
			}
		}
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", nil
	}
	return string(b), nil
}

// varDecls declares variables of the snapshot with their zero values.
// yaegi refuses `var time T` after `import "time"`, not `var time T = x`,
// but makes of `var s Shape = *new(Shape)` a nil it cannot print.
func (r *restorer) varDecls(vars []int) string {
	var b strings.Builder
	b.WriteString("var (")
	for _, k := range vars {
		v := r.s.Vars[k]
		b.WriteString("\n\t" + v.Name + " " + v.Type)
		if _, ok := r.ns.pkgs[v.Name]; ok {
			b.WriteString(" = *new(" + v.Type + ")")
		}
	}
	b.WriteString("\n)")
	return b.String()
}

// declare declares variables, all at once or else one by one. It returns
// those whose declaration failed, with the last error.
func (r *restorer) declare(vars []int) (failed []int, err error) {
	if len(vars) == 0 {
		return nil, nil
	}
	try := func(vars []int) error {
		return r.ns.withInterpreter(r.ctx, func(i *interp.Interpreter) error {
			return runHidden(i, r.varDecls(vars), r.checkVars(vars))
		})
	}
	if err = try(vars); err == nil || len(vars) == 1 || r.ctx.Err() != nil || errors.Is(err, errTooLarge) {
		if err != nil {
			failed = vars
		}
		return failed, err
	}
	var last error
	for _, k := range vars {
		if err := try([]int{k}); err != nil {
			failed, last = append(failed, k), err
			if errors.Is(err, errTooLarge) {
				return failed, err
			}
		}
	}
	return failed, last
}

// errTooLarge stops a Restore at once: yaegi allocates every global it
// compiled, declared or not, when it next runs code.
var errTooLarge = errors.New("too large")

// checkVars returns the check of variables compiled but not yet declared
// (yaegi allocates them when it runs the declaration): that they are not
// too large, then the namespace's bookkeeping.
func (r *restorer) checkVars(vars []int) func(i *interp.Interpreter) error {
	return func(i *interp.Interpreter) error {
		scope, err := readMainScope(i)
		if err != nil {
			return err
		}
		var total int64
		for _, k := range vars {
			v := r.s.Vars[k]
			it, ok := scope.isVar(v.Name)
			if !ok {
				return fmt.Errorf("%s is not a variable", v.Name)
			}
			size := it.size(0)
			if size > maxVarSize {
				return fmt.Errorf("variable %s of %d bytes or more: %w (limit %d)", v.Name, size, errTooLarge, maxVarSize)
			}
			total += int64(size)
		}
		if total > r.budget {
			return fmt.Errorf("variables of more than %d bytes: %w", maxRestoreBytes, errTooLarge)
		}
		r.budget -= total
		r.ns.mu.Lock()
		pos := len(r.ns.journal) // before an entry compiled with them
		for _, k := range vars {
			r.ns.varAt[r.s.Vars[k].Name] = varAt{pos, pos}
		}
		r.ns.mu.Unlock()
		for _, k := range vars {
			if name := r.s.Vars[k].Name; name != lastName {
				r.ns.kinds[name] = "var"
			}
		}
		return nil
	}
}

// maxWrapGlobals bounds the hidden globals Restore declares for wrapped
// interface values: each one costs every later evaluation a little (yaegi
// copies its global frame).
const maxWrapGlobals = 1024

// dynamicTypes resolves Snapshot.Types in the new interpreter, once every
// declaration is in place, and declares what setValues needs: for the
// interface values yaegi held in its valueInterface (see wrapForm), and a
// variable of the dynamic type of each variable set by an assignment.
func (r *restorer) dynamicTypes() ([]dynType, map[int]wrapForm, error) {
	if len(r.s.Types) == 0 {
		return nil, nil, nil
	}
	types := make([]dynType, len(r.s.Types))
	wraps := map[int]wrapForm{}
	err := r.ns.withInterpreter(r.ctx, func(i *interp.Interpreter) error {
		args := make([]string, len(r.s.Types))
		for k, t := range r.s.Types {
			args[k] = "(*" + t + ")(nil)"
		}
		r.ns.captured = nil
		if err := runHidden(i, rtName+".Types("+strings.Join(args, ", ")+")", nil); err != nil {
			return err
		}
		if len(r.ns.captured) != len(types) {
			return errors.New("resolving the dynamic types")
		}
		vit, _ := valueInterface()
		for k, c := range r.ns.captured {
			pt := reflect.TypeOf(c)
			if pt == nil || pt.Kind() != reflect.Pointer || pt.Elem().Kind() == reflect.Interface || pt.Elem() == vit {
				return fmt.Errorf("dynamic type %q is not a concrete type", r.s.Types[k])
			}
			types[k].t = pt.Elem()
			if size := int64(pt.Elem().Size()); size > maxVarSize {
				return fmt.Errorf("dynamic type %q of %d bytes: %w (limit %d)", r.s.Types[k], size, errTooLarge, maxVarSize)
			}
		}
		r.ns.captured = nil

		// Declarations, then the assignments that make the valueInterfaces
		// (yaegi refuses a var initialized from another var).
		var decls, assigns []string
		var own []int
		shared := map[int]bool{}
		for id := 1; id <= len(r.s.Nodes); id++ {
			n := r.s.Nodes[id-1]
			if !n.Wrap || n.Type < 1 || n.Type > len(types) {
				continue
			}
			if len(own) < maxWrapGlobals {
				own = append(own, id)
				decls = append(decls, fmt.Sprintf("%sx%d %s", reservedPrefix, id, r.s.Types[n.Type-1]),
					fmt.Sprintf("%sw%d interface{ any }", reservedPrefix, id))
				assigns = append(assigns, fmt.Sprintf("%sw%d = %sx%d", reservedPrefix, id, reservedPrefix, id))
			} else if !shared[n.Type-1] {
				shared[n.Type-1] = true
				decls = append(decls, fmt.Sprintf("%st%d interface{ any } = *new(%s)", reservedPrefix, n.Type-1, r.s.Types[n.Type-1]))
			}
			if err := r.charge(int64(types[n.Type-1].t.Size())); err != nil {
				return err
			}
		}
		for k, v := range r.s.Vars {
			if v.Assign {
				decls = append(decls, fmt.Sprintf("%sa%d %s", reservedPrefix, k, r.s.Types[r.s.Nodes[v.Value-1].Type-1]))
			}
		}
		if len(decls) == 0 {
			return nil
		}
		if err := runHidden(i, "var (\n\t"+strings.Join(decls, "\n\t")+"\n)", nil); err != nil {
			return err
		}
		if len(assigns) > 0 {
			if err := runHidden(i, strings.Join(assigns, "\n"), nil); err != nil {
				return err
			}
		}
		g := i.Globals()
		template := func(name string) (reflect.Value, error) {
			w := g[name]
			if !w.IsValid() || w.Type() != vit {
				return reflect.Value{}, fmt.Errorf("%s: no interface form", name)
			}
			return w, nil
		}
		for _, id := range own {
			w, err := template(fmt.Sprintf("%sw%d", reservedPrefix, id))
			if err != nil {
				return err
			}
			wraps[id] = wrapForm{template: w, global: g[fmt.Sprintf("%sx%d", reservedPrefix, id)]}
		}
		for k := range shared {
			w, err := template(fmt.Sprintf("%st%d", reservedPrefix, k))
			if err != nil {
				return err
			}
			types[k].wraps = wrapForm{template: w}
		}
		return nil
	})
	return types, wraps, err
}

func (r *restorer) charge(bytes int64) error {
	if bytes > r.budget {
		return fmt.Errorf("values of more than %d bytes: %w", maxRestoreBytes, errTooLarge)
	}
	r.budget -= bytes
	return nil
}

// setValues decodes the values of the variables into them.
func (r *restorer) setValues(types []dynType, wraps map[int]wrapForm) error {
	return r.ns.withInterpreter(r.ctx, func(i *interp.Interpreter) error {
		g := i.Globals()
		d := newDecoder(r.ctx, r.s, types, wraps, r.budget)
		slot := func(v SnapshotVar) (reflect.Value, error) {
			s := g[v.Name]
			if !s.IsValid() || !s.CanSet() || !s.CanAddr() {
				return reflect.Value{}, fmt.Errorf("variable %s was not declared", v.Name)
			}
			return s, nil
		}
		for _, v := range r.s.Vars {
			if v.Value == 0 || v.Assign {
				continue
			}
			s, err := slot(v)
			if err != nil {
				return err
			}
			if err := d.variable(s, v.Value); err != nil {
				return err
			}
		}
		for k, v := range r.s.Vars {
			if v.Value == 0 {
				continue
			}
			var err error
			if v.Assign {
				var n *Node
				if n, err = d.take(v.Value); err == nil {
					err = d.value(g[fmt.Sprintf("%sa%d", reservedPrefix, k)], n.V)
				}
			} else {
				var s reflect.Value
				if s, err = slot(v); err == nil {
					err = d.content(s, v.Value)
				}
			}
			if err != nil {
				return fmt.Errorf("variable %s: %w", v.Name, err)
			}
		}
		if err := d.run(); err != nil {
			return err
		}
		for k, v := range r.s.Vars {
			if v.Assign {
				if err := runHidden(i, fmt.Sprintf("%s = %sa%d", v.Name, reservedPrefix, k), nil); err != nil {
					return fmt.Errorf("variable %s: %w", v.Name, err)
				}
			}
		}
		return nil
	})
}

// withInterpreter runs f with the interpreter token held, on a goroutine of
// its own, creating the interpreter first if need be. If ctx ends first it
// returns ErrInterrupted, and f goes on to its end, when the token is put
// back. A panic in f is returned as an error.
func (ns *Namespace) withInterpreter(ctx context.Context, f func(i *interp.Interpreter) error) error {
	if err := ns.acquire(ctx, true); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { // ends with f
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("internal error: %v", p)
			}
			ns.release()
			done <- err
		}()
		ns.mu.Lock()
		i := ns.in
		ns.mu.Unlock()
		if i == nil {
			if i, err = ns.newInterpreter(); err != nil {
				return
			}
		}
		err = f(i)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ErrInterrupted
	}
}

// runHidden compiles src, code of the namespace's own, runs check if any
// and then the code. The caller holds the token.
func runHidden(i *interp.Interpreter, src string, check func(*interp.Interpreter) error) error {
	prog, err := compile(i, src)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(i); err != nil {
			return err
		}
	}
	_, err = i.Execute(prog)
	return err
}

// isInterface reports whether t is an interface type.
func (t itype) isInterface() bool {
	switch t.cat() {
	case "interfaceT", "errorT":
		return true
	case "valueT":
		rt := t.rtype()
		return rt != nil && rt.Kind() == reflect.Interface
	case "linkedT":
		return t.val().valid() && t.val().isInterface()
	}
	return false
}

// size returns (at least) the bytes a variable of type t takes, or
// maxVarSize+1 if more.
func (t itype) size(depth int) uint64 {
	const over = maxVarSize + 1
	if !t.valid() || depth > 100 {
		return 0
	}
	if rt := t.rtype(); rt != nil {
		return uint64(rt.Size())
	}
	switch t.cat() {
	case "boolT", "int8T", "uint8T":
		return 1
	case "int16T", "uint16T":
		return 2
	case "int32T", "uint32T", "float32", "float32T":
		return 4
	case "complex128T", "stringT", "errorT":
		return 16
	case "sliceT":
		return 24
	case "interfaceT":
		return 32
	case "linkedT":
		return t.val().size(depth + 1)
	case "arrayT":
		n, e := uint64(max(t.length(), 0)), t.val().size(depth+1)
		if e != 0 && n > over/e {
			return over
		}
		return n * e
	case "structT":
		var sum uint64
		for _, f := range t.fields() {
			sum += f.typ.size(depth+1) + 8 // and padding
			if sum > over {
				return over
			}
		}
		return sum
	}
	return 8 // a word: int, float64, pointer, map, chan, func...
}
