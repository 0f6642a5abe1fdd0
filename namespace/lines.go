package namespace

import (
	"errors"
	"go/scanner"
	"go/token"
	"strings"
)

// exactBelow is the size under which Lines parses its whole text after
// every line, as Eval will: a hand-typed input is judged exactly as a
// parse of it would judge it, syntax errors included, at the line that
// makes them.
const exactBelow = 2 << 10

// Lines gathers the lines of one input until they form a chunk worth
// evaluating: complete, or wrong in a way more lines cannot fix. It is
// what a REPL's front asks after each line, instead of sending the whole
// text to Eval again, which made a paste of N lines cost N parses of up to
// N lines.
//
// Each line is scanned once. While the text is certainly unfinished (a
// bracket, a raw string or a comment left open, or a last token such as
// an operator or a comma after which the statement must go on) and is
// over exactBelow, Lines does not parse it: it waits until it is finished
// or has doubled in size since its last parse. So the parses of a paste
// cost at most twice its length beyond exactBelow, and a paste costs time
// linear in its length. The one difference from parsing after every line:
// a syntax error inside an open bracket of a large paste is reported when
// the bracket closes or the text has doubled, not at its own line.
//
// The zero Lines is empty and ready to use.
type Lines struct {
	b        strings.Builder
	parsedAt int // length of the text at its last parse

	// What the scan of the lines so far found.
	stack   []token.Token // open brackets: LPAREN, LBRACK or LBRACE
	inRaw   bool          // inside a raw string literal
	inBlock bool          // inside a general comment
	last    token.Token   // the last token, automatic semicolons aside
	first   token.Token   // the first token; ILLEGAL before any
	dirty   bool          // something only a parse judges: a scan error, a mismatched bracket, a reserved identifier
}

// Add appends line (without its newline) and reports whether the text is
// now ready for Eval: complete, or an error that more lines cannot mend.
// When it is not, the input goes on at a continuation prompt.
func (l *Lines) Add(line string) bool {
	l.b.WriteString(line)
	l.b.WriteByte('\n')
	l.scan(line)
	return l.judge()
}

// judge parses the text unless it is certainly unfinished and large.
func (l *Lines) judge() bool {
	n := l.b.Len()
	if l.open() && n >= exactBelow && n < 2*l.parsedAt {
		return false
	}
	l.parsedAt = n
	_, err := parseChunk(l.b.String())
	return !errors.Is(err, ErrIncomplete)
}

// open reports whether the scan alone shows that the text goes on: no
// parse of it can succeed. A parse can still fail otherwise (a syntax
// error before the open bracket), which only a parse sees.
func (l *Lines) open() bool {
	if l.dirty {
		return false
	}
	if len(l.stack) > 0 || l.inRaw || l.inBlock {
		return true
	}
	return continues[l.last]
}

// continues holds the tokens after which a statement cannot end: binary
// and unary operators, assignments, a comma, a dot.
var continues = map[token.Token]bool{}

func init() {
	for _, t := range []token.Token{
		token.ADD, token.SUB, token.MUL, token.QUO, token.REM, token.AND, token.OR, token.XOR,
		token.SHL, token.SHR, token.AND_NOT, token.LAND, token.LOR, token.ARROW, token.NOT, token.TILDE,
		token.EQL, token.LSS, token.GTR, token.NEQ, token.LEQ, token.GEQ,
		token.ASSIGN, token.DEFINE, token.ADD_ASSIGN, token.SUB_ASSIGN, token.MUL_ASSIGN, token.QUO_ASSIGN,
		token.REM_ASSIGN, token.AND_ASSIGN, token.OR_ASSIGN, token.XOR_ASSIGN, token.SHL_ASSIGN,
		token.SHR_ASSIGN, token.AND_NOT_ASSIGN, token.COMMA, token.PERIOD,
	} {
		continues[t] = true
	}
}

// scan updates the scan state with one more line.
func (l *Lines) scan(line string) {
	if l.dirty {
		return
	}
	rest := line
	for {
		switch {
		case l.inRaw:
			i := strings.IndexByte(rest, '`')
			if i < 0 {
				return
			}
			l.inRaw, l.last, rest = false, token.STRING, rest[i+1:]
			continue
		case l.inBlock:
			i := strings.Index(rest, "*/")
			if i < 0 {
				return
			}
			l.inBlock, rest = false, rest[i+2:]
			continue
		}
		break
	}

	var s scanner.Scanner
	var scanErr string
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(rest)), []byte(rest), func(_ token.Position, msg string) {
		if scanErr == "" {
			scanErr = msg
		}
	}, 0)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit != ";" {
			continue // inserted at the end of the line
		}
		if l.first == token.ILLEGAL {
			l.first = tok
			if tok == token.PACKAGE {
				l.dirty = true
			}
		}
		l.last = tok
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			l.stack = append(l.stack, tok)
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(l.stack) == 0 || l.stack[len(l.stack)-1] != opening[tok] {
				l.dirty = true
				return
			}
			l.stack = l.stack[:len(l.stack)-1]
		case token.IDENT:
			if strings.HasPrefix(lit, reservedPrefix) {
				l.dirty = true
			}
		}
	}
	switch scanErr {
	case "":
	case "raw string literal not terminated":
		l.inRaw = true
	case "comment not terminated":
		l.inBlock = true
	default:
		l.dirty = true
	}
}

var opening = map[token.Token]token.Token{token.RPAREN: token.LPAREN, token.RBRACK: token.LBRACK, token.RBRACE: token.LBRACE}

// String returns the text gathered so far, each line ended by a newline.
func (l *Lines) String() string { return l.b.String() }

// Len returns the length of the text gathered so far.
func (l *Lines) Len() int { return l.b.Len() }

// Reset empties l.
func (l *Lines) Reset() { *l = Lines{} }

// SetText replaces the text with text (lines each ended by a newline, as
// String returns them), as carried from another process. It scans but
// does not parse: the next Add judges.
func (l *Lines) SetText(text string) {
	l.Reset()
	for line := range strings.SplitSeq(strings.TrimSuffix(text, "\n"), "\n") {
		if text == "" {
			break
		}
		l.b.WriteString(line)
		l.b.WriteByte('\n')
		l.scan(line)
	}
	l.parsedAt = l.b.Len()
}
