package repl

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Users holds the accounts that may log in: names and bcrypt hashes, as
// `htpasswd -B` writes them. It is read-only once built and safe for
// concurrent use.
type Users struct {
	hashes map[string][]byte
}

// dummyHash is compared against when a name is unknown, so that an unknown
// name costs as much time as a wrong password and timing tells nothing. It
// is a constant (bcrypt of "translucent-dummy" at bcrypt.DefaultCost):
// computing it at init took 56 ms of CPU in every process of this binary,
// each worker included.
var dummyHash = []byte("$2a$10$k4kcCWrXXPWAByzy1K7YCefoFRwfBD8s6uMTaXxdPlUMzTZz4pmQm")

// ParseUsers reads htpasswd lines `NAME:BCRYPT`. Blank lines and lines
// starting with '#' are skipped. It fails on a malformed line or a hash that
// is not bcrypt, naming the line.
func ParseUsers(data []byte) (*Users, error) {
	u := &Users{hashes: make(map[string][]byte)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" || hash == "" {
			return nil, fmt.Errorf("line %d: want NAME:HASH", n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %q: not a bcrypt hash (create it with `translucent adduser` or `htpasswd -B`)", n, name)
		}
		u.hashes[name] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return u, nil
}

// LoadUsers reads a users file (see ParseUsers).
func LoadUsers(path string) (*Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u, err := ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(u.hashes) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return u, nil
}

// Len reports how many users there are.
func (u *Users) Len() int { return len(u.hashes) }

// Has reports whether name is a user's name.
func (u *Users) Has(name string) bool {
	_, ok := u.hashes[name]
	return ok
}

// Check reports whether password is name's password. It takes the time of a
// bcrypt comparison whether or not name exists; the comparison itself is
// constant-time.
func (u *Users) Check(name, password string) bool {
	hash, ok := u.hashes[name]
	if !ok {
		hash = dummyHash
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return ok && err == nil
}

// HashLine returns the htpasswd line for name and password.
func HashLine(name, password string) (string, error) {
	if name == "" || strings.ContainsAny(name, ": \t\r\n") {
		return "", fmt.Errorf("bad user name %q: it must be non-empty, without ':' or spaces", name)
	}
	if password == "" {
		return "", errors.New("empty password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return name + ":" + string(hash), nil
}

// AddUser sets name's password in the users file at path, creating the file
// with mode 0600 or replacing name's line in it. The file is replaced
// atomically, so a reader never sees half of it.
func AddUser(path, name, password string) error {
	line, err := HashLine(name, password)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out bytes.Buffer
	replaced := false
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if n, _, _ := strings.Cut(strings.TrimSpace(l), ":"); n == name {
			if !replaced {
				out.WriteString(line + "\n")
			}
			replaced = true
			continue
		}
		if l != "" {
			out.WriteString(l + "\n")
		}
	}
	if !replaced {
		out.WriteString(line + "\n")
	}
	return WriteFileAtomic(path, out.Bytes(), 0o600)
}

// WriteFileAtomic writes data to a temporary file (".NAME.*") beside path,
// with mode perm, syncs it and renames it into place: a reader sees the old
// file or the new one, never a part, and a crash leaves no torn file. The
// one way this project writes users', snapshot, pid and password files.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// RandomPassword returns a fresh password with 128 bits of entropy.
func RandomPassword() string { return rand.Text() }
