package namespace

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// How yaegi (interp/ast.go) parses a chunk of REPL input: declarations as a
// file of package main, anything else as the body of func main. The
// wrappers keep the chunk on line 1 of the parsed text, shifted right.
const (
	declPrefix = "package main;"
	stmtPrefix = "package main; func main() {"
	stmtSuffix = "\n}"
)

// reservedPrefix starts the identifiers the namespace adds to evaluated
// code; the user's code may not use them.
const reservedPrefix = "__tr_"

// A chunk is one evaluation's source, parsed and classified the way yaegi
// will, before the interpreter sees it.
type chunk struct {
	src  string
	fset *token.FileSet
	base int   // offset of src in the parsed text
	err  error // of the last parse

	first token.Token
	empty bool // nothing but space and comments
	decl  bool // file-level declarations (first token import, type, func, const or var)
	file  *ast.File
	body  *ast.BlockStmt // the statements, when !decl
	expr  ast.Expr       // the expression, when the chunk is one expression statement
	hasGo bool           // contains a go statement

	imports   []importSpec
	declared  map[string]string // top-level name → "var", "const", "type" or "func"
	consts    map[string]bool   // every constant the chunk declares, at any level
	journal   string            // source of its declarations other than var
	types     []typeDecl        // struct types it declares
	extra     *extraDecls       // compiled with it, when Restore replays it
	retried   bool              // the second rewriting of its ranges (rangerewrite.go)
	readsLast bool              // `_` was rewritten as lastName (last.go)
}

type importSpec struct {
	name string // "" when not renamed
	path string
}

type typeDecl struct {
	name   string
	fields []string
}

// offset returns the offset in c.src of a position in the parsed text.
func (c *chunk) offset(p token.Pos) int {
	return c.fset.Position(p).Offset - c.base
}

// text returns the source of node n.
func (c *chunk) text(n ast.Node) string {
	return c.src[c.offset(n.Pos()):c.offset(n.End())]
}

// parseChunk parses src. Its error is ErrIncomplete when more input could
// complete src, or a syntax error with positions in src.
func parseChunk(src string) (*chunk, error) {
	return parseChunkReserved(src, false)
}

// parseChunkReserved is parseChunk that lets src use reserved identifiers
// if rewritten: src is the namespace's rewriting of a chunk.
func parseChunkReserved(src string, rewritten bool) (*chunk, error) {
	c := &chunk{src: src, fset: token.NewFileSet(), declared: map[string]string{}, consts: map[string]bool{}}

	first := token.EOF
	var s scanner.Scanner
	file := c.fset.AddFile("", -1, len(src))
	s.Init(file, []byte(src), func(token.Position, string) {}, 0)
	depth := 0 // of braces
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if first == token.EOF {
			first = tok
		}
		switch {
		case tok == token.LBRACE:
			depth++
		case tok == token.RBRACE:
			if depth--; depth < 0 {
				// It would close the wrapper the chunk is parsed in,
				// and the parser's error would have no position.
				p := file.Position(pos)
				return nil, fmt.Errorf("%d:%d: unexpected }: it closes no {", p.Line, p.Column)
			}
		case tok == token.GO:
			c.hasGo = true
		case tok == token.IDENT && strings.HasPrefix(lit, reservedPrefix) && !rewritten:
			return nil, fmt.Errorf("%s: identifiers beginning with %s are reserved", lit, reservedPrefix)
		}
	}
	c.first = first
	switch first {
	case token.EOF:
		if err := c.parse(stmtPrefix, src+stmtSuffix); err != nil {
			return nil, err // an unterminated comment, say
		}
		c.empty = true
		return c, nil
	case token.PACKAGE:
		return nil, errors.New("a package clause cannot be evaluated: type declarations and statements directly")
	case token.IMPORT, token.TYPE, token.FUNC, token.CONST, token.VAR:
		c.decl = true
		err := c.parse(declPrefix, src)
		if err != nil && err != ErrIncomplete && first == token.VAR {
			// var q int; q = 5: statements, which may declare variables.
			if c.parse(stmtPrefix, src+stmtSuffix) == nil {
				c.decl, err = false, nil
			}
		}
		if err != nil && err != ErrIncomplete && first == token.FUNC {
			// A function literal that is called: yaegi retries as
			// statements too.
			switch c.parse(stmtPrefix, src+stmtSuffix) {
			case nil:
				c.decl, err = false, nil
			case ErrIncomplete: // "func() {" begins a literal
				err = ErrIncomplete
			}
		}
		if err != nil {
			return nil, err
		}
	default:
		if err := c.parse(stmtPrefix, src+stmtSuffix); err != nil {
			return nil, err
		}
	}

	if c.decl {
		c.analyseDecls()
		return c, c.err
	}
	c.body = c.file.Decls[0].(*ast.FuncDecl).Body
	return c, c.analyseStmts()
}

