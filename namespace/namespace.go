package namespace

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"
)

// Options configure a Namespace.
type Options struct {
	// Stdout and Stderr receive what evaluated code prints: fmt.Print*,
	// os.Stdout, os.Stderr, log, and reports of panics on its goroutines.
	// Nil discards. Writes from one namespace are serialised.
	Stdout, Stderr io.Writer

	// Notes receives what the server itself tells the session's user
	// between prompts about its namespace (a worker that ended after the
	// last line), one whole note a write. Nil: Stdout.
	Notes io.Writer

	// Version is sys.Version for evaluated code that imports "sys".
	Version string

	// ServerPid is sys.Pid: the process that holds the session's
	// connection, which is not the one evaluating when that is a worker
	// (os.Getpid()). Zero: this process.
	ServerPid int

	// Unrestricted adds os/exec, syscall, unsafe, the process environment,
	// and an os.Exit and log.Fatal that end the process. Otherwise
	// (yaegi's default symbols) those calls panic instead.
	Unrestricted bool
}

// Result is the outcome of an evaluation that succeeded.
type Result struct {
	Value    string // the value of an expression, in Go syntax
	HasValue bool   // the chunk was an expression with a value
}

// Var is a global variable of a namespace.
type Var struct {
	Name, Type string
}

var (
	// ErrIncomplete is returned for source that more input could complete.
	ErrIncomplete = errors.New("namespace: incomplete input")
	// ErrInterrupted is returned when the context of Eval is done first.
	ErrInterrupted = errors.New("namespace: interrupted")
	// ErrBusy is returned while an interrupted evaluation is still blocked
	// in a call that cannot be interrupted (time.Sleep, I/O, a lock).
	ErrBusy = errors.New("namespace: busy: an interrupted evaluation is still blocked in a call that cannot be interrupted")
	// ErrClosed is returned by Eval after Close.
	ErrClosed = errors.New("namespace: closed")
	// ErrRolledBack is wrapped by the error of an evaluation that did not
	// end and left the namespace as it was before it: its process died (a
	// namespace evaluated in a worker process, see package worker).
	ErrRolledBack = errors.New("namespace: rolled back")
)

var constantType = reflect.TypeOf((*constant.Value)(nil)).Elem()

// sysPackage is the package that tells evaluated code about the server.
const sysPackage = "sys"

// busyWait is how long Eval waits for an interrupted evaluation to stop.
const busyWait = 500 * time.Millisecond

// A Namespace evaluates Go source chunk by chunk in one yaegi interpreter.
type Namespace struct {
	opts    Options
	symbols symbolTable

	out                         *output
	stdout, stderr              io.Writer
	stdin                       io.Reader
	osStdin, osStdout, osStderr *stdFile
	env                         virtualEnv

	// token holds a value while no goroutine uses the interpreter. Whoever
	// takes it may use in and the fields marked "token" until it puts it
	// back. An evaluation's goroutine puts it back when it ends, which may
	// be after Eval returned ErrInterrupted.
	token    chan struct{}
	closedCh chan struct{} // closed by Close

	loaded   map[string]bool            // token: packages given to the interpreter
	kinds    map[string]string          // token: top-level name → var, const, type or func
	pkgs     map[string]string          // token: package name in scope → import path
	types    map[string]*typeInfo       // token: declared struct types by name
	byType   map[reflect.Type]*typeInfo // token: the same, by reflect type when unambiguous
	captured []interface{}              // token: values handed to __tr_rt.Value or Types

	mu      sync.Mutex
	closed  bool                // mu
	in      *interp.Interpreter // mu to set; token to use
	done    chan struct{}       // mu: aborts the channel operations of running code
	ended   chan struct{}       // mu: closed when the running evaluation's goroutine ends; nil if none
	retry   bool                // mu: keepStopping runs for it
	journal []string            // mu
	imports []string            // mu
	vars    []Var               // mu: Vars' last answer
	varAt   map[string]varAt    // mu: where in the journal each variable was declared
	dropped map[string]bool     // mu: variables Drop marked

	// What Revision reports. rev counts the holds of the token that may
	// change the namespace (evaluations, restores) and Drop/Undrop.
	rev      uint64       // mu
	changing bool         // mu: the token is held by an evaluation or a restore
	timers   bool         // mu: code gave a callback to time.AfterFunc or a finalizer
	running  atomic.Int64 // goroutines of its code, and pending context.AfterFunc callbacks
}

