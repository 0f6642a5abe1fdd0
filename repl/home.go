package repl

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// A user's home is Config.Home/NAME, mode 0700: the history kept across
// logins (history, mode 0600) and the files of :save and :load (files/,
// which they cannot leave: os.Root refuses "..", absolute paths and
// symbolic links out). Nothing of it is on the evaluation path: the history
// file is read at login and written at logout; a migration carries the
// history in the session's record.

const (
	historyFile = "history"
	filesDir    = "files"
	// maxHistoryBytes bounds the history file; a larger one is refused
	// whole (a hostile or corrupt file), as is one with a line that is not
	// a quoted Go string.
	maxHistoryBytes = 256 << 10
	// maxRecord bounds what :save can write: the lines of a session that
	// ran.
	maxRecord = 1 << 20
)

// errNoHome is the error of :save and :load on a server without
// Config.Home.
var errNoHome = errors.New("repl: this server keeps no files for users (see serve --home)")

var plainName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`)

// homeName is the directory name of a user: the name itself when it is
// plain, its hex otherwise, so that no name can reach another directory.
func homeName(user string) string {
	if plainName.MatchString(user) {
		return user
	}
	return "x-" + hex.EncodeToString([]byte(user))
}

// privateDir makes dir (mode 0700) if needed and checks that it is a
// directory of this process's user that nobody else can enter, or, for
// Home itself (shared, set to false), that nobody else can write to.
func privateDir(dir string, private bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case private && fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s is open to others (mode %v; want 0700)", dir, fi.Mode().Perm())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %v)", dir, fi.Mode().Perm())
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to uid %d, not to this server's", dir, st.Uid)
	}
	return nil
}

// home returns the user's directory, made if needed; errNoHome without
// Config.Home.
func (c *Config) home(user string) (string, error) {
	if c.Home == "" {
		return "", errNoHome
	}
	if err := privateDir(c.Home, false); err != nil {
		return "", err
	}
	dir := filepath.Join(c.Home, homeName(user))
	if err := privateDir(dir, true); err != nil {
		return "", err
	}
	return dir, nil
}

// loadHistory reads the user's history file into h. A file that is too
// large or not what saveHistory writes is ignored, with a log line: the
// session starts with no history rather than fail.
func (s *Session) loadHistory(user string) {
	if s.cfg.Home == "" {
		return
	}
	dir, err := s.cfg.home(user)
	if err != nil {
		s.cfg.Logger.Warn("no history for this user", "user", user, "err", err)
		return
	}
	entries, err := readHistory(filepath.Join(dir, historyFile))
	if err != nil {
		s.cfg.Logger.Warn("history file ignored", "user", user, "err", err)
		return
	}
	s.hist.load(entries)
}

// readHistory reads a history file: one strconv.Quote'd entry a line.
// A missing file is no history.
func readHistory(path string) ([]string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxHistoryBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHistoryBytes {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxHistoryBytes)
	}
	var entries []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxHistoryBytes)
	for n := 1; sc.Scan(); n++ {
		e, err := strconv.Unquote(sc.Text())
		// A multi-line input is one entry, its lines joined by newlines.
		if err != nil || strings.Contains(e, "\r") || strings.HasPrefix(e, "\n") || strings.HasSuffix(e, "\n") {
			return nil, fmt.Errorf("%s:%d: not a history entry", path, n)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return boundHistory(entries), nil
}

// boundHistory keeps the newest entries within historySize and
// maxHistoryBytes.
func boundHistory(entries []string) []string {
	if len(entries) > historySize {
		entries = entries[len(entries)-historySize:]
	}
	size := 0
	for k := len(entries) - 1; k >= 0; k-- {
		size += len(strconv.Quote(entries[k])) + 1
		if size > maxHistoryBytes {
			return entries[k+1:]
		}
	}
	return entries
}

// saveHistory adds the entries typed in this session to the user's
// history file, as it is now (another session of the user may have
// written it meanwhile), atomically: a new file renamed over the old.
func (s *Session) saveHistory(user string) {
	if s.cfg.Home == "" {
		return
	}
	fresh := s.hist.fresh()
	if len(fresh) == 0 {
		return
	}
	dir, err := s.cfg.home(user)
	if err == nil {
		err = writeHistory(filepath.Join(dir, historyFile), fresh)
	}
	if err != nil {
		s.cfg.Logger.Warn("history not saved", "user", user, "err", err)
	}
}

func writeHistory(path string, fresh []string) error {
	old, err := readHistory(path)
	if err != nil {
		old = nil // replaced by a good one
	}
	entries := old
	for _, e := range fresh {
		if len(entries) == 0 || entries[len(entries)-1] != e {
			entries = append(entries, e)
		}
	}
	var b bytes.Buffer
	for _, e := range boundHistory(entries) {
		b.WriteString(strconv.Quote(e))
		b.WriteByte('\n')
	}
	return WriteFileAtomic(path, b.Bytes(), 0o600)
}

// filesRoot opens the user's files directory for :save and :load.
func (s *Session) filesRoot() (*os.Root, string, error) {
	dir, err := s.cfg.home(s.Info().User)
	if err != nil {
		return nil, "", err
	}
	dir = filepath.Join(dir, filesDir)
	if err := privateDir(dir, true); err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(dir)
	return root, dir, err
}

func recordSize(record []string) int {
	n := 0
	for _, r := range record {
		n += len(r)
	}
	return n
}

// record keeps a chunk that ran, for :save, within maxRecord.
func (s *Session) recordChunk(src string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordBytes += len(src)
	s.record = append(s.record, src)
	for s.recordBytes > maxRecord && len(s.record) > 0 {
		s.recordBytes -= len(s.record[0])
		s.record = s.record[1:]
		s.recordMark.drop(1)
	}
}

func (s *Session) cmdSave(args []string) bool {
	if len(args) != 1 {
		s.printf("error: :save FILE writes what this session ran to FILE, in your own directory\n")
		return false
	}
	if len(s.record) == 0 {
		s.printf("nothing to save: no line has run in this session yet\n")
		return false
	}
	root, dir, err := s.filesRoot()
	if err != nil {
		s.printf("error: %v\n", err)
		return false
	}
	defer root.Close()
	var b strings.Builder
	for _, src := range s.record {
		b.WriteString(strings.TrimRight(src, "\n"))
		b.WriteString("\n")
	}
	f, err := root.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = io.WriteString(f, b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.printf("error: :save %s: %v\n", args[0], err)
		return false
	}
	s.printf("saved %s to %s\n", plural(len(s.record), "input"), filepath.Join(dir, args[0]))
	return false
}

// maxLoad bounds a file :load reads.
const maxLoad = maxChunk

func (s *Session) cmdLoad(args []string) bool {
	if len(args) != 1 {
		s.printf("error: :load FILE runs FILE from your own directory, as if typed\n")
		return false
	}
	root, _, err := s.filesRoot()
	if err != nil {
		s.printf("error: %v\n", err)
		return false
	}
	defer root.Close()
	f, err := root.Open(args[0])
	if err != nil {
		s.printf("error: :load %s: %v\n", args[0], err)
		return false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLoad+1))
	f.Close()
	if err == nil && len(b) > maxLoad {
		err = fmt.Errorf("over %d bytes", maxLoad)
	}
	if err != nil {
		s.printf("error: :load %s: %v\n", args[0], err)
		return false
	}
	s.loading = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	s.loadName = args[0]
	return false
}
