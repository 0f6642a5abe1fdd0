// Package synopsis answers :doc offline: the declaration and the first
// sentence of the documentation of each package and exported name of the
// standard library that sessions can import, generated at build time from
// GOROOT by go/doc (gen.go) into stdlib.tsv.gz, which is embedded.
//
// The table is about 200 KiB compressed. Nothing of it stays in memory:
// each Lookup reads it through once (a few milliseconds), since :doc is
// rare and the front's memory is everyone's.
package synopsis

//go:generate go run gen.go

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
)

//go:embed stdlib.tsv.gz
var table []byte

// An Entry is one package or exported name.
type Entry struct {
	Path string // import path
	Name string // "" for the package; Type.Method for a method
	Decl string // its declaration, on one line: func HasPrefix(s, prefix string) bool
	Doc  string // the first sentence of its documentation
}

// Lookup returns the entries of path whose name is name ("" for the
// package itself), and, for a type, those of its methods when methods is
// set. It reports false when there are none.
func Lookup(path, name string, methods bool) []Entry {
	zr, err := gzip.NewReader(bytes.NewReader(table))
	if err != nil {
		return nil
	}
	var found []Entry
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	prefix := path + "\t"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			if len(found) > 0 {
				break // a package's lines are together
			}
			continue
		}
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			continue
		}
		if f[1] == name || methods && name != "" && strings.HasPrefix(f[1], name+".") {
			found = append(found, Entry{Path: f[0], Name: f[1], Decl: f[2], Doc: f[3]})
		}
	}
	return found
}
