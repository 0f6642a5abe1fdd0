package namespace

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

// ErrNotStatic is returned by TypeOf for an expression whose type it
// cannot tell without running code of the session's (a call inside it).
var ErrNotStatic = errors.New("namespace: the type depends on a call")

// pureBuiltins are the builtins that run no code of the user's.
var pureBuiltins = map[string]bool{"len": true, "cap": true, "min": true, "max": true, "real": true,
	"imag": true, "complex": true, "new": true, "make": true}

var predeclaredTypes = map[string]bool{}

func init() {
	for _, n := range strings.Fields("any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr") {
		predeclaredTypes[n] = true
	}
}

// TypeOf returns the type of the Go expression src, without side
// effects: an expression that calls nothing is evaluated to learn its
// type (reading variables changes nothing); for one call, the function is
// looked at, not called (its results' types); anything else that calls a
// function is ErrNotStatic. An untyped constant says so ("untyped int").
// A variable of an interface type gives the type of the value it holds.
func (ns *Namespace) TypeOf(ctx context.Context, src string) (typ string, err error) {
	if hasBlank(src) { // `_`, the last value (last.go)
		if c, perr := parseChunk(src); perr == nil && c.expr != nil {
			if rewritten, ok := rewriteLast(c); ok {
				src = rewritten
				defer func() {
					if err != nil {
						err = errors.New(strings.ReplaceAll(err.Error(), lastName, "_"))
					}
				}()
			}
		}
	}
	expr, err := parser.ParseExpr(src)
	if err != nil {
		return "", fmt.Errorf("not an expression: %w", err)
	}
	target := src
	results := false
	if call, ok := expr.(*ast.CallExpr); ok && !ns.isPureCall(call) {
		if !ns.isPure(call.Fun) {
			return "", fmt.Errorf("%w: %s", ErrNotStatic, src)
		}
		target = src[call.Fun.Pos()-1 : call.Fun.End()-1]
		results = true
	} else if !ns.isPure(expr) {
		return "", fmt.Errorf("%w: %s", ErrNotStatic, src)
	}
	if err := ns.acquire(ctx, false); err != nil {
		return "", err
	}
	defer ns.release()
	ns.mu.Lock()
	i := ns.in
	ns.mu.Unlock()
	if i == nil {
		if i, err = ns.newInterpreter(); err != nil {
			return "", err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			typ, err = "", fmt.Errorf("the interpreter failed on %s: %v", src, r)
		}
	}()
	v, err := i.Eval(target)
	if err != nil {
		return "", err
	}
	f := &formatter{types: ns.byType}
	if !v.IsValid() {
		return "untyped nil", nil
	}
	if v.Type() == constantType {
		if c, ok := v.Interface().(constant.Value); ok {
			return "untyped " + untypedKind(c.Kind()), nil
		}
	}
	t := v.Type()
	if t.Kind() == reflect.Interface && !v.IsNil() {
		t = v.Elem().Type()
	} else if !results {
		// reflect says float64 of t*2 for a Celsius t: the interpreter's
		// static type of the expression names it.
		if prog, err := compile(i, ";"+rtName+".Value("+target+")"); err == nil {
			if it := capturedType(prog); it.valid() && !it.isInterface() {
				if name := f.itypeName(it, 0); name != "" {
					return name, nil
				}
			}
		}
	}
	if !results {
		return f.typeString(t), nil
	}
	if t.Kind() != reflect.Func {
		return "", fmt.Errorf("%s is not a function", target)
	}
	var outs []string
	for k := range t.NumOut() {
		outs = append(outs, f.typeString(t.Out(k)))
	}
	switch len(outs) {
	case 0:
		return "(no value)", nil
	case 1:
		return outs[0], nil
	}
	return "(" + strings.Join(outs, ", ") + ")", nil
}

func untypedKind(k constant.Kind) string {
	switch k {
	case constant.Bool:
		return "bool"
	case constant.String:
		return "string"
	case constant.Int:
		return "int"
	case constant.Float:
		return "float"
	case constant.Complex:
		return "complex"
	}
	return "constant"
}

// isPure reports whether evaluating e runs no code of the user's and
// changes nothing: no call but conversions and pure builtins, no channel
// receive.
func (ns *Namespace) isPure(e ast.Expr) bool {
	pure := true
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // not called: its body does not run
		case *ast.CallExpr:
			if !ns.isPureCall(n) {
				pure = false
			}
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				pure = false
			}
		}
		return pure
	})
	return pure
}

// isPureCall reports whether call is a conversion or a pure builtin.
func (ns *Namespace) isPureCall(call *ast.CallExpr) bool {
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		kind := ns.kind(fun.Name)
		return kind == "type" || kind == "" && (pureBuiltins[fun.Name] || predeclaredTypes[fun.Name])
	case *ast.SelectorExpr:
		x, ok := fun.X.(*ast.Ident)
		if !ok {
			return false
		}
		path, ok := ns.packagePath(x.Name)
		if !ok {
			return false
		}
		p := ns.symbols[path]
		if p == nil {
			return false
		}
		v, ok := p.syms[fun.Sel.Name]
		// yaegi gives a package's types as nil pointers, (*T)(nil).
		return ok && v.IsValid() && v.Kind() == reflect.Pointer && v.IsNil()
	case *ast.ArrayType, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType, *ast.StructType, *ast.StarExpr:
		return true
	}
	return false
}

// kind and packagePath read what the token guards. Between lines the
// token is free but for moments (the worker's checkpoint after a line
// holds it): they wait for it as long as acquire lets an impatient caller,
// and know nothing if an interrupted evaluation keeps it.
func (ns *Namespace) kind(name string) string {
	if ns.acquire(context.Background(), false) != nil {
		return ""
	}
	defer ns.release()
	return ns.kinds[name]
}

func (ns *Namespace) packagePath(name string) (string, bool) {
	if ns.acquire(context.Background(), false) != nil {
		return "", false
	}
	defer ns.release()
	p, ok := ns.pkgs[name]
	return p, ok
}