// parse parses src inside a wrapper, keeping the result (or the error, for
// parseError) in c.
func (c *chunk) parse(prefix, text string) error {
	c.fset = token.NewFileSet()
	c.base = len(prefix)
	c.file, c.err = parser.ParseFile(c.fset, "", prefix+text, parser.DeclarationErrors|parser.ParseComments)
	return c.parseError()
}

// parseError returns the error of the last parse: ErrIncomplete, or the
// syntax errors with positions in c.src.
func (c *chunk) parseError() error {
	if c.err == nil {
		return nil
	}
	if incomplete(c.err, c.src) {
		return ErrIncomplete
	}
	var list scanner.ErrorList
	if !errors.As(c.err, &list) {
		return c.err
	}
	fixed := make(scanner.ErrorList, 0, len(list))
	for _, e := range list {
		pos := e.Pos
		pos.Filename = ""
		if pos.Line == 1 {
			pos.Column = max(pos.Column-c.base, 1)
		}
		if pos.Line > strings.Count(c.src, "\n")+1 {
			pos = token.Position{} // in the wrapper's closing brace
		}
		fixed.Add(pos, e.Msg)
	}
	return fixed.Err()
}

// incomplete reports whether err, from parsing src, means src is the
// beginning of valid input rather than invalid: the test yaegi's REPL makes
// (interp.ignoreScannerError), plus an unterminated block comment.
func incomplete(err error, src string) bool {
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return false
	}
	msg := list[0].Msg
	switch {
	case strings.HasSuffix(msg, "found 'EOF'"),
		msg == "raw string literal not terminated",
		msg == "comment not terminated":
		return true
	case strings.HasPrefix(msg, "expected operand, found '}'"):
		// The wrapper's closing brace: the chunk stops inside an
		// expression, unless the user typed that brace.
		return !strings.HasSuffix(strings.TrimRight(src, " \t\r\n"), "}")
	}
	return false
}

func (c *chunk) analyseDecls() {
	for _, d := range c.file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				c.declared[d.Name.Name] = "func"
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch spec := spec.(type) {
				case *ast.ImportSpec:
					c.imports = append(c.imports, importOf(spec))
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						c.declared[n.Name] = d.Tok.String()
					}
				case *ast.TypeSpec:
					c.declared[spec.Name.Name] = "type"
					if st, ok := spec.Type.(*ast.StructType); ok && spec.TypeParams == nil && !spec.Assign.IsValid() {
						c.types = append(c.types, typeDecl{name: spec.Name.Name, fields: fieldNames(st)})
					}
				}
			}
		}
	}
	c.journal = c.journalText()
	c.findConsts()
	c.err = c.checkAssignments()
}

// journalText returns the source of the chunk's declarations but its
// variables'.
func (c *chunk) journalText() string {
	var journal []string
	for _, d := range c.file.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			continue
		}
		if text := c.text(d); strings.TrimSpace(text) != "" {
			journal = append(journal, text)
		}
	}
	return strings.Join(journal, "\n")
}

// dropImports removes the imports for which imported is true (yaegi
// rejects importing a package again) by blanking them, which keeps every
// other offset. A chunk left with nothing becomes empty.
func (c *chunk) dropImports(imported func(importSpec) bool) {
	if len(c.imports) == 0 {
		return
	}
	src := []byte(c.src)
	blank := func(n ast.Node) {
		for i := c.offset(n.Pos()); i < c.offset(n.End()); i++ {
			if src[i] != '\n' {
				src[i] = ' '
			}
		}
	}
	c.imports = nil
	for _, d := range c.file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		var keep, drop []ast.Spec
		for _, spec := range g.Specs {
			is := importOf(spec.(*ast.ImportSpec))
			if imported(is) {
				drop = append(drop, spec)
			} else {
				keep = append(keep, spec)
				c.imports = append(c.imports, is)
			}
		}
		switch {
		case len(drop) == 0:
		case len(keep) == 0:
			blank(g)
		default: // parenthesized
			for _, spec := range drop {
				blank(spec)
			}
		}
	}
	c.src = string(src)
	c.journal = c.journalText()
	c.empty = strings.TrimSpace(c.src) == ""
}