// varAt is where in the journal a global variable was declared, first and
// last: the number of journal entries before its declaration. Restore
// declares it there, so that functions declared after it can use it.
type varAt struct{ first, last int }

// New returns an empty namespace. Its interpreter is created by the first
// Eval.
func New(opts Options) *Namespace {
	ns := &Namespace{
		opts:     opts,
		out:      &output{},
		stdin:    strings.NewReader(""),
		token:    make(chan struct{}, 1),
		closedCh: make(chan struct{}),
		loaded:   map[string]bool{},
		kinds:    map[string]string{},
		pkgs:     map[string]string{},
		types:    map[string]*typeInfo{},
		byType:   map[reflect.Type]*typeInfo{},
		varAt:    map[string]varAt{},
	}
	ns.token <- struct{}{}
	ns.stdout = &sink{out: ns.out, w: opts.Stdout}
	ns.stderr = &sink{out: ns.out, w: opts.Stderr}
	ns.osStdin = &stdFile{name: "/dev/stdin", r: ns.stdin}
	ns.osStdout = &stdFile{name: "/dev/stdout", w: ns.stdout}
	ns.osStderr = &stdFile{name: "/dev/stderr", w: ns.stderr}
	if opts.Unrestricted {
		ns.symbols = unrestrictedSymbols()
	} else {
		ns.symbols = restrictedSymbols()
	}
	return ns
}

// Eval evaluates one chunk of Go: declarations (its first token is import,
// type, func, const or var) or statements. The Result has a value when the
// chunk is an expression. The error is ErrIncomplete, ErrInterrupted,
// ErrBusy, ErrClosed (also when Close ran before the evaluation ended), or
// describes a syntax or compile error or a panic ("panic: ..."). Eval must
// not be called concurrently on one Namespace.
//
// A chunk that begins with declarations and goes on with statements
// (import "fmt"; fmt.Println(1)), or statements that end with an
// expression (x++; x), is evaluated as the two chunks it would have been
// on two lines, so that the expression's value is shown; if the first
// fails, the rest does not run.
func (ns *Namespace) Eval(ctx context.Context, src string) (Result, error) {
	c, err := parseChunk(src)
	if err != nil && err != ErrIncomplete {
		if decls, rest, ok := splitDecls(src); ok {
			if _, err := ns.eval(ctx, decls, nil); err != nil {
				return Result{}, err
			}
			return ns.Eval(ctx, rest)
		}
	}
	if err != nil {
		return Result{}, err
	}
	if stmts, last, ok := c.splitLastExpr(); ok {
		if _, err := ns.eval(ctx, stmts, nil); err != nil {
			return Result{}, err
		}
		return ns.eval(ctx, last, nil)
	}
	return ns.evalChunk(ctx, c, nil)
}

// extraDecls are declarations of the namespace's own that Restore compiles
// together with a journal entry it replays (variables that the entry's
// functions use, of types the entry declares). They are not part of the
// chunk's source, so not of the journal, and may use reserved names.
type extraDecls struct {
	src string
	// check runs after the chunk compiled and before it runs, with the
	// token held; an error stops the evaluation.
	check func(i *interp.Interpreter) error
}

func (ns *Namespace) eval(ctx context.Context, src string, extra *extraDecls) (Result, error) {
	c, err := parseChunk(src)
	if err != nil {
		return Result{}, err
	}
	return ns.evalChunk(ctx, c, extra)
}

