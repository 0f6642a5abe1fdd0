package namespace

import (
	"context"
	"flag"
	"fmt"
	"go/constant"
	"go/parser"
	"go/token"
	"log"
	"math/bits"
	"os"
	"path"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	"github.com/traefik/yaegi/stdlib/generic"
	yaegisyscall "github.com/traefik/yaegi/stdlib/syscall"
	"github.com/traefik/yaegi/stdlib/unrestricted"
	yaegiunsafe "github.com/traefik/yaegi/stdlib/unsafe"
)

// A pkg is one package evaluated code may import: yaegi's binary symbols for
// it and, for cmp, maps and slices, the source of their generic functions.
type pkg struct {
	path, name string
	syms       map[string]reflect.Value  // shared by all namespaces: never modified
	mapTypes   map[string][]reflect.Type // by symbol name: yaegi's stdlib.MapTypes entries
	generic    string
	hooks      map[string]reflect.Value // yaegi hooks to Use with it (unsafe's convert)

	depsOnce sync.Once
	deps     []string // other packages whose interface wrappers its symbols need
}

// A symbolTable is every package of one mode, by import path.
type symbolTable map[string]*pkg

const yaegiPrefix = "github.com/traefik/yaegi"

var (
	// restrictedSymbols is yaegi's default symbols: no os/exec, syscall or
	// unsafe, os.Exit and log.Fatal panic instead of exiting.
	restrictedSymbols = sync.OnceValue(func() symbolTable {
		return newSymbolTable(stdlib.Symbols)
	})
	// unrestrictedSymbols adds syscall, unsafe and yaegi's unrestricted
	// overrides (os.Exit, os/exec, log.Fatal that exit), in the order
	// cmd/yaegi uses them.
	unrestrictedSymbols = sync.OnceValue(func() symbolTable {
		t := newSymbolTable(stdlib.Symbols, yaegisyscall.Symbols, yaegiunsafe.Symbols, unrestricted.Symbols)
		if p := t["unsafe"]; p != nil {
			p.hooks = yaegiunsafe.Symbols[yaegiPrefix+"/yaegi"]
		}
		return t
	})

	// genericSources is yaegi's source of the generic stdlib packages, by
	// import path; yaegi compiles all of it whenever fmt is used, and we only
	// when one of them is imported.
	genericSources = sync.OnceValue(func() map[string]string {
		m := map[string]string{}
		for _, src := range generic.Sources {
			f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly)
			if err == nil {
				m[f.Name.Name] = src
			}
		}
		return m
	})
)

func newSymbolTable(sets ...interp.Exports) symbolTable {
	t := symbolTable{}
	for _, set := range sets {
		for key, syms := range set {
			dir := path.Dir(key)
			// "." holds MapTypes; yaegi's own packages would hand evaluated
			// code the process-wide symbol maps.
			if key == "." || dir == "." || strings.HasPrefix(key, yaegiPrefix+"/") {
				continue
			}
			p := t[dir]
			if p == nil {
				p = &pkg{path: dir, name: path.Base(key), syms: map[string]reflect.Value{}}
				t[dir] = p
			}
			for name, v := range syms {
				p.syms[name] = v
			}
		}
	}
	gen := genericSources()
	for _, p := range t {
		p.generic = gen[p.path]
		for name, v := range p.syms {
			if types, ok := stdlib.MapTypes[v]; ok {
				if p.mapTypes == nil {
					p.mapTypes = map[string][]reflect.Type{}
				}
				p.mapTypes[name] = types
			}
		}
	}
	return t
}