func importOf(spec *ast.ImportSpec) importSpec {
	path, _ := strconv.Unquote(spec.Path.Value)
	is := importSpec{path: path}
	if spec.Name != nil {
		is.name = spec.Name.Name
	}
	return is
}

func fieldNames(st *ast.StructType) []string {
	var names []string
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 { // embedded: named after its type
			t := f.Type
			for {
				switch x := t.(type) {
				case *ast.StarExpr:
					t = x.X
					continue
				case *ast.SelectorExpr:
					t = x.Sel
					continue
				case *ast.IndexExpr:
					t = x.X
					continue
				case *ast.IndexListExpr:
					t = x.X
					continue
				}
				break
			}
			if id, ok := t.(*ast.Ident); ok {
				names = append(names, id.Name)
			} else {
				names = append(names, "?")
			}
			continue
		}
		for _, n := range f.Names {
			names = append(names, n.Name)
		}
	}
	return names
}

// voidBuiltins are the builtins a call of which has no value.
var voidBuiltins = map[string]bool{"panic": true, "print": true, "println": true, "close": true, "delete": true, "clear": true}

func (c *chunk) analyseStmts() error {
	if err := c.checkAssignments(); err != nil {
		return err
	}
	for _, st := range c.body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, e := range st.Lhs {
					if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
						c.declared[id.Name] = "var"
					}
				}
			}
		case *ast.DeclStmt:
			if d, ok := st.Decl.(*ast.GenDecl); ok && d.Tok == token.VAR {
				for _, spec := range d.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						c.declared[n.Name] = "var"
					}
				}
			}
		}
	}
	if len(c.body.List) == 1 {
		if es, ok := c.body.List[0].(*ast.ExprStmt); ok {
			c.expr = es.X
			if call, ok := es.X.(*ast.CallExpr); ok {
				if id, ok := call.Fun.(*ast.Ident); ok && voidBuiltins[id.Name] {
					c.expr = nil
				}
			}
		}
	}

	// yaegi runs top-level statements in its global frame, whose deferred
	// calls it never clears: they would run again after every evaluation.
	var deferErr error
	ast.Inspect(c.body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.DeferStmt:
			if deferErr == nil {
				p := c.fset.Position(n.Pos())
				if p.Line == 1 {
					p.Column -= c.base
				}
				deferErr = fmt.Errorf("%d:%d: defer outside a function is not supported", p.Line, p.Column)
			}
		}
		return deferErr == nil
	})
	c.findConsts()
	return deferErr
}

func (c *chunk) findConsts() {
	ast.Inspect(c.file, func(n ast.Node) bool {
		if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
			for _, spec := range d.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					c.consts[n.Name] = true
				}
			}
		}
		return true
	})
}

// yaegiPos matches the position yaegi puts before a compile error.
var yaegiPos = regexp.MustCompile(`^(?:_\.go:)?(\d+):(\d+): `)

// compileError rewrites the position of a yaegi compile error for text
// parsed behind a prefix of base bytes into one in the chunk.
func compileError(err error, base int) error {
	msg := err.Error()
	m := yaegiPos.FindStringSubmatchIndex(msg)
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(msg[m[2]:m[3]])
	col, _ := strconv.Atoi(msg[m[4]:m[5]])
	if line == 1 {
		col = max(col-base, 1)
	}
	return fmt.Errorf("%d:%d: %s", line, col, msg[m[1]:])
}