// evalChunk evaluates a parsed chunk (see Eval).
func (ns *Namespace) evalChunk(ctx context.Context, c *chunk, extra *extraDecls) (Result, error) {
	if extra != nil && !c.decl {
		return Result{}, errors.New("declarations added to statements")
	}
	c.extra = extra
	if c.empty {
		return Result{}, nil
	}
	if err := ns.acquire(ctx, true); err != nil {
		return Result{}, err
	}
	c.dropImports(func(imp importSpec) bool { return ns.pkgs[ns.packageName(imp)] == imp.path })
	if c.empty {
		ns.release()
		return Result{}, nil
	}
	if hasRange(c.src) {
		if rewritten, ok := rewriteRanges(c, false); ok {
			if rc, err := parseChunkReserved(rewritten, true); err == nil {
				rc.extra = c.extra
				// The journal keeps what the user typed: Restore
				// refuses reserved names, and rewrites it again.
				rc.journal = c.journal
				c = rc
			}
		}
	}
	if hasBlank(c.src) {
		if rewritten, ok := rewriteLast(c); ok {
			if rc, err := parseChunkReserved(rewritten, true); err == nil {
				rc.extra, rc.journal, rc.readsLast = c.extra, c.journal, true
				c = rc
			}
		}
	}
	if ctx.Err() != nil {
		ns.release()
		return Result{}, ErrInterrupted
	}
	i, err := ns.prepare(c)
	if err != nil {
		ns.release()
		return Result{}, err
	}
	results := make(chan evalResult, 1)
	go ns.run(i, c, results)
	var r evalResult
	select {
	case r = <-results:
	case <-ctx.Done():
		if ns.interrupt() {
			return Result{}, ErrInterrupted
		}
		r = <-results // it had ended
	}
	ns.mu.Lock()
	closed := ns.closed
	ns.mu.Unlock()
	if closed {
		return Result{}, ErrClosed
	}
	return r.res, r.err
}

// acquire takes the interpreter token. A patient caller (an evaluation)
// waits as long as the holder is working: only an interrupted evaluation
// that will not stop makes it fail, so a user's line is never refused for
// a snapshot that holds the token (a migration's precopy, on a loaded
// server). An impatient one (a live snapshot) gives up after busyWait
// rather than wait for a running evaluation, which may never end.
func (ns *Namespace) acquire(ctx context.Context, patient bool) error {
	select {
	case <-ns.token:
	default:
		t := time.NewTicker(busyWait)
		defer t.Stop()
	wait:
		for {
			select {
			case <-ns.token:
				break wait
			case <-ctx.Done():
				return ErrInterrupted
			case <-ns.closedCh:
				return ErrClosed
			case <-t.C:
				ns.mu.Lock()
				stuck := ns.ended != nil && ns.retry
				ns.mu.Unlock()
				if stuck || !patient {
					return ErrBusy
				}
			}
		}
	}
	ns.mu.Lock()
	closed := ns.closed
	if patient && !closed {
		ns.rev++
		ns.changing = true
	}
	ns.mu.Unlock()
	if closed {
		ns.release()
		return ErrClosed
	}
	return nil
}

// Revision tells a caller that keeps a snapshot whether it still holds.
// rev changes with every evaluation, restore, Drop and Undrop. settled
// says that nothing changes the namespace until the next one: no
// evaluation runs, no goroutine its code started is running, no callback
// it gave to context.AfterFunc is pending, and it never gave one to
// time.AfterFunc (a timer can be reset after it fired) or
// runtime.SetFinalizer. So a snapshot taken between two calls that return
// the same rev, both settled, is the namespace's state for as long as
// Revision returns that rev, settled.
//
// Not seen: goroutines that native code starts on its own and that call
// the namespace's functions (os/exec copying into an interpreted Writer,
// say). Such a namespace can change while settled.
func (ns *Namespace) Revision() (rev uint64, settled bool) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.rev, !ns.changing && !ns.timers && ns.ended == nil && ns.running.Load() == 0
}

func (ns *Namespace) serverPid() int {
	if ns.opts.ServerPid != 0 {
		return ns.opts.ServerPid
	}
	return os.Getpid()
}

