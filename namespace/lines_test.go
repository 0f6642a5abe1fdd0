package namespace

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// reparse is how the REPL judged input before Lines: a parse of all the
// text after every line.
func reparse(text string) bool {
	_, err := parseChunk(text)
	return !errors.Is(err, ErrIncomplete)
}

// verdicts feeds lines to l and returns "r" (ready) or "." (go on) for each.
func verdicts(l *Lines, lines []string) string {
	var b strings.Builder
	for _, line := range lines {
		if l.Add(line) {
			b.WriteByte('r')
			l.Reset()
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// oldVerdicts is verdicts by reparse.
func oldVerdicts(lines []string) string {
	var b, text strings.Builder
	for _, line := range lines {
		text.WriteString(line + "\n")
		if reparse(text.String()) {
			b.WriteByte('r')
			text.Reset()
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// slice returns the lines of a slice literal of n elements.
func slice(n int) []string {
	lines := []string{"xs := []int{"}
	for i := range n {
		lines = append(lines, fmt.Sprintf("\t%d,", i))
	}
	return append(lines, "}")
}

var linesTable = []struct {
	name, src, want string
}{
	{"expression", "1 + 1", "r"},
	{"empty line", "", "r"},
	{"open brace", "func f() {\nreturn\n}", "..r"},
	{"slice literal", "xs := []int{\n1,\n2,\n}", "...r"},
	{"call over lines", "f(\n1,\n2)", "..r"},
	{"operator at the end", "x := 1 +\n2", ".r"},
	{"comma at the end", "a, b :=\n1, 2", ".r"},
	{"raw string", "s := `a\nb\n`", "..r"},
	{"raw string with brace", "s := `{\n`", ".r"},
	{"block comment", "/* a\nb */ x := 1", ".r"},
	{"comment with backquote", "/* ` \n*/", ".r"},
	{"syntax error at once", "f(1 2\n3)", "rr"},
	{"error inside a literal", "xs := []int{\n1 2,\n3,\n}", ".rrr"},
	{"mismatched bracket", "xs := []int{\n1)", ".r"},
	{"closing brace alone", "}", "r"},
	{"label", "L:", "r"},
	{"explicit semicolon", "x := 1;", "r"},
	{"reserved name inside", "xs := []int{\n__tr_x,\n}", ".rr"},
	{"package clause", "package main", "r"},
	{"interpreted string unterminated", "s := \"abc\nd", "rr"},
	{"import block", "import (\n\"fmt\"\n)", "..r"},
	{"func literal called", "func() {\n}()", ".r"},
	{"two statements", "x := 1\ny := 2", "rr"},
	{"comment after an operator", "x := 1 + // }\n2", "rr"},
}

// TestLines checks that Lines judges each line as a parse of the whole
// text does.
func TestLines(t *testing.T) {
	for _, tc := range linesTable {
		lines := strings.Split(tc.src, "\n")
		if old := oldVerdicts(lines); old != tc.want {
			t.Errorf("%s: a parse after every line gives %q, the table says %q", tc.name, old, tc.want)
		}
		var l Lines
		if got := verdicts(&l, lines); got != tc.want {
			t.Errorf("%s: Lines gives %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLinesLarge checks a paste past exactBelow: ready only at its end,
// and with the same text as was added.
func TestLinesLarge(t *testing.T) {
	lines := slice(5000)
	var l Lines
	for i, line := range lines {
		if ready := l.Add(line); ready != (i == len(lines)-1) {
			t.Fatalf("line %d of %d: ready %v", i+1, len(lines), ready)
		}
	}
	if want := strings.Join(lines, "\n") + "\n"; l.String() != want {
		t.Fatalf("text differs from what was added")
	}
	if reparse(l.String()) != true {
		t.Fatalf("the whole paste does not parse")
	}
}

// TestLinesLargeError checks that a syntax error inside a large open
// literal is reported once the text has doubled, not at the end.
func TestLinesLargeError(t *testing.T) {
	lines := slice(20000)
	bad := 1000 // past exactBelow
	lines[bad] = "\t1 2,"
	var l Lines
	for i, line := range lines {
		if l.Add(line) {
			if i == len(lines)-1 || l.Len() > 2*len(strings.Join(lines[:bad+1], "\n"))+2*exactBelow {
				t.Fatalf("error at line %d reported at line %d of %d", bad+1, i+1, len(lines))
			}
			if reparse(l.String()) != true {
				t.Fatalf("ready at line %d but a parse says incomplete", i+1)
			}
			return
		}
	}
	t.Fatalf("error at line %d never reported", bad+1)
}

// TestLinesSetText checks that text carried from another process goes on
// as if its lines had been added here.
func TestLinesSetText(t *testing.T) {
	lines := slice(3000)
	var a, b Lines
	for _, line := range lines[:2000] {
		a.Add(line)
	}
	b.SetText(a.String())
	for _, line := range lines[2000:] {
		if ra, rb := a.Add(line), b.Add(line); ra != rb {
			t.Fatalf("after SetText, %q: ready %v, want %v", line, rb, ra)
		}
	}
	if a.String() != b.String() {
		t.Fatal("texts differ")
	}
	var e Lines
	e.SetText("")
	if e.Len() != 0 {
		t.Fatal("SetText of nothing is not empty")
	}
}

// FuzzLines compares Lines with a parse after every line. Under
// exactBelow they agree exactly. With the scan trusted at any size
// (exact = 0), Lines may wait where a parse sees an error, but it never
// waits on a text that parses, and its ready is a parse's.
func FuzzLines(f *testing.F) {
	for _, tc := range linesTable {
		f.Add(tc.src, false)
	}
	f.Add("xs := map[string]int{\n\"a\": 1,\n}\nx := 2", true)
	f.Add("func f() {\n\tif x {\n\t\treturn `\n}`\n\t}\n}", true)
	f.Fuzz(func(t *testing.T, src string, large bool) {
		lines := strings.Split(src, "\n")
		var text strings.Builder
		var l Lines
		for i, line := range lines {
			text.WriteString(line + "\n")
			old := reparse(text.String())
			var got bool
			if large {
				got = l.addScanned(line)
			} else {
				got = l.Add(line)
			}
			switch {
			case got == old:
			case !large && text.Len() < exactBelow:
				t.Fatalf("line %d of %q: Lines says ready %v, a parse %v", i+1, src, got, old)
			case got:
				t.Fatalf("line %d of %q: Lines ready where a parse says incomplete", i+1, src)
			default:
				if _, err := parseChunk(text.String()); err == nil {
					t.Fatalf("line %d of %q: Lines waits on a text that parses", i+1, src)
				}
			}
			if got || old {
				l.Reset()
				text.Reset()
			}
		}
	})
}

// addScanned is Add trusting the scan at any size, as Add does past
// exactBelow.
func (l *Lines) addScanned(line string) bool {
	l.b.WriteString(line)
	l.b.WriteByte('\n')
	l.scan(line)
	if l.open() {
		return false
	}
	l.parsedAt = l.b.Len()
	return reparse(l.b.String())
}

// BenchmarkPaste times judging every line of a pasted slice literal of
// n lines: Lines against a parse of the whole text after each line.
//
//	go test -run '^$' -bench Paste -benchtime 1x ./namespace/
func BenchmarkPaste(b *testing.B) {
	for _, n := range []int{1000, 4000, 16000} {
		lines := slice(n)
		b.Run(fmt.Sprintf("lines=%d/incremental", n), func(b *testing.B) {
			for b.Loop() {
				var l Lines
				for _, line := range lines {
					l.Add(line)
				}
			}
		})
		b.Run(fmt.Sprintf("lines=%d/reparse", n), func(b *testing.B) {
			for b.Loop() {
				oldVerdicts(lines)
			}
		})
	}
}
