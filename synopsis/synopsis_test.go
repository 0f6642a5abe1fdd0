package synopsis

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		path, name string
		methods    bool
		decl, doc  string
		n          int // entries at least
	}{
		{"strings", "HasPrefix", false, "func HasPrefix(s, prefix string) bool", "reports whether", 1},
		{"strings", "", false, "package strings", "Package strings", 1},
		{"time", "Duration", true, "type Duration int64", "elapsed time", 5},
		{"strings", "Builder.WriteString", false, "func (b *Builder) WriteString(s string) (int, error)", "appends", 1},
		{"encoding/json", "Marshal", false, "func Marshal(v any) ([]byte, error)", "JSON encoding", 1},
		{"strings", "Nope", false, "", "", 0},
		{"nope", "", false, "", "", 0},
	} {
		got := Lookup(tc.path, tc.name, tc.methods)
		if len(got) < tc.n || tc.n == 0 && len(got) != 0 {
			t.Errorf("Lookup(%s, %s): %d entries, want %d", tc.path, tc.name, len(got), tc.n)
			continue
		}
		if tc.n > 0 && (got[0].Decl != tc.decl || !strings.Contains(got[0].Doc, tc.doc)) {
			t.Errorf("Lookup(%s, %s) = %+v, want %q, %q", tc.path, tc.name, got[0], tc.decl, tc.doc)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	for b.Loop() {
		Lookup("unicode/utf8", "RuneLen", false)
	}
}
