package repl

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTranscript: with Config.Transcripts, a session's typed lines and
// output are in a file of mode 0600, each line timed; the password is not.
func TestTranscript(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "transcripts")
	_, addr := lineServer(t, Config{Transcripts: dir})
	c := dialLine(t, addr)
	c.expect("username: ")
	c.login()
	c.send("x := 41\r\n")
	c.expect(">>> ")
	c.send(`import "fmt"` + "\r\n")
	c.expect(">>> ")
	c.send(`fmt.Print("a\nb")` + "\r\n")
	c.expect(">>> ")
	c.send("x + 1\r\n")
	c.expect("42\r\n>>> ")
	c.send(":quit\r\n")
	c.expect("bye")
	var text string
	waitFor(t, "the transcript", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*-alice-*.log"))
		if len(files) != 1 {
			return false
		}
		b, _ := os.ReadFile(files[0])
		text = string(b)
		if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("transcript %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
		return strings.Contains(text, "bye")
	})
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `
	for _, want := range []string{
		stamp + `in  >>> x := 41\n`,
		stamp + `out a\n` + stamp + `out b\n`,
		stamp + `in  >>> x \+ 1\n` + stamp + `out 42\n`,
		stamp + `in  >>> :quit\n` + stamp + `out bye\n`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("transcript lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "secret") {
		t.Errorf("the password is in the transcript:\n%s", text)
	}
}
