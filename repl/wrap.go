package repl

import (
	"strings"
	"unicode/utf8"
)

// minWrap is the narrowest window the REPL folds its own text for:
// narrower, a fold leaves too little on each line to read better than the
// terminal's own wrap.
const minWrap = 20

// wrapWords folds each line of text longer than width at its last space
// that fits, as prose reads best: a terminal wraps mid-word. A folded line
// goes on under the start of its text (the doc line of :doc), or under its
// second column for a table row (:help, :vars). Spaces inside a line
// stay; a word longer than a line is cut where the line ends.
func wrapWords(text string, width int) string {
	if width < minWrap || utf8.RuneCountInString(text) <= width && !strings.Contains(text, "\n") {
		return text
	}
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		foldLine(&b, line, width)
	}
	return b.String()
}

// foldLine writes line to b, folded at width (see wrapWords).
func foldLine(b *strings.Builder, line string, width int) {
	hang := hangIndent(line)
	if hang > width/2 {
		hang = 0
	}
	pad := strings.Repeat(" ", hang)
	for k := 0; utf8.RuneCountInString(line) > width; k++ {
		cut := runeOffset(line, width) // line[:cut] fits
		from := 0                      // a fold falls after the indent
		if k > 0 {
			from = hang
		} else {
			from = len(line) - len(strings.TrimLeft(line, " \r"))
		}
		brk := strings.LastIndexByte(line[:cut+1], ' ') // a space just past the end fits too
		if brk <= from {
			brk = cut // one word longer than the line
		}
		b.WriteString(strings.TrimRight(line[:brk], " "))
		b.WriteByte('\n')
		line = pad + strings.TrimLeft(line[brk:], " ")
	}
	b.WriteString(line)
}

// hangIndent is the column a folded line goes on at: that of a table
// row's second column (a word, then two spaces or more), else that of the
// line's first word.
func hangIndent(line string) int {
	lead := len(line) - len(strings.TrimLeft(line, " "))
	rest := line[lead:]
	word := strings.IndexByte(rest, ' ')
	if word > 0 && strings.HasPrefix(rest[word:], "  ") {
		gap := len(rest[word:]) - len(strings.TrimLeft(rest[word:], " "))
		if word+gap < len(rest) {
			return utf8.RuneCountInString(line[:lead+word+gap])
		}
	}
	return utf8.RuneCountInString(line[:lead])
}

// runeOffset is the byte offset of the n-th rune of s, or len(s).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}