// Stopped waits until no evaluation holds the interpreter (an interrupted
// one has really stopped), or ctx ends first; it reports whether it did.
func (ns *Namespace) Stopped(ctx context.Context) bool {
	select {
	case <-ns.token:
		ns.token <- struct{}{}
		return true
	case <-ns.closedCh:
		return true
	case <-ctx.Done():
		return false
	}
}

// release puts the interpreter token back, dropping the interpreter if the
// namespace was closed meanwhile.
func (ns *Namespace) release() {
	ns.mu.Lock()
	ns.changing = false
	if ns.closed {
		ns.in = nil
	}
	ns.mu.Unlock()
	ns.token <- struct{}{}
}

// prepare readies the interpreter for c: creates it, gives it the packages
// c imports, and arms its interruption. The caller holds the token.
func (ns *Namespace) prepare(c *chunk) (*interp.Interpreter, error) {
	ns.mu.Lock()
	i := ns.in
	ns.mu.Unlock()
	if i == nil {
		var err error
		if i, err = ns.newInterpreter(); err != nil {
			return nil, err
		}
	}
	for _, imp := range c.imports {
		if err := ns.loadPackage(i, imp.path); err != nil {
			return nil, err
		}
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.closed {
		return nil, ErrClosed
	}
	ns.armLocked(i)
	ns.ended = make(chan struct{})
	ns.retry = false
	return i, nil
}

// armLocked gives i a fresh channel to abort channel operations if the last
// one was closed by an interruption. Goroutines of earlier evaluations share
// it: an interruption stops them all, as yaegi's run id does.
func (ns *Namespace) armLocked(i *interp.Interpreter) {
	if ns.done == nil {
		ns.done = make(chan struct{})
		armInterpreter(i, ns.done)
	}
}

func (ns *Namespace) newInterpreter() (*interp.Interpreter, error) {
	i := interp.New(interp.Options{
		GoPath:               "/nonexistent",
		Stdin:                ns.stdin,
		Stdout:               ns.stdout,
		Stderr:               io.Discard, // yaegi's notes on panics; the error says it
		SourcecodeFilesystem: emptyFS{},
		Unrestricted:         ns.opts.Unrestricted,
	})

	// The namespace's runtime support, under a name user code cannot
	// spell. Its functions are passed interpreted values wrapped the way
	// fmt.Print's are, which needs fmt's symbols.
	if err := ns.loadPackage(i, "fmt"); err != nil {
		return nil, err
	}
	wrapped := []reflect.Type{errorType, stringerType}
	value := reflect.ValueOf(func(v ...interface{}) { ns.captured = v })
	recovered := reflect.ValueOf(ns.goroutinePanicked)
	err := i.Use(interp.Exports{
		"translucent/rt/rt": {
			"Value":     value,
			"Recovered": recovered,
			"Go":        reflect.ValueOf(func() { ns.running.Add(1) }),
			"Done":      reflect.ValueOf(func() { ns.running.Add(-1) }),
			"Types":     reflect.ValueOf(func(v ...interface{}) { ns.captured = v }),
		},
		".": {"MapTypes": reflect.ValueOf(map[reflect.Value][]reflect.Type{value: wrapped, recovered: wrapped})},
	})
	if err == nil {
		_, err = i.Eval(`import ` + rtName + ` "translucent/rt"`)
	}
	if err != nil {
		return nil, fmt.Errorf("namespace: setting up the interpreter: %w", err)
	}
	ns.mu.Lock()
	ns.in = i
	ns.armLocked(i)
	ns.mu.Unlock()
	return i, nil
}

type evalResult struct {
	res Result
	err error
}

// A candidate is a rewriting of a chunk to compile.
type candidate struct {
	src     string
	base    int  // length of yaegi's wrapper before it
	capture bool // hands the expression's values to __tr_rt.Value
	last    bool // and declares lastName as the expression's one value
	assign  bool // and its one value is assigned to lastName after (last.go)
	expr    string
}

// candidates returns the rewritings of c to try, best first: the
// expression's values captured, go statements guarded.
func (ns *Namespace) candidates(c *chunk) []candidate {
	base := stmtPrefix
	if c.decl {
		base = declPrefix
	}
	render := []func(start, end int) string{func(start, end int) string { return c.src[start:end] }}
	prefix := ""
	if c.hasGo {
		sc := scope{kinds: map[string]string{}, pkgs: map[string]string{}, isConst: ns.isPkgConst}
		for k, v := range ns.kinds {
			sc.kinds[k] = v
		}
		for k, v := range c.declared {
			sc.kinds[k] = v
		}
		for k, v := range ns.pkgs {
			sc.pkgs[k] = v
		}
		for _, imp := range c.imports {
			sc.pkgs[ns.packageName(imp)] = imp.path
		}
		render = []func(start, end int) string{newGoRewriter(c, sc, false).render, newGoRewriter(c, sc, true).render}
	}
	if !c.decl && (c.hasGo || c.first == token.FUNC || c.first == token.VAR) {
		// Statements that (once rewritten) start with a function literal,
		// or with var, are what yaegi first tries, and fails, to parse as
		// a declaration; its retry path misbehaved in our tests.
		prefix = ";"
	}
	var cands []candidate
	if c.expr != nil {
		// yaegi gives each top-level expression slots in its global frame,
		// which it grows and copies with every evaluation: x+1 took 100 µs
		// at first and 250 µs 4,000 evaluations later. Inside a function
		// literal it is worse: a call of one copies the global frame.
		// With one value, it is `_` too (last.go): the first try, refused
		// for an expression of no value or several (oneResult).
		const value = ";" + rtName + ".Value("
		const last = ";" + lastName + " := "
		for _, r := range render {
			e := r(c.offset(c.expr.Pos()), c.offset(c.expr.End()))
			if c.extra == nil {
				// yaegi reads lastName in a chunk that declares it as the
				// new one: one that reads `_` declares a temporary, which
				// lastName takes after (setLast).
				name := lastName
				if c.readsLast {
					name = lastTemp
				}
				cands = append(cands, candidate{src: ";" + name + " := " + e + "; " + rtName + ".Value(" + name + ")",
					base: len(stmtPrefix) + len(name) + 5, capture: true, last: true, expr: e})
			}
			cands = append(cands, candidate{src: value + e + ")", base: len(stmtPrefix) + len(value), capture: true})
		}
	}
	suffix := ""
	if c.extra != nil {
		suffix = "\n" + c.extra.src
	}
	for _, r := range render {
		cands = append(cands, candidate{src: prefix + r(0, len(c.src)) + suffix, base: len(base) + len(prefix)})
	}
	return cands
}

// run compiles and executes c on the goroutine Eval waits for, does the
// session's bookkeeping and puts the token back.
func (ns *Namespace) run(i *interp.Interpreter, c *chunk, results chan<- evalResult) {
	var r evalResult
	ended := false
	defer func() {
		if p := recover(); p != nil {
			r = evalResult{err: &internalError{p: p}}
		} else if !ended {
			r = evalResult{err: errors.New("the evaluation's goroutine exited (runtime.Goexit)")}
		}
		if r.err != nil && c.extra == nil {
			r.err = ns.explain(c, r.err, i.Globals)
		}
		ns.mu.Lock()
		close(ns.ended)
		ns.ended = nil
		ns.mu.Unlock()
		ns.release()
		results <- r
	}()
	r = ns.evaluate(i, c)
	ended = true
}

func (ns *Namespace) evaluate(i *interp.Interpreter, c *chunk) evalResult {
	var prog *interp.Program
	var cand candidate
	var err error
	undo := ns.forgetTypes(i, c)
	keeper := keepLast(i, c)
	for _, cand = range ns.candidates(c) {
		if cand.last && !c.readsLast && keeper.typ.valid() {
			// The common case, a value of the type `_` already has, is
			// assigned to it once it ran: declaring `_` again would add
			// a slot to yaegi's global frame at each line (last.go).
			const value = ";" + rtName + ".Value("
			p, perr := compile(i, value+cand.expr+")")
			if perr == nil && sameType(capturedType(p), keeper.typ) {
				prog, err = p, nil
				cand = candidate{src: value + cand.expr + ")", base: len(stmtPrefix) + len(value), capture: true, assign: true}
				break
			}
			keeper.undo()
		}
		prog, err = compile(i, cand.src)
		if err == nil && cand.last && !oneResult(prog, c) {
			err = errors.New("several values") // yaegi takes the first
		}
		if err == nil {
			break
		}
		if cand.last {
			keeper.undo()
		}
	}
	if err != nil {
		undo()
		defer ns.forgetFailed(i, c)
	}
	var internal *internalError
	if err != nil && !c.retried && hasRange(c.src) && errors.As(err, &internal) {
		// A range over an integer that its form did not show.
		if src, ok := rewriteRanges(c, true); ok {
			if rc, perr := parseChunkReserved(src, true); perr == nil {
				rc.retried, rc.extra, rc.journal = true, c.extra, c.journal
				if r := ns.evaluate(i, rc); r.err == nil {
					return r
				}
			}
		}
	}
	if err != nil {
		if c.extra != nil {
			return evalResult{err: compileError(err, cand.base)}
		}
		if strings.Contains(err.Error(), "constant definition loop") {
			if uerr := c.undefined(ns.knows); uerr != nil {
				return evalResult{err: uerr}
			}
		}
		// Report the error in the user's own source, if the rewriting
		// did not add it.
		base := len(stmtPrefix)
		if c.decl {
			base = len(declPrefix)
		}
		if _, origErr := compile(i, c.src); origErr != nil {
			return evalResult{err: compileError(origErr, base)}
		}
		return evalResult{err: compileError(err, cand.base)}
	}
	if c.extra != nil && c.extra.check != nil {
		if err := c.extra.check(i); err != nil {
			return evalResult{err: err}
		}
	}
	ns.compiled(c)

	ns.captured = nil
	if !cand.last {
		keeper.undo() // a try that declared it failed to compile
	}
	if _, err := i.Execute(prog); err != nil {
		keeper.undo()
		var p interp.Panic
		if errors.As(err, &p) {
			if e, ok := p.Value.(error); ok && yaegiPos.MatchString(e.Error()) {
				// yaegi found a compile error while running (a constant
				// that overflows, say).
				return evalResult{err: compileError(e, cand.base)}
			}
			return evalResult{err: fmt.Errorf("panic: %s", formatPanic(p.Value))}
		}
		return evalResult{err: compileError(err, cand.base)}
	}
	if len(c.types) > 0 {
		ns.learnTypes(i, c)
	}
	if cand.last {
		ns.setLast(i, c, keeper)
	}
	if cand.assign && len(ns.captured) == 1 {
		assignLast(i, ns.captured[0])
	}
	if !cand.capture || ns.printsNothing(c.expr, ns.captured) {
		return evalResult{}
	}
	var static itype
	if len(ns.captured) == 1 {
		static = capturedType(prog)
	}
	return evalResult{res: Result{Value: formatValues(ns.byType, ns.captured, static), HasValue: true}}
}

// knows reports whether name is one of the namespace's declarations or
// packages. ns.token is held.
func (ns *Namespace) knows(name string) bool { return ns.kinds[name] != "" || ns.pkgs[name] != "" }

// compile compiles src, turning a panic inside yaegi into an error.
func compile(i *interp.Interpreter, src string) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, &internalError{compiling: true, p: r}
		}
	}()
	return i.Compile(src)
}