// dependencies returns the packages of the interface types p's functions,
// methods and struct fields accept: yaegi converts an interpreted value to
// such a type through a wrapper it finds among the loaded symbols of the
// interface's package (fmt.Fprintln(w) needs io's), and dereferences nil
// when that package was never loaded.
func (t symbolTable) dependencies(p *pkg) []string {
	p.depsOnce.Do(func() {
		found := map[string]bool{}
		seen := map[reflect.Type]bool{}
		var walk func(rt reflect.Type, depth int)
		walk = func(rt reflect.Type, depth int) {
			if rt == nil || seen[rt] || depth > 4 {
				return
			}
			seen[rt] = true
			switch rt.Kind() {
			case reflect.Interface:
				if pp := rt.PkgPath(); pp != "" && pp != p.path && t[pp] != nil {
					found[pp] = true
				}
			case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
				walk(rt.Elem(), depth+1)
			case reflect.Map:
				walk(rt.Key(), depth+1)
				walk(rt.Elem(), depth+1)
			case reflect.Func:
				for i := range rt.NumIn() {
					walk(rt.In(i), depth+1)
				}
				for i := range rt.NumOut() {
					walk(rt.Out(i), depth+1)
				}
			case reflect.Struct:
				if rt.PkgPath() != p.path {
					return
				}
				for i := range rt.NumField() {
					if f := rt.Field(i); f.IsExported() {
						walk(f.Type, depth+1)
					}
				}
			}
		}
		for _, v := range p.syms {
			if !v.IsValid() {
				continue
			}
			rt := v.Type()
			switch {
			case rt.Kind() == reflect.Func:
				walk(rt, 0)
			case rt.Kind() == reflect.Pointer && v.IsNil(): // a type: (*T)(nil)
				for _, mt := range []reflect.Type{rt, rt.Elem()} {
					for i := range mt.NumMethod() {
						walk(mt.Method(i).Type, 0)
					}
				}
				walk(rt.Elem(), 0)
			}
		}
		for dep := range found {
			p.deps = append(p.deps, dep)
		}
		sort.Strings(p.deps)
	})
	return p.deps
}

// loadPackage makes the package at path importable by the namespace's
// code in i, with the packages it depends on. The caller holds the token.
func (ns *Namespace) loadPackage(i *interp.Interpreter, importPath string) error {
	if ns.loaded[importPath] {
		return nil
	}
	if importPath == sysPackage {
		err := i.Use(interp.Exports{sysPackage + "/" + sysPackage: {
			"Version": reflect.ValueOf(constant.MakeString(ns.opts.Version)),
			"Pid":     reflect.ValueOf(constant.MakeInt64(int64(ns.serverPid()))),
		}})
		if err != nil {
			return err
		}
		ns.loaded[importPath] = true
		return nil
	}
	p := ns.symbols[importPath]
	if p == nil {
		if !ns.opts.Unrestricted && unrestrictedSymbols()[importPath] != nil {
			return fmt.Errorf("import %q: not available in restricted mode", importPath)
		}
		return fmt.Errorf("import %q: unknown package (the standard library and %q are available)", importPath, sysPackage)
	}
	// Mark first: dependencies may lead back here.
	ns.loaded[importPath] = true
	for _, dep := range ns.symbols.dependencies(p) {
		if err := ns.loadPackage(i, dep); err != nil {
			return err
		}
	}

	syms, mapTypes := ns.adapt(p)
	key := p.path + "/" + p.name
	if key == "fmt/fmt" {
		// Use treats the key "fmt/fmt" as "the whole stdlib is being
		// loaded": it rewires fmt, log, os and flag for whichever of them
		// is already loaded (adapt does that for each, in any order) and
		// compiles the generic cmp, maps and slices sources, 0.9 MiB per
		// interpreter. path.Dir cleans "fmt/./fmt" to the same import path.
		key = "fmt/./fmt"
	}
	exports := interp.Exports{key: syms}
	if len(mapTypes) > 0 {
		exports["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(mapTypes)}
	}
	if p.hooks != nil {
		exports[yaegiPrefix+"/yaegi"] = p.hooks
	}
	if err := i.Use(exports); err != nil {
		return fmt.Errorf("import %q: %w", importPath, err)
	}

	if p.generic != "" {
		f, err := parser.ParseFile(token.NewFileSet(), "", p.generic, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("import %q: %w", importPath, err)
		}
		for _, imp := range f.Imports {
			dep, _ := strconv.Unquote(imp.Path.Value)
			if err := ns.loadPackage(i, dep); err != nil {
				return err
			}
		}
		if err := compileSafely(i, p.generic); err != nil {
			return fmt.Errorf("import %q: generic source: %w", importPath, err)
		}
	}
	return nil
}

// compileSafely compiles src, turning a panic inside yaegi into an error.
func compileSafely(i *interp.Interpreter, src string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaegi internal error: %v", r)
		}
	}()
	_, err = i.Compile(src)
	return err
}

