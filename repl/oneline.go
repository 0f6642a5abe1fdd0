package repl

import (
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
	"unicode/utf8"
)

// oneLine rewrites a multi-line input as one line that means the same to
// Go, for the history: the line editor (golang.org/x/term) edits a single
// line, and a block recalled one line at a time cannot be run again.
//
// A newline is where Go inserts a semicolon (the spec's rule, applied by
// go/scanner) or else mere white space, so each newline becomes "; " or " ".
// What a newline would end or change otherwise is rewritten too: a line
// comment becomes a general one, a raw string that spans lines an
// interpreted one with the same value. It reports false for input it cannot
// scan, or that would not fit the editor's line.
func oneLine(src string) (string, bool) {
	src = strings.TrimRight(src, "\n") // no semicolon at the very end
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	ok := true
	s.Init(file, []byte(src), func(token.Position, string) { ok = false }, scanner.ScanComments)
	var b strings.Builder
	end := 0 // of the last token written, in src
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF || !ok {
			break
		}
		off := file.Offset(pos)
		if tok == token.SEMICOLON && lit == "\n" { // inserted at a newline
			if off < len(src) {
				b.WriteString(";")
			}
			continue // the white space before it is written with the next token
		}
		text := lit
		if text == "" {
			text = tok.String() // an operator or delimiter
		}
		gap := src[end:off]
		end = off + len(text)
		if tok == token.COMMENT && strings.HasPrefix(lit, "//") && strings.Contains(lit, "*/") {
			continue // cannot be a general comment: left out
		}
		if strings.Contains(gap, "\n") {
			gap = " "
		}
		if b.Len() > 0 {
			b.WriteString(gap)
		}
		switch {
		case tok == token.COMMENT && strings.HasPrefix(lit, "//"):
			b.WriteString("/*" + lit[2:] + " */")
		case tok == token.COMMENT:
			b.WriteString(strings.ReplaceAll(lit, "\n", " "))
		case tok == token.STRING && lit[0] == '`' && strings.Contains(lit, "\n"):
			b.WriteString(strconv.Quote(lit[1 : len(lit)-1]))
		default:
			b.WriteString(text)
		}
	}
	line := b.String()
	if !ok || utf8.RuneCountInString(line) >= maxCharLine {
		return "", false
	}
	return line, true
}
