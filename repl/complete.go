package repl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"translucent/namespace"
)

// Tab completion, as shells do it: the first Tab puts in the longest
// beginning every candidate shares; a Tab that can add nothing rings the
// bell, and a second one lists the candidates below the line, then the
// prompt and the line are drawn again. Only clients in character mode
// (server-side editing) have it: a client in line mode sends the line
// whole, Tab included.

// maxListed bounds the candidates a second Tab lists.
const maxListed = 100

// completeFunc answers what may complete the word ending at byte pos of
// line; nil when there is nothing to ask (not logged in yet).
type completeFunc func(line string, pos int) namespace.Completion

// completer is implemented by namespaces that can complete
// (namespace.Namespace, worker.Namespace).
type completer interface {
	Complete(src string, pos int) namespace.Completion
}

// maxChunkContext bounds the earlier lines of an unfinished input that
// completion is given (an `import (` block, say).
const maxChunkContext = 4 << 10

// complete answers Tab for the session: meta-command names after a
// leading ':', otherwise what the namespace says, given the lines of the
// input typed so far for context. It runs on the session's goroutine,
// inside ReadLine, so no evaluation is running.
func (s *Session) complete(line string, pos int) namespace.Completion {
	if s.ns == nil { // logging in
		return namespace.Completion{Start: pos}
	}
	if strings.HasPrefix(line, ":") && !strings.ContainsAny(line[:pos], " \t") {
		var names []string
		for _, c := range commands {
			names = append(names, ":"+c.name)
		}
		return completeFrom(line[:pos], names)
	}
	c, ok := s.ns.(completer)
	if !ok {
		return namespace.Completion{Start: pos}
	}
	ctx := s.chunk.String()
	if len(ctx) > maxChunkContext {
		ctx = ""
	}
	got := c.Complete(ctx+line, len(ctx)+pos)
	got.Start -= len(ctx)
	if got.Start < 0 || got.Start > pos {
		return namespace.Completion{Start: pos}
	}
	return got
}

// completeFrom completes word from names, all of it being the word.
func completeFrom(word string, names []string) namespace.Completion {
	c := namespace.Completion{}
	for _, n := range names {
		if !strings.HasPrefix(n, word) {
			continue
		}
		if len(c.Candidates) == 0 {
			c.Prefix = n
		}
		for !strings.HasPrefix(n, c.Prefix) {
			_, size := utf8.DecodeLastRuneInString(c.Prefix)
			c.Prefix = c.Prefix[:len(c.Prefix)-size]
		}
		c.Candidates = append(c.Candidates, n)
	}
	c.Total = len(c.Candidates)
	return c
}

// tab is the editor's answer to a key: for Tab, the line completed, or
// the candidates listed; any other key is left to x/term. It runs inside
// term.Terminal's ReadLine, with the terminal's lock released.
func (e *charEditor) tab(line string, pos int, key rune) (string, int, bool) {
	if key >= keyRecallUp && key <= keyReplay {
		e.tabbed = false
		return e.recallKey(line, pos, key)
	}
	if key != '\t' || e.complete == nil {
		e.tabbed = false
		return "", 0, false
	}
	again := e.tabbed
	e.tabbed = false
	c := e.complete(line, pos)
	if c.Start < 0 || c.Start > pos {
		return "", 0, false
	}
	word := line[c.Start:pos]
	// Tab after a blank, with nothing to complete (an indented line, a
	// paste): x/term drops it, as before completion.
	if word == "" && (c.Start == 0 || !strings.ContainsRune(".\"", rune(line[c.Start-1]))) {
		return "", 0, false
	}
	if len(c.Candidates) == 0 {
		e.bell()
		return "", 0, false
	}
	if len(c.Prefix) > len(word) && strings.HasPrefix(c.Prefix, word) {
		add := c.Prefix[len(word):]
		if len(c.Candidates) == 1 && c.Total == 1 && c.Start > 0 && line[c.Start-1] == '"' && !strings.HasPrefix(line[pos:], `"`) {
			add += `"` // an import path, whole
		}
		return line[:pos] + add + line[pos:], pos + len(add), true
	}
	if len(c.Candidates) == 1 {
		return "", 0, false // complete already
	}
	if !again {
		e.tabbed = true
		e.bell()
		return "", 0, false
	}
	e.list(line, c)
	return "", 0, false
}

// bell rings the client's bell, past the terminal: it moves no cursor.
func (e *charEditor) bell() { e.rw.Write([]byte("\a")) }

// list writes the candidates in columns below the line as it is; the
// terminal then draws the prompt and the line again beneath them.
func (e *charEditor) list(line string, c namespace.Completion) {
	e.mu.Lock()
	width, prompt, t := e.width, e.prompt, e.t
	e.mu.Unlock()
	var b strings.Builder
	b.WriteString(prompt + line + "\n")
	b.WriteString(columns(c.Candidates[:min(len(c.Candidates), maxListed)], width))
	if more := c.Total - min(len(c.Candidates), maxListed); more > 0 {
		fmt.Fprintf(&b, "(%s more: type more of the name)\n", plural(more, "candidate"))
	}
	t.Write([]byte(b.String()))
}

// columns lays names out in columns, down then across, as ls does, within
// width.
func columns(names []string, width int) string {
	if len(names) == 0 {
		return ""
	}
	longest := 0
	for _, n := range names {
		longest = max(longest, utf8.RuneCountInString(n))
	}
	colWidth := longest + 2
	cols := max(1, min(len(names), (width-1)/colWidth))
	rows := (len(names) + cols - 1) / cols
	var b strings.Builder
	for r := range rows {
		for col := range cols {
			k := col*rows + r
			if k >= len(names) {
				break
			}
			n := names[k]
			b.WriteString(n)
			if col < cols-1 && (col+1)*rows+r < len(names) {
				b.WriteString(strings.Repeat(" ", colWidth-utf8.RuneCountInString(n)))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