// adapt returns p's symbols as this namespace's code sees them, with their
// yaegi MapTypes (which functions get interpreted values wrapped so that
// their String and Error methods work): standard streams, logging, flags and
// (restricted) the environment are the namespace's own, and callbacks run on
// goroutines of their own recover their panics. The shared map is returned
// when nothing changes.
func (ns *Namespace) adapt(p *pkg) (map[string]reflect.Value, map[reflect.Value][]reflect.Type) {
	var syms map[string]reflect.Value
	copyOnWrite := func() {
		if syms == nil {
			syms = make(map[string]reflect.Value, len(p.syms))
			for k, v := range p.syms {
				syms[k] = v
			}
		}
	}
	set := func(name string, v interface{}) {
		copyOnWrite()
		syms[name] = reflect.ValueOf(v)
	}
	setVar := func(name string, ptr interface{}) {
		copyOnWrite()
		syms[name] = reflect.ValueOf(ptr).Elem()
	}
	mapTypes := map[reflect.Value][]reflect.Type{}
	restricted := !ns.opts.Unrestricted

	switch p.path {
	case "fmt":
		stdout, stdin := ns.stdout, ns.stdin
		set("Print", func(a ...interface{}) (int, error) { return fmt.Fprint(stdout, a...) })
		set("Printf", func(f string, a ...interface{}) (int, error) { return fmt.Fprintf(stdout, f, a...) })
		set("Println", func(a ...interface{}) (int, error) { return fmt.Fprintln(stdout, a...) })
		set("Scan", func(a ...interface{}) (int, error) { return fmt.Fscan(stdin, a...) })
		set("Scanf", func(f string, a ...interface{}) (int, error) { return fmt.Fscanf(stdin, f, a...) })
		set("Scanln", func(a ...interface{}) (int, error) { return fmt.Fscanln(stdin, a...) })

	case "os":
		setVar("Stdin", &ns.osStdin)
		setVar("Stdout", &ns.osStdout)
		setVar("Stderr", &ns.osStderr)
		if restricted {
			env := &ns.env
			set("Getenv", env.get)
			set("LookupEnv", env.lookup)
			set("Setenv", env.set)
			set("Unsetenv", env.unset)
			set("Clearenv", env.clear)
			set("Environ", env.environ)
			set("ExpandEnv", func(s string) string { return os.Expand(s, env.get) })
		}

	case "log":
		l := log.New(ns.stderr, "", log.LstdFlags)
		set("Flags", l.Flags)
		set("Output", l.Output)
		set("Panic", l.Panic)
		set("Panicf", l.Panicf)
		set("Panicln", l.Panicln)
		set("Prefix", l.Prefix)
		set("Print", l.Print)
		set("Printf", l.Printf)
		set("Println", l.Println)
		set("SetFlags", l.SetFlags)
		set("SetOutput", l.SetOutput)
		set("SetPrefix", l.SetPrefix)
		set("Writer", l.Writer)
		if restricted {
			set("Fatal", l.Panic)
			set("Fatalf", l.Panicf)
			set("Fatalln", l.Panicln)
			// log.New is yaegi's wrapper whose Fatal panics; Default must
			// not hand out the host's logger, whose Fatal exits.
			if newLogger := p.syms["New"]; newLogger.IsValid() {
				def := newLogger.Call([]reflect.Value{reflect.ValueOf(ns.stderr), reflect.ValueOf(""), reflect.ValueOf(log.LstdFlags)})[0]
				set("Default", reflect.MakeFunc(reflect.FuncOf(nil, []reflect.Type{def.Type()}, false),
					func([]reflect.Value) []reflect.Value { return []reflect.Value{def} }).Interface())
			}
		} else {
			set("Fatal", l.Fatal)
			set("Fatalf", l.Fatalf)
			set("Fatalln", l.Fatalln)
			set("Default", func() *log.Logger { return l })
		}
		// Unlike log.Print, yaegi's restricted Fatal has no MapTypes entry.
		fmtTypes := stdlib.MapTypes[reflect.ValueOf(fmt.Print)]
		for _, name := range []string{"Print", "Printf", "Println", "Panic", "Panicf", "Panicln", "Fatal", "Fatalf", "Fatalln"} {
			mapTypes[syms[name]] = fmtTypes
		}

	case "flag":
		// The package-level functions act on a flag set of the
		// namespace's, not on the server's command line.
		fs := flag.NewFlagSet("translucent", flag.PanicOnError)
		fs.SetOutput(ns.stderr)
		setVar("CommandLine", &fs)
		fv := reflect.ValueOf(fs)
		for name, v := range p.syms {
			if m := fv.MethodByName(name); m.IsValid() && v.Kind() == reflect.Func && m.Type() == v.Type() {
				syms[name] = m
			}
		}
		set("Parse", func() { fs.Parse(nil) }) // a namespace has no arguments

	case "math/bits":
		set("UintSize", constant.MakeInt64(bits.UintSize))

	case "time":
		set("AfterFunc", func(d time.Duration, f func()) *time.Timer {
			ns.mu.Lock()
			ns.timers = true // for good: Reset can run f again
			ns.mu.Unlock()
			return time.AfterFunc(d, func() { ns.guard(f) })
		})

	case "context":
		set("AfterFunc", func(ctx context.Context, f func()) (stop func() bool) {
			ns.running.Add(1) // until f has run, or will not
			stopF := context.AfterFunc(ctx, func() {
				defer ns.running.Add(-1)
				ns.guard(f)
			})
			return func() bool {
				stopped := stopF()
				if stopped {
					ns.running.Add(-1)
				}
				return stopped
			}
		})

	case "runtime":
		set("SetFinalizer", func(obj, finalizer any) {
			if finalizer != nil {
				ns.mu.Lock()
				ns.timers = true
				ns.mu.Unlock()
			}
			runtime.SetFinalizer(obj, finalizer)
		})
	}
	if syms == nil {
		syms = p.syms
	}
	for name, types := range p.mapTypes {
		if _, ok := mapTypes[syms[name]]; !ok {
			mapTypes[syms[name]] = types
		}
	}
	return syms, mapTypes
}

// guard runs f, which interpreted code handed to a native API that calls it
// on a goroutine of its own: yaegi re-raises a panic there, which would end
// the process.
func (ns *Namespace) guard(f func()) {
	defer func() {
		if r := recover(); r != nil {
			ns.goroutinePanicked(r)
		}
	}()
	f()
}

// virtualEnv is the environment restricted code sees instead of the
// process's: empty at first, private to the namespace.
type virtualEnv struct {
	mu   sync.Mutex
	vars map[string]string
}

func (e *virtualEnv) get(key string) string {
	v, _ := e.lookup(key)
	return v
}

func (e *virtualEnv) lookup(key string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.vars[key]
	return v, ok
}

func (e *virtualEnv) set(key, value string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vars == nil {
		e.vars = map[string]string{}
	}
	e.vars[key] = value
	return nil
}

func (e *virtualEnv) unset(key string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.vars, key)
	return nil
}

func (e *virtualEnv) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vars = nil
}

func (e *virtualEnv) environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	env := make([]string, 0, len(e.vars))
	for k, v := range e.vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
