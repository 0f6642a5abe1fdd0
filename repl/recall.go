package repl

import (
	"bytes"
	"io"
	"strings"
)

// Up and Down are the editor's, not x/term's: x/term edits one line and
// would recall a multi-line input (a func, a loop, kept whole in the
// history: history.endInput) as one line with newlines in it, drawn wrong.
// The editor's reader turns the two keys into runes of Unicode's private
// use area, which x/term hands to charEditor.tab (its
// AutoCompleteCallback) as keys it does not know; tab answers with the
// line to show. A multi-line entry is recalled at its first line; each
// Enter then brings its next line at the `... ` prompt, to edit or keep,
// until the input is whole, and it runs as one, as it was typed.
const (
	keyRecallUp   = '\ue000'
	keyRecallDown = '\ue001'
	keyReplay     = '\ue002' // injected: the next line of a recalled block
)

var (
	seqUp   = []byte("\x1b[A") // after translateKeys, in either mode
	seqDown = []byte("\x1b[B")
)

// recallReader is the editor's side of the client's input: Up and Down
// become keyRecallUp and keyRecallDown (the same length in UTF-8), and
// what inject holds is read first. Used by ReadLine's goroutine only.
type recallReader struct {
	r      io.Reader
	inject []byte
	held   []byte // a trailing ESC or ESC [ that may begin Up or Down
}

func (rr *recallReader) Read(p []byte) (int, error) {
	if len(rr.inject) > 0 {
		n := copy(p, rr.inject)
		rr.inject = rr.inject[n:]
		return n, nil
	}
	n := copy(p, rr.held)
	rr.held = rr.held[:0]
	var err error
	if n < len(p) {
		var m int
		m, err = rr.r.Read(p[n:])
		n += m
	}
	b := p[:n]
	// A sequence cut by the read is held for the next (x/term, given its
	// beginning, would wait for the rest and take it as its own Up).
	if k := bytes.LastIndexByte(b, '\x1b'); err == nil && k >= 0 && len(b)-k < len(seqUp) && bytes.HasPrefix(seqUp, b[k:]) {
		rr.held = append(rr.held, b[k:]...)
		b = b[:k]
	}
	up, down := string(keyRecallUp), string(keyRecallDown)
	for _, s := range []struct {
		from []byte
		to   string
	}{{seqUp, up}, {seqDown, down}} {
		for k := bytes.Index(b, s.from); k >= 0; k = bytes.Index(b, s.from) {
			copy(b[k:], s.to)
		}
	}
	if len(b) > 0 {
		err = nil // reported by the next Read, which reads nothing more
	}
	return len(b), err
}

// recallState is where Up and Down are in the history, and the lines of a
// recalled block still to come. Used by ReadLine's goroutine only.
type recallState struct {
	index   int    // the entry shown, 0 the newest; -1 the line being typed
	pending string // the line being typed, kept while another is shown
	replay  []string
}

// recallKey answers keyRecallUp, keyRecallDown and keyReplay for x/term:
// the line to show in place of line, or line as it is (x/term would
// insert a key it was not given a line for).
func (e *charEditor) recallKey(line string, pos int, key rune) (string, int, bool) {
	st := &e.recall
	same := func() (string, int, bool) { return line, pos, true }
	switch key {
	case keyReplay:
		if len(st.replay) == 0 {
			return same()
		}
		next := st.replay[0]
		st.replay = st.replay[1:]
		return next, len(next), true
	case keyRecallUp:
		if st.index+1 >= e.history.Len() {
			return same()
		}
		if st.index == -1 {
			st.pending = line
		}
		st.index++
	case keyRecallDown:
		if st.index < 0 {
			return same()
		}
		st.index--
		st.replay = nil
		if st.index == -1 {
			return st.pending, len(st.pending), true
		}
	}
	lines := strings.Split(e.history.At(st.index), "\n")
	st.replay = lines[1:]
	return lines[0], len(lines[0]), true
}

// startLine is called as ReadLine begins: a new input forgets a block
// being replayed, a continuation line of one is filled in with its next
// line.
func (e *charEditor) startLine(prompt string) {
	st := &e.recall
	st.index, st.pending = -1, ""
	if prompt != promptContinue {
		st.replay = nil
	}
	if len(st.replay) > 0 {
		e.reader.inject = append(e.reader.inject[:0], string(keyReplay)...)
	}
}
