//go:build ignore

// gen.go writes stdlib.tsv.gz: for every package and exported name that
// yaegi's standard library symbols offer, the declaration and the first
// sentence of its doc comment, read from GOROOT with go/doc. Run it with
// go generate (see doc.go) after changing Go or yaegi versions.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"log"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/traefik/yaegi/stdlib"
)

func main() {
	paths := map[string]bool{}
	for key := range stdlib.Symbols {
		if dir := path.Dir(key); dir != "." && !strings.HasPrefix(dir, "github.com/") {
			paths[dir] = true
		}
	}
	var sorted []string
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	var out bytes.Buffer
	for _, p := range sorted {
		if err := describe(&out, p); err != nil {
			log.Printf("%s: %v", p, err)
		}
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	w.Write(out.Bytes())
	w.Close()
	if err := os.WriteFile("stdlib.tsv.gz", gz.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d packages, %d bytes, %d compressed", len(sorted), out.Len(), gz.Len())
}

func describe(out *bytes.Buffer, importPath string) error {
	dir := filepath.Join(runtime.GOROOT(), "src", filepath.FromSlash(importPath))
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		return err
	}
	name := path.Base(importPath)
	astPkg := pkgs[name]
	if astPkg == nil {
		for n, p := range pkgs {
			if n != "main" && n != "documentation" {
				astPkg = p
			}
		}
	}
	if astPkg == nil {
		return fmt.Errorf("no package in %s", dir)
	}
	d := doc.New(astPkg, importPath, 0)
	line := func(name, decl, text string) {
		decl = strings.Join(strings.Fields(decl), " ")
		syn := strings.Join(strings.Fields(d.Synopsis(text)), " ")
		if len(syn) > 200 {
			syn = syn[:197] + "..."
		}
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", importPath, name, decl, syn)
	}
	line("", "package "+d.Name, d.Doc)
	funcs := func(prefix string, fs []*doc.Func) {
		for _, f := range fs {
			if !ast.IsExported(f.Name) {
				continue
			}
			f.Decl.Body = nil
			f.Decl.Doc = nil
			line(prefix+f.Name, print(fset, f.Decl), f.Doc)
		}
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, s := range v.Decl.Specs {
				vs := s.(*ast.ValueSpec)
				for _, n := range vs.Names {
					if !n.IsExported() {
						continue
					}
					decl := v.Decl.Tok.String() + " " + n.Name
					if vs.Type != nil {
						decl += " " + print(fset, vs.Type)
					}
					text := v.Doc
					if vs.Doc != nil {
						text = vs.Doc.Text()
					} else if vs.Comment != nil && text == "" {
						text = vs.Comment.Text()
					}
					line(n.Name, decl, text)
				}
			}
		}
	}
	values(d.Consts)
	values(d.Vars)
	funcs("", d.Funcs)
	for _, t := range d.Types {
		if !ast.IsExported(t.Name) {
			continue
		}
		ts := t.Decl.Specs[0].(*ast.TypeSpec)
		decl := "type " + t.Name
		switch ts.Type.(type) {
		case *ast.StructType:
			decl += " struct"
		case *ast.InterfaceType:
			decl += " interface"
		default:
			if ts.Assign.IsValid() {
				decl += " ="
			}
			decl += " " + print(fset, ts.Type)
		}
		line(t.Name, decl, t.Doc)
		values(t.Consts)
		values(t.Vars)
		funcs("", t.Funcs)
		funcs(t.Name+".", t.Methods)
	}
	return nil
}

func print(fset *token.FileSet, n any) string {
	var b bytes.Buffer
	printer.Fprint(&b, fset, n)
	return b.String()
}
