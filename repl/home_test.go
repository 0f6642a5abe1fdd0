package repl

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestHomeName(t *testing.T) {
	for _, tc := range []struct{ user, want string }{
		{"alice", "alice"},
		{"bob.smith-2", "bob.smith-2"},
		{"..", "x-2e2e"},
		{".hidden", "x-2e68696464656e"},
		{"a/b", "x-612f62"},
		{"", "x-"},
	} {
		if got := homeName(tc.user); got != tc.want {
			t.Errorf("homeName(%q) = %q, want %q", tc.user, got, tc.want)
		}
	}
}

// TestReadHistory: a hostile or corrupt history file is an error (the
// session then starts without history), never a crash or a huge read.
func TestReadHistory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := strings.Repeat(strconv.Quote("x")+"\n", maxHistoryBytes/4+1)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	os.Mkdir(filepath.Join(dir, "dir"), 0o700)
	for _, tc := range []struct {
		name, path string
		want       []string
		err        bool
	}{
		{"missing", filepath.Join(dir, "none"), nil, false},
		{"good", write("good", "\"x := 1\"\n\"x + 1\"\n"), []string{"x := 1", "x + 1"}, false},
		{"not quoted", write("bad", "\"x\"\nrm -rf /\n"), nil, true},
		{"a block", write("nl", strconv.Quote("for {\nbreak\n}")+"\n"), []string{"for {\nbreak\n}"}, false},
		{"a carriage return", write("cr", strconv.Quote("a\rb")+"\n"), nil, true},
		{"a newline at the end", write("nlend", strconv.Quote("a\n")+"\n"), nil, true},
		{"too large", write("big", big), nil, true},
		{"binary", write("bin", "\x00\xff\xfe"), nil, true},
		{"a symbolic link", filepath.Join(dir, "link"), nil, true},
		{"a directory", filepath.Join(dir, "dir"), nil, true},
	} {
		got, err := readHistory(tc.path)
		if (err != nil) != tc.err || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: readHistory = %q, %v; want %q, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

// TestWriteHistory: entries are added to what the file holds (another
// session of the user may have written it), bounded, mode 0600.
func TestWriteHistory(t *testing.T) {
	p := filepath.Join(t.TempDir(), historyFile)
	if err := writeHistory(p, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := writeHistory(p, []string{"b", "c", "for {\n  break\n}"}); err != nil {
		t.Fatal(err)
	}
	got, err := readHistory(p)
	if err != nil || strings.Join(got, " ") != "a b c for {\n  break\n}" {
		t.Errorf("history %q, %v; want a b c and the block", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	many := make([]string, historySize+10)
	for k := range many {
		many[k] = strconv.Itoa(k)
	}
	writeHistory(p, many)
	got, _ = readHistory(p)
	if len(got) != historySize || got[len(got)-1] != many[len(many)-1] {
		t.Errorf("%d entries ending %q, want the newest %d", len(got), got[len(got)-1], historySize)
	}
	long := []string{strings.Repeat("y", 100<<10), strings.Repeat("z", 100<<10), strings.Repeat("w", 100<<10)}
	if b := boundHistory(long); len(b) != 2 {
		t.Errorf("boundHistory kept %d entries of 100 KiB, want 2", len(b))
	}
}

// TestHistoryAcrossLogins: what a user typed is there at the next login,
// in a file only they (the server's user) can read.
func TestHistoryAcrossLogins(t *testing.T) {
	home := t.TempDir()
	_, addr := lineServer(t, Config{Home: home})
	c := dialLine(t, addr)
	c.expect("username: ")
	c.login()
	c.send("x := 41\r\n")
	c.expect(">>> ")
	c.send("x + 1\r\n")
	c.expect("42\r\n>>> ")
	c.send(":quit\r\n")
	c.expect("bye")
	// The file is written as the session ends, after "bye".
	p := filepath.Join(home, "alice", historyFile)
	waitForFile(t, p)
	c = dialLine(t, addr)
	c.expect("username: ")
	c.login()
	c.send(":history\r\n")
	got := c.expect(">>> ")
	if !strings.Contains(got, "x := 41") || !strings.Contains(got, "x + 1") || strings.Contains(got, "alice") {
		t.Errorf(":history after a new login: %q", got)
	}
	for path, want := range map[string]os.FileMode{filepath.Join(home, "alice"): 0o700, p: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want mode %v", path, err, want)
		}
	}
}

// waitForFile waits until path exists, with a deadline.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	waitFor(t, path+" to be written", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

// TestHistoryFileCorrupt: a session whose history file is garbage starts
// with no history, and works.
func TestHistoryFileCorrupt(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "alice"), 0o700)
	os.WriteFile(filepath.Join(home, "alice", historyFile), []byte("\x00garbage\n"), 0o600)
	_, addr := lineServer(t, Config{Home: home})
	c := dialLine(t, addr)
	c.expect("username: ")
	c.login()
	c.send("1 + 1\r\n")
	c.expect("2\r\n>>> ")
}

// TestSaveLoad: :save writes what ran, :load runs it in a new namespace;
// neither leaves the user's directory.
func TestSaveLoad(t *testing.T) {
	home := t.TempDir()
	_, addr := lineServer(t, Config{Home: home})
	c := dialLine(t, addr)
	c.expect("username: ")
	c.login()
	for _, l := range [][2]string{{"type P struct{ X int }", ">>> "}, {"func (p P) Twice() int {", "... "},
		{"return 2 * p.X", "... "}, {"}", ">>> "}, {"nope + 1", ">>> "}, {"p := P{21}", ">>> "}} {
		c.send(l[0] + "\r\n")
		c.expect(l[1])
	}
	c.send(":save lesson.go\r\n")
	got := c.expect(">>> ")
	if !strings.Contains(got, "saved 3 inputs to "+filepath.Join(home, "alice", filesDir, "lesson.go")) {
		t.Errorf(":save said %q", got)
	}
	b, err := os.ReadFile(filepath.Join(home, "alice", filesDir, "lesson.go"))
	if err != nil || strings.Contains(string(b), "nope") || !strings.Contains(string(b), "func (p P) Twice() int {\nreturn 2 * p.X\n}\n") {
		t.Errorf("saved %q, %v", b, err)
	}
	for _, bad := range []string{":save ../escape", ":save /tmp/escape", ":load ../../../etc/passwd", ":load /etc/passwd"} {
		c.send(bad + "\r\n")
		if got := c.expect(">>> "); !strings.Contains(got, "error:") {
			t.Errorf("%s: %q", bad, got)
		}
	}
	c.send(":reset\r\n")
	if got := c.expect(">>> "); !strings.Contains(got, "-f") {
		t.Errorf(":reset of a namespace with declarations: %q", got)
	}
	c.send(":reset -f\r\n")
	c.expect("empty")
	c.expect(">>> ")
	c.send("p\r\n")
	c.expect("undefined")
	c.expect(">>> ")
	c.send(":load lesson.go\r\n")
	c.expect(">>> p := P{21}")
	c.expect(">>> ")
	c.send("p.Twice()\r\n")
	c.expect("42\r\n>>> ")
	os.WriteFile(filepath.Join(home, "alice", filesDir, "broken.go"), []byte("a := 1\nb := nope\nc := 3\n"), 0o600)
	c.send(":load broken.go\r\n")
	got = c.expect("not run")
	if !strings.Contains(got, "line 2") || strings.Contains(got, "c := 3") {
		t.Errorf(":load of a file with an error: %q", got)
	}
}

// FuzzReadHistory: any file is read without panicking, and what it gives
// is written as a file that reads back (multi-line inputs included).
func FuzzReadHistory(f *testing.F) {
	f.Add("\"x := 1\"\n\"x + 1\"\n")
	f.Add(strconv.Quote("for {\nbreak\n}") + "\n")
	f.Add("\"a\\rb\"\n\x00")
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readHistory(p)
		if err != nil || len(got) == 0 {
			return
		}
		q := filepath.Join(dir, historyFile)
		if err := writeHistory(q, got); err != nil {
			t.Fatal(err)
		}
		again, err := readHistory(q)
		if err != nil {
			t.Fatalf("%q written, then not read: %v", got, err)
		}
		for _, e := range again {
			if !slices.Contains(got, e) {
				t.Errorf("%q written, %q read back", got, e)
			}
		}
	})
}