// compiled records what a chunk that compiled declared. The caller holds
// the token.
func (ns *Namespace) compiled(c *chunk) {
	again := declaredAgain(c, ns.kinds)
	retyped := false
	for name, kind := range c.declared {
		ns.kinds[name] = kind
		if ns.types[name] != nil {
			delete(ns.types, name) // learnTypes adds it back if still a struct
			retyped = true
		}
	}
	if retyped {
		ns.indexTypes()
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for name, kind := range c.declared {
		if kind != "var" {
			continue
		}
		at, ok := ns.varAt[name]
		if !ok {
			at.first = len(ns.journal)
		}
		at.last = len(ns.journal)
		ns.varAt[name] = at
	}
	for _, imp := range c.imports {
		if name := ns.packageName(imp); name != "_" && name != "." {
			ns.pkgs[name] = imp.path
		}
		seen := false
		for _, p := range ns.imports {
			seen = seen || p == imp.path
		}
		if !seen {
			ns.imports = append(ns.imports, imp.path)
		}
	}
	var moved func(int) int
	ns.journal, moved = replaceInJournal(ns.journal, again)
	for name, at := range ns.varAt {
		ns.varAt[name] = varAt{moved(at.first), moved(at.last)}
	}
	if c.journal != "" {
		ns.journal = append(ns.journal, c.journal)
	}
}

// packageName is the name an import brings into scope.
func (ns *Namespace) packageName(imp importSpec) string {
	if imp.name != "" {
		return imp.name
	}
	if p := ns.symbols[imp.path]; p != nil {
		return p.name
	}
	return imp.path[strings.LastIndex(imp.path, "/")+1:]
}

// isPkgConst reports whether a package's symbol is an untyped constant.
func (ns *Namespace) isPkgConst(path, name string) bool {
	if path == sysPackage {
		return name == "Version" || name == "Pid"
	}
	p := ns.symbols[path]
	if p == nil {
		return false
	}
	v := p.syms[name]
	return v.IsValid() && v.Type().Implements(constantType)
}

// learnTypes finds the reflect types of the struct types c declared, so
// that their values print, and their variables list, by name.
func (ns *Namespace) learnTypes(i *interp.Interpreter, c *chunk) {
	var args []string
	for _, t := range c.types {
		args = append(args, "(*"+t.name+")(nil)")
	}
	ns.captured = nil
	if _, err := i.Eval(rtName + ".Types(" + strings.Join(args, ", ") + ")"); err != nil || len(ns.captured) != len(c.types) {
		return
	}
	for k, t := range c.types {
		rt := reflect.TypeOf(ns.captured[k])
		if rt == nil || rt.Kind() != reflect.Pointer || rt.Elem().Kind() != reflect.Struct {
			continue
		}
		ns.types[t.name] = &typeInfo{name: t.name, typ: rt.Elem(), fields: t.fields}
	}
	ns.indexTypes()
}

// indexTypes maps the reflect type of each declared struct type to it,
// unless two declared types have the same structure.
func (ns *Namespace) indexTypes() {
	count := map[reflect.Type]int{}
	for _, info := range ns.types {
		count[info.typ]++
	}
	ns.byType = map[reflect.Type]*typeInfo{}
	for _, info := range ns.types {
		if count[info.typ] == 1 {
			ns.byType[info.typ] = info
		}
	}
}

// printsNothing reports whether an expression's values are not worth
// printing: fmt.Println and its kin returning (n, nil).
func (ns *Namespace) printsNothing(e ast.Expr, vals []interface{}) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(vals) != 2 || vals[1] != nil {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok || ns.pkgs[x.Name] != "fmt" {
		return false
	}
	switch sel.Sel.Name {
	case "Print", "Printf", "Println", "Fprint", "Fprintf", "Fprintln":
		return true
	}
	return false
}

// goroutinePanicked reports a panic that a goroutine of evaluated code
// recovered from.
func (ns *Namespace) goroutinePanicked(r interface{}) {
	fmt.Fprintf(ns.stderr, "panic in goroutine: %s\n", formatPanic(r))
}

// interrupt stops the running evaluation, and with it every goroutine the
// namespace's code started. It reports false if the evaluation had ended.
func (ns *Namespace) interrupt() bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.ended == nil {
		return false
	}
	ns.stopLocked()
	return true
}

