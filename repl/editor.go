package repl

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// errLineTooLong is returned for a line over the editor's limit; the line is
// discarded, the session goes on.
var errLineTooLong = errors.New("repl: line too long")

const (
	// maxCharLine is golang.org/x/term's own limit (it silently drops
	// keys beyond 4096 runes); a line that reaches it is refused rather than
	// evaluated truncated.
	maxCharLine = 4096
	// maxRawLine bounds a line from a client in plain line mode.
	maxRawLine = 64 << 10
	// historySize bounds the history kept per session.
	historySize = 500
)

// An editor reads lines from the client and writes to it. Write may be
// called from any goroutine, also while ReadLine waits.
type editor interface {
	io.Writer
	ReadLine(prompt string) (string, error)
	ReadPassword(prompt string) (string, error)
	SetSize(width, height int)
}

// charEditor edits lines on the server side (the client sends each key and
// does not echo): arrow keys, history, Ctrl-U, Ctrl-W and the rest of
// golang.org/x/term.
type charEditor struct {
	rw      io.ReadWriter
	history *history

	// complete answers Tab (nil: no completion); tabbed says the last key
	// was a Tab that could add nothing, so that the next one lists. Both
	// are used only by the goroutine in ReadLine.
	complete completeFunc
	tabbed   bool

	// reader is the client's input as the terminal reads it, and recall
	// the state of Up and Down (recall.go); used by ReadLine's goroutine.
	reader *recallReader
	recall recallState

	mu            sync.Mutex
	t             *term.Terminal // replaced after Ctrl-C; guarded by mu
	width, height int            // guarded by mu
	prompt        string         // of the line being read; guarded by mu
}

func newCharEditor(in io.Reader, out io.Writer, h *history) *charEditor {
	r := &recallReader{r: in}
	e := &charEditor{rw: struct {
		io.Reader
		io.Writer
	}{r, out}, history: h, width: 80, height: 24, reader: r, recall: recallState{index: -1}}
	e.t = e.newTerminalLocked()
	return e
}

func (e *charEditor) newTerminalLocked() *term.Terminal {
	t := term.NewTerminal(e.rw, "")
	t.History = e.history
	t.AutoCompleteCallback = e.tab
	t.SetSize(e.width, e.height)
	return t
}

func (e *charEditor) terminal() *term.Terminal {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.t
}

func (e *charEditor) ReadLine(prompt string) (string, error) {
	e.mu.Lock()
	t := e.t
	e.prompt = prompt
	e.mu.Unlock()
	e.startLine(prompt)
	t.SetPrompt(prompt)
	line, err := t.ReadLine()
	return e.finish(line, err)
}

func (e *charEditor) ReadPassword(prompt string) (string, error) {
	line, err := e.terminal().ReadPassword(prompt)
	return e.finish(line, err)
}

func (e *charEditor) finish(line string, err error) (string, error) {
	if errors.Is(err, errInterrupt) {
		e.recall.replay = nil
		// The terminal still holds the abandoned line and offers no way to
		// clear it: start a fresh one (the history is ours and stays).
		e.mu.Lock()
		e.rw.Write([]byte("^C\r\n")) // past the terminal, which would redraw the line

		e.t = e.newTerminalLocked()
		e.mu.Unlock()
		return "", errInterrupt
	}
	if err == io.EOF {
		// Ctrl-D on an empty line: the user is leaving. The terminal still
		// shows the prompt and would redraw it below whatever is written
		// next ("bye"): end its line and start a fresh one.
		e.mu.Lock()
		e.rw.Write([]byte("\r\n"))
		e.t = e.newTerminalLocked()
		e.mu.Unlock()
		return "", err
	}
	if err == nil && utf8.RuneCountInString(line) >= maxCharLine {
		return "", errLineTooLong
	}
	return line, err
}

func (e *charEditor) Write(p []byte) (int, error) { return e.terminal().Write(p) }

func (e *charEditor) SetSize(width, height int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.width, e.height = width, height
	e.t.SetSize(width, height)
}

// lineEditor serves clients that never negotiated (nc, scripts): they edit
// and echo the line themselves and send it whole.
type lineEditor struct {
	in   io.Reader
	out  io.Writer
	echo func([]byte) // given each line read, as the client showed it when typed (not passwords); nil: none
}

func (e *lineEditor) ReadLine(prompt string) (string, error) {
	line, err := e.readLine(prompt)
	if err == nil && e.echo != nil {
		e.echo([]byte(line + "\r\n"))
	}
	return line, err
}

