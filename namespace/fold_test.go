package namespace

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		width int
		want  string
	}{
		{"fits", "error: unknown command :x (try :help)", 80, "error: unknown command :x (try :help)"},
		{"unknown width", strings.Repeat("word ", 40), 0, strings.Repeat("word ", 40)},
		{"too narrow to fold", strings.Repeat("word ", 10), minFold - 1, strings.Repeat("word ", 10)},
		{"prose folds between words", "the quick brown fox jumps over the lazy dog again", 20,
			"the quick brown fox\njumps over the lazy\ndog again"},
		{"a space just past the end is a fold", "aaaa bbbb cccc ddddd eeee", 20,
			"aaaa bbbb cccc ddddd\neeee"},
		{"indented text goes on under its start", "    Fields splits the string s around each instance", 30,
			"    Fields splits the string s\n    around each instance"},
		{"a table row goes on under its second column", "  :doc      NAME: the declaration and doc line of a name", 40,
			"  :doc      NAME: the declaration and\n            doc line of a name"},
		{"a word longer than the line is cut", "see " + strings.Repeat("x", 30) + " here", 20,
			"see\n" + strings.Repeat("x", 20) + "\n" + strings.Repeat("x", 10) + " here"},
		{"each line on its own", "short\nthe quick brown fox jumps over\nend", 20,
			"short\nthe quick brown fox\njumps over\nend"},
		{"runes, not bytes", "héé héé héé héé héé héé", 20, "héé héé héé héé héé\nhéé"},
		{"a hang past half the width is dropped", strings.Repeat(" ", 15) + "aaa bbb ccc ddd eee", 24,
			strings.Repeat(" ", 15) + "aaa bbb\nccc ddd eee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fold(tt.text, tt.width)
			if got != tt.want {
				t.Errorf("Fold(%q, %d) =\n%s\nwant\n%s", tt.text, tt.width, got, tt.want)
			}
			if tt.width >= minFold {
				for _, l := range strings.Split(got, "\n") {
					if n := utf8.RuneCountInString(l); n > tt.width {
						t.Errorf("line %q is %d runes, wider than %d", l, n, tt.width)
					}
				}
			}
		})
	}
}

// FuzzFold: any text at any width folds to lines no wider than the
// width, losing no word.
func FuzzFold(f *testing.F) {
	f.Add("  :doc      NAME: the declaration and doc line", 20)
	f.Add("héé\n\n  x  y", 21)
	f.Fuzz(func(t *testing.T, text string, width int) {
		if !utf8.ValidString(text) || width > 500 {
			return
		}
		got := Fold(text, width)
		if width < minFold {
			if got != text {
				t.Fatalf("folded at width %d", width)
			}
			return
		}
		for _, l := range strings.Split(got, "\n") {
			if n := utf8.RuneCountInString(l); n > width {
				t.Fatalf("line %q is %d runes, wider than %d", l, n, width)
			}
		}
		if a, b := strings.Fields(text), strings.Fields(got); len(b) < len(a) || strings.Join(b, "") != strings.Join(a, "") {
			t.Fatalf("words changed:\n%q\n%q", text, got)
		}
	})
}