// stopLocked stops the interpreter's code. The caller holds mu.
func (ns *Namespace) stopLocked() {
	if ns.in == nil {
		return
	}
	stopInterpreter(ns.in)
	if ns.done != nil {
		close(ns.done)
		ns.done = nil
	}
	if ns.ended != nil && !ns.retry {
		ns.retry = true
		go ns.keepStopping(ns.in, ns.ended)
	}
}

// keepStopping repeats the stop of an evaluation until it ends: a stop
// that comes before yaegi's Execute has set the global frame's run id to
// the interpreter's is lost (yaegi's own EvalWithContext has that race too).
// Code blocked in a native call ends when the call returns.
func (ns *Namespace) keepStopping(i *interp.Interpreter, ended <-chan struct{}) {
	for d := time.Millisecond; ; d = min(2*d, time.Second) {
		t := time.NewTimer(d)
		select {
		case <-ended:
			t.Stop()
			return
		case <-t.C:
			stopInterpreter(i)
		}
	}
}

// Close stops the goroutines the namespace's code started (those blocked
// in a native call stop when it returns), discards what they print after,
// and releases the interpreter. An Eval running meanwhile stops and returns
// ErrClosed. Close may be called from any goroutine, more than once.
func (ns *Namespace) Close() {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return
	}
	ns.closed = true
	close(ns.closedCh)
	ns.out.closed.Store(true)
	ns.stopLocked()
	ns.mu.Unlock()
	// Whoever holds the token drops the interpreter when putting it back.
	select {
	case <-ns.token:
		ns.release()
	default:
	}
}

