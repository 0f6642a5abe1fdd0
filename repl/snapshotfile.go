package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// SnapshotFormat and SnapshotFileVersion identify a snapshot file.
const (
	SnapshotFormat      = "translucent-snapshot"
	SnapshotFileVersion = 1
)

// maxSnapshotFile bounds what ReadSnapshotFile reads: a file is a copy of
// live state, and a hostile one must not exhaust memory.
const maxSnapshotFile = 256 << 20

// SnapshotFile is the live state of a server's sessions, taken without
// pausing them: what `translucent snapshot` writes, `inspect` shows, a
// dry run restores, and `serve --restore` offers to :attach. It holds no
// connection state that matters: only who, and the namespace.
type SnapshotFile struct {
	Format        string // SnapshotFormat
	Version       int    // SnapshotFileVersion
	Taken         time.Time
	Pid           int // of the server it was taken from
	ServerVersion string
	Sessions      []SessionState
	Skipped       []string `cbor:",omitempty"` // sessions that could not be taken, and why
}

// WriteSnapshotFile writes f as CBOR.
func WriteSnapshotFile(w io.Writer, f *SnapshotFile) error {
	b, err := cbor.Marshal(f)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadSnapshotFile reads and checks a snapshot file. A truncated, foreign
// or out-of-bounds file is an error saying which.
func ReadSnapshotFile(r io.Reader) (*SnapshotFile, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSnapshotFile+1))
	if err != nil {
		return nil, err
	}
	return decodeSnapshotFile(b)
}

func decodeSnapshotFile(b []byte) (*SnapshotFile, error) {
	switch {
	case len(b) == 0:
		return nil, errors.New("snapshot: empty file")
	case len(b) > maxSnapshotFile:
		return nil, fmt.Errorf("snapshot: larger than %d MiB", maxSnapshotFile>>20)
	}
	var f SnapshotFile
	if err := decMode.Unmarshal(b, &f); err != nil {
		var head struct{ Format string }
		if decMode.Unmarshal(b, &head) != nil || head.Format != SnapshotFormat {
			return nil, fmt.Errorf("snapshot: not a translucent snapshot file (%v)", err)
		}
		return nil, fmt.Errorf("snapshot: corrupt or truncated: %w", err)
	}
	if f.Format != SnapshotFormat {
		return nil, errors.New("snapshot: not a translucent snapshot file")
	}
	if f.Version != SnapshotFileVersion {
		return nil, fmt.Errorf("snapshot: file version %d, this build reads version %d", f.Version, SnapshotFileVersion)
	}
	seen := make(map[uint64]bool, len(f.Sessions))
	for _, st := range f.Sessions {
		if err := checkSessionState(st); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		if seen[st.ID] {
			return nil, fmt.Errorf("snapshot: session %d twice", st.ID)
		}
		seen[st.ID] = true
	}
	return &f, nil
}

// Snapshot takes the state of the sessions with the given ids (all when
// ids is empty) without pausing anyone: each namespace is held for the
// time of its snapshot only. A session that is evaluating, or logging in,
// is named in Skipped rather than waited for.
func (s *Server) Snapshot(ids []uint64) (*SnapshotFile, error) {
	f := &SnapshotFile{Format: SnapshotFormat, Version: SnapshotFileVersion, Taken: time.Now(), Pid: os.Getpid(), ServerVersion: s.cfg.Version}
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	s.mu.Lock()
	var sessions []*Session
	for _, sess := range s.sessions {
		if len(ids) == 0 || want[sess.id] {
			sessions = append(sessions, sess)
			delete(want, sess.id)
		}
	}
	s.mu.Unlock()
	for id := range want {
		return nil, fmt.Errorf("no session %d", id)
	}
	sortSessions(sessions)
	for _, sess := range sessions {
		st, err := sess.liveState()
		if err != nil {
			f.Skipped = append(f.Skipped, fmt.Sprintf("session %d: %v", sess.id, err))
			continue
		}
		f.Sessions = append(f.Sessions, st)
	}
	return f, nil
}

// liveState is the session's user and namespace, taken while it runs.
func (sess *Session) liveState() (SessionState, error) {
	sess.mu.Lock()
	ns := sess.ns
	st := SessionState{Version: StateVersion, ID: sess.id, User: sess.user, Since: sess.since, Addr: sess.addr}
	sess.mu.Unlock()
	if st.User == "" {
		return st, errors.New("still logging in")
	}
	if ns == nil {
		return st, nil // logged in, nothing evaluated yet
	}
	snap, lost, err := ns.Snapshot()
	if err != nil {
		return st, err
	}
	st.Namespace, st.Lost = &snap, lost
	return st, nil
}