func (e *lineEditor) readLine(prompt string) (string, error) {
	if _, err := io.WriteString(e.out, prompt); err != nil {
		return "", err
	}
	var line []byte
	tooLong := false
	b := make([]byte, 512)
	for {
		n, err := e.in.Read(b)
		if err != nil {
			return "", err
		}
		chunk := b[:n]
		if len(line) == 0 && chunk[0] == keyCtrlD {
			// The end of the input (IAC EOF, from the SSH relay when its
			// client closed its side): as Ctrl-D is to charEditor.
			return "", io.EOF
		}
		end := chunk[n-1] == keyEnter
		if end {
			chunk = chunk[:n-1]
		}
		if len(line)+len(chunk) > maxRawLine {
			tooLong = true
			line = line[:0]
		}
		if !tooLong {
			line = append(line, chunk...)
		}
		if end {
			break
		}
	}
	if tooLong {
		return "", errLineTooLong
	}
	return string(bytes.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, line)), nil
}

// ReadPassword cannot hide the password: such a client echoes locally.
func (e *lineEditor) ReadPassword(prompt string) (string, error) { return e.readLine(prompt) }

func (e *lineEditor) Write(p []byte) (int, error) {
	if _, err := e.out.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *lineEditor) SetSize(int, int) {}

// history is a session's bounded input history, most recent first. It
// implements term.History and is exported with the session's state.
type history struct {
	mu      sync.Mutex
	entries []string // oldest first; guarded by mu

	// The lines of the input being typed, which the editor adds one by
	// one, are counted from markInput so that endInput can put the whole
	// input in their place. Not carried by a migration: an input begun in
	// another process keeps its first lines as they are.
	marked bool // guarded by mu
	added  int  // entries added since markInput; guarded by mu

	// added is the newest entries typed since the user logged in: what
	// logging out adds to the history file (home.go). Carried by a
	// migration.
	typed int // guarded by mu

	mark listMark // since a migration's precopy took the entries (tail.go); guarded by mu
}

func (h *history) Add(entry string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLocked(entry)
}

func (h *history) addLocked(entry string) {
	if entry == "" || len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry {
		return
	}
	h.entries = append(h.entries, entry)
	h.added++
	h.typed++
	if n := len(h.entries) - historySize; n > 0 {
		h.entries = append([]string(nil), h.entries[n:]...)
		h.mark.drop(n)
	}
	h.typed = min(h.typed, len(h.entries))
}

// markInput is called before the first line of an input is read.
func (h *history) markInput() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.marked, h.added = true, 0
}

// endInput replaces the lines added since markInput with entry, the
// input they made up, so that Up recalls it whole.
func (h *history) endInput(entry string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.marked {
		n := min(h.added, len(h.entries))
		h.entries = h.entries[:len(h.entries)-n]
		h.mark.cut(len(h.entries))
		h.typed = max(0, h.typed-n)
	}
	h.marked = false
	h.addLocked(entry)
}

func (h *history) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

func (h *history) At(i int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entries[len(h.entries)-1-i]
}

// load replaces the history with entries from the user's file: none of
// them typed in this session.
func (h *history) load(entries []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = boundHistory(append(entries, h.entries...))
	h.typed = 0
	h.marked = false
	h.mark = listMark{}
}

// fresh returns the entries typed since login, oldest first.
func (h *history) fresh() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.entries[len(h.entries)-h.typed:]...)
}

func (h *history) typedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.typed
}

// precopy returns the history, oldest first, and follows it from now on
// for a pause to send as a tail, if its bytes can be taken from budget;
// otherwise nil, and the pause sends it whole.
func (h *history) precopy(budget *ListBudget) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mark = listMark{}
	if !take(budget, recordSize(h.entries)) {
		return nil
	}
	h.mark.set(len(h.entries))
	return append([]string(nil), h.entries...)
}

// export returns the history as a pause sends it: a tail after the
// precopy's first skip entries when tails, else whole (skip nil); and how
// many of its newest entries were typed since login.
func (h *history) export(tails bool) (entries []string, skip *int, typed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, tail, ok := h.mark.tail(h.entries); tails && ok {
		return append([]string(nil), tail...), &n, h.typed
	}
	return append([]string(nil), h.entries...), nil, h.typed
}

// Entries returns the history, oldest first.
func (h *history) Entries() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.entries...)
}