// Vars returns the namespace's global variables, sorted by name. While an
// interrupted evaluation is still blocked, or another runs, it returns the
// last answer. A worker's checkpoint of the line before holds the
// interpreter for a moment after each line: Vars waits for it (as long as
// acquire lets an impatient caller), or :vars and :drop typed right after a
// declaration would not see it (TestIncrementalMigration, under load).
func (ns *Namespace) Vars() []Var {
	if ns.acquire(context.Background(), false) != nil {
		ns.mu.Lock()
		defer ns.mu.Unlock()
		return append([]Var(nil), ns.vars...)
	}
	defer ns.release()
	ns.mu.Lock()
	i := ns.in
	ns.mu.Unlock()
	if i == nil {
		return nil
	}
	f := &formatter{types: ns.byType}
	scope, scopeErr := readMainScope(i)
	var vars []Var
	for name, v := range i.Globals() {
		// Only what the user declared: not the variables of top-level
		// loops and ifs, which yaegi makes global too.
		if ns.kinds[name] != "var" || !v.IsValid() || name == lastName || name == "_" {
			continue
		}
		var it itype
		if scopeErr == nil {
			it, _ = scope.isVar(name)
		}
		vars = append(vars, Var{Name: name, Type: f.name(v.Type(), it)})
	}
	sort.Slice(vars, func(a, b int) bool { return vars[a].Name < vars[b].Name })
	ns.mu.Lock()
	ns.vars = vars
	ns.mu.Unlock()
	return append([]Var(nil), vars...)
}