// undefined returns the first name c uses that it does not declare, that
// known does not know (the namespace's names and packages) and that Go
// does not predeclare; nil if there is none. yaegi reports such a name in
// a declaration (y := undefined) as "constant definition loop".
func (c *chunk) undefined(known func(name string) bool) error {
	if c.file == nil {
		return nil
	}
	for _, id := range c.file.Unresolved {
		if c.declared[id.Name] != "" || known(id.Name) || types.Universe.Lookup(id.Name) != nil || id.Name == "_" {
			continue
		}
		p := c.fset.Position(id.Pos())
		if p.Line == 1 {
			p.Column = max(p.Column-c.base, 1)
		}
		return fmt.Errorf("%d:%d: undefined: %s", p.Line, p.Column, id.Name)
	}
	return nil
}

// checkAssignments finds an assignment or declaration whose sides cannot
// match, and an expression statement in a block whose value nothing uses
// (if x > 1 { "big" }), which yaegi reports in words of its own or not at
// all.
func (c *chunk) checkAssignments() error {
	var err error
	ast.Inspect(c.file, func(n ast.Node) bool {
		if err != nil {
			return false
		}
		var msg string
		switch n := n.(type) {
		case *ast.ExprStmt:
			// At the chunk's top level an expression is the REPL's to
			// show; within a block, Go refuses one that is neither a call
			// nor a receive.
			if c.body != nil && slices.Contains(c.body.List, ast.Stmt(n)) {
				break
			}
			switch x := ast.Unparen(n.X).(type) {
			case *ast.CallExpr, *ast.BadExpr:
			case *ast.UnaryExpr:
				if x.Op != token.ARROW {
					msg = c.text(n.X) + " is not used"
				}
			default:
				msg = c.text(n.X) + " is not used"
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE || n.Tok == token.ASSIGN {
				msg = assignMismatch(len(n.Lhs), n.Rhs)
			}
		case *ast.ValueSpec:
			msg = assignMismatch(len(n.Names), n.Values)
		}
		if msg != "" {
			p := c.fset.Position(n.Pos())
			if p.Line == 1 {
				p.Column = max(p.Column-c.base, 1)
			}
			err = fmt.Errorf("%d:%d: %s", p.Line, p.Column, msg)
		}
		return true
	})
	return err
}

// splitLastExpr splits a chunk of several statements whose last is an
// expression (x := 1; x + 1) into the statements before it and the
// expression: what the user would have typed on two lines, the second
// showing its value. ok is false for any other chunk.
func (c *chunk) splitLastExpr() (stmts, last string, ok bool) {
	if c.decl || c.body == nil || c.expr != nil {
		return "", "", false
	}
	list := c.body.List
	for len(list) > 0 {
		if _, empty := list[len(list)-1].(*ast.EmptyStmt); !empty {
			break
		}
		list = list[:len(list)-1]
	}
	if len(list) < 2 {
		return "", "", false
	}
	if _, isExpr := list[len(list)-1].(*ast.ExprStmt); !isExpr {
		return "", "", false
	}
	at := c.offset(list[len(list)-1].Pos())
	if at <= 0 || at > len(c.src) {
		return "", "", false
	}
	stmts = strings.TrimRight(c.src[:at], "; \t\r\n")
	if stmts == "" {
		return "", "", false
	}
	return stmts, c.src[at:], true
}

// splitDecls splits a chunk that begins with file-level declarations and
// goes on with statements (import "fmt"; fmt.Println(1), or type C
// float64; t := C(1)), which Go parses as neither, into the
// declarations and the rest: what the user would have typed on two
// lines. ok is false for any other chunk.
func splitDecls(src string) (decls, rest string, ok bool) {
	fset := token.NewFileSet()
	_, err := parser.ParseFile(fset, "", declPrefix+src, parser.DeclarationErrors)
	var list scanner.ErrorList
	if !errors.As(err, &list) || len(list) == 0 || !strings.HasPrefix(list[0].Msg, "expected declaration") {
		return "", "", false
	}
	at := list[0].Pos.Offset - len(declPrefix)
	if at <= 0 || at >= len(src) {
		return "", "", false
	}
	decls = strings.TrimRight(src[:at], "; \t\r\n")
	if decls == "" {
		return "", "", false
	}
	// The declarations must stand alone: a chunk whose first part is not
	// a whole declaration is left to the parser's own error.
	if _, err := parser.ParseFile(token.NewFileSet(), "", declPrefix+decls, parser.DeclarationErrors); err != nil {
		return "", "", false
	}
	return decls, src[at:], true
}
