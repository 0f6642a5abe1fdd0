package repl

import (
	"strings"
	"testing"
)

// TestTab: what a client in character mode sees when it presses Tab.
func TestTab(t *testing.T) {
	for _, tc := range []struct {
		name, typed string
		want        []string // in order, in what the client sees
	}{
		{"completes a variable", "counter := 41\rcou\t + 1\r:quit\r",
			[]string{"counter + 1\r\n42\r\n"}},
		{"the common prefix, then a list on the second Tab",
			"import \"strings\"\rstrings.Has\t\t\x15:quit\r",
			[]string{"\a", ">>> strings.Has\r\nHasPrefix  HasSuffix\r\n>>> strings.Has"}},
		{"an import path, closed", "import \"encoding/js\t\r:imports\r",
			[]string{`"encoding/json"` + "\r\n>>> "}},
		{"meta-commands", ":imp\t\r", []string{"no imports"}},
		{"Tab on an indented line does nothing", "\t1 + 1\r:quit\r", []string{"1 + 1\r\n2\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client := charSession(t, testServer(t), tc.typed)
			if !strings.HasSuffix(tc.typed, ":quit\r") {
				client.Write([]byte(":quit\r"))
			}
			got := readAll(t, client)
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("client saw %q, lacking %q", got, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestColumns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		width int
		want  string
	}{
		{"one row", []string{"a", "bb", "c"}, 80, "a   bb  c\n"},
		{"wide names", []string{"alpha", "beta", "gamma"}, 16, "alpha  gamma\nbeta\n"},
		{"down then across", []string{"a", "b", "c", "d", "e"}, 10, "a  c  e\nb  d\n"},
		{"narrower than a name", []string{"alpha", "beta"}, 3, "alpha\nbeta\n"},
		{"none", nil, 80, ""},
	} {
		if got := columns(tc.names, tc.width); got != tc.want {
			t.Errorf("%s: columns = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCompleteFrom(t *testing.T) {
	for _, tc := range []struct {
		word, prefix string
		n            int
	}{
		{":", ":", len(commands)},
		{":he", ":help", 1},
		{":x", "", 0},
	} {
		var names []string
		for _, c := range commands {
			names = append(names, ":"+c.name)
		}
		c := completeFrom(tc.word, names)
		if c.Prefix != tc.prefix || len(c.Candidates) != tc.n || c.Total != tc.n {
			t.Errorf("completeFrom(%q) = %+v, want prefix %q and %d", tc.word, c, tc.prefix, tc.n)
		}
	}
}

// TestCommands: :type, :doc and :history, as a client sees them.
func TestCommands(t *testing.T) {
	_, addr := lineServer(t, Config{})
	c := dialLine(t, addr)
	c.expect("username: ")
	c.login()
	for _, step := range []struct{ send, want string }{
		{`import "strings"`, ">>> "},
		{"type Point struct{ X, Y int }", ">>> "},
		{"n := 0", ">>> "},
		{"func bump() int { n++; return n }", ">>> "},
		{"p := Point{1, 2}", ">>> "},
		{":type p", "Point\r\n>>> "},
		{":type p.X * 2", "int\r\n>>> "},
		{":type bump()", "int\r\n>>> "},
		{":type bump() + 1", "calls a function"},
		{"n", "0\r\n>>> "},
		{":type", "error: :type EXPR"},
		{":doc strings.HasPrefix", "func HasPrefix(s, prefix string) bool\r\n    HasPrefix reports whether"},
		{":doc strings", "package strings"},
		{":doc encoding/json.Marshal", "func Marshal(v any) ([]byte, error)"},
		{":doc time.Duration", "func (d Duration) String() string"},
		{":doc nope.Nope", "no documentation for nope.Nope"},
		{":history 2", "   15  :doc time.Duration\r\n   16  :doc nope.Nope\r\n>>> "},
	} {
		c.send(step.send + "\r\n")
		c.expect(step.want)
	}
}