// Imports returns the import paths the namespace's code imported, in the
// order it first did.
func (ns *Namespace) Imports() []string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]string(nil), ns.imports...)
}

// Journal returns, in order, the source of the declarations of imports,
// types, functions and constants that compiled: evaluating them in a new
// namespace declares the same. Variables are not in it.
func (ns *Namespace) Journal() []string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]string(nil), ns.journal...)
}

// emptyFS is the interpreter's source file system: evaluated code cannot
// import source packages from the host.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Drop marks the global variable name so that snapshots leave it out: it
// keeps its value here and arrives at its zero value, breaking whatever it
// referred to (the talk's "select references to break"). Undrop clears
// the mark. Drop fails for a name that is not a variable.
func (ns *Namespace) Drop(name string) error {
	found := false
	for _, v := range ns.Vars() {
		if v.Name == name {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("no variable %s", name)
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if ns.dropped == nil {
		ns.dropped = map[string]bool{}
	}
	ns.dropped[name] = true
	ns.rev++
	return nil
}

// Undrop clears Drop's mark on name; it reports whether there was one.
func (ns *Namespace) Undrop(name string) bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	had := ns.dropped[name]
	delete(ns.dropped, name)
	ns.rev++
	return had
}

// Dropped lists the variables Drop marked, sorted.
func (ns *Namespace) Dropped() []string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return slices.Sorted(maps.Keys(ns.dropped))
}
