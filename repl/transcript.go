package repl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A transcript is a session's record for a teacher or an audit
// (Config.Transcripts): every line the user typed and everything the
// session printed, each line with the time, in a file of mode 0600 named
// after the user, session id and login time, so that the next process
// of a migration appends to the same file. It is a privacy choice: it holds
// whatever users type and see, variables' values included, and is off by
// default. Passwords are never in it (the login is not transcribed).
type transcript struct {
	path string

	mu      sync.Mutex
	f       *os.File // opened at the first write; guarded by mu
	written int64    // guarded by mu
	failed  bool     // a write failed or the limit was reached: no more; guarded by mu
	partial bool     // the last output did not end a line; guarded by mu
}

// maxTranscript bounds one session's transcript: code that prints in a
// loop must not fill the disk.
const maxTranscript = 64 << 20

// transcriptFor returns the transcript of a logged-in session, or nil
// when the server keeps none.
func (s *Session) transcriptFor(user string, since time.Time) *transcript {
	dir := s.cfg.Transcripts
	if dir == "" {
		return nil
	}
	name := fmt.Sprintf("%s-%s-%d.log", since.UTC().Format("20060102T150405Z"), homeName(user), s.id)
	return &transcript{path: filepath.Join(dir, name)}
}

// typed records a line the user typed, after its prompt.
func (t *transcript) typed(prompt, line string) {
	t.write("in ", []byte(prompt+line+"\n"))
}

// printed records what the session printed.
func (t *transcript) printed(p []byte) { t.write("out", p) }

func (t *transcript) write(dir string, p []byte) {
	if t == nil || len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed {
		return
	}
	if t.f == nil {
		if err := privateDir(filepath.Dir(t.path), false); err != nil {
			t.failed = true
			return
		}
		f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.failed = true
			return
		}
		t.f = f
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var b bytes.Buffer
	if dir == "in " && t.partial {
		b.WriteByte('\n')
		t.partial = false
	}
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		p = p[len(line):]
		if !t.partial {
			fmt.Fprintf(&b, "%s %s ", now, dir)
		}
		b.Write(line)
		t.partial = line[len(line)-1] != '\n'
	}
	if t.written+int64(b.Len()) > maxTranscript {
		t.f.WriteString("[transcript ends here: over its limit]\n")
		t.failed = true
		return
	}
	n, err := t.f.Write(b.Bytes())
	t.written += int64(n)
	if err != nil {
		t.failed = true
	}
}

func (t *transcript) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
	t.failed = true
}

// transcribed is an editor whose output also goes to a transcript.
type transcribed struct {
	editor
	t *transcript
}

func (e transcribed) Write(p []byte) (int, error) {
	e.t.printed(p)
	return e.editor.Write(p)
}
