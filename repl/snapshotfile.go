package repl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// SnapshotFormat and SnapshotFileVersion identify a snapshot file.
const (
	SnapshotFormat      = "translucent-snapshot"
	SnapshotFileVersion = 1
)

// maxPrecopyLists bounds the bytes of sessions' histories and records a
// precopy carries, well within maxSnapshotFile whatever their namespaces
// take: a session whose lists do not fit sends them whole in the pause.
const maxPrecopyLists = 64 << 20

// A ListBudget is the bytes of sessions' histories and records a precopy
// may still carry (LiveState), shared by every session it takes.
type ListBudget struct{ left atomic.Int64 }

// NewListBudget returns a precopy's budget.
func NewListBudget() *ListBudget {
	b := new(ListBudget)
	b.left.Store(maxPrecopyLists)
	return b
}

// take takes n bytes from budget if it has them left.
func take(budget *ListBudget, n int) bool {
	if budget.left.Add(-int64(n)) >= 0 {
		return true
	}
	budget.left.Add(int64(n)) // left to smaller ones
	return false
}

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
		// The format name leads the file (the first field): without it
		// this is some other file, with it a damaged snapshot.
		if !bytes.Contains(b[:min(len(b), 32)], []byte(SnapshotFormat)) {
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
		if st.Ahead != nil {
			return nil, fmt.Errorf("snapshot: session %d refers to a namespace built ahead, which a file cannot", st.ID)
		}
		if seen[st.ID] {
			return nil, fmt.Errorf("snapshot: session %d twice", st.ID)
		}
		seen[st.ID] = true
	}
	return &f, nil
}

// LiveState is the session's user and namespace, taken while it runs;
// with vouch, the session is vouched for that namespace if it was settled.
// With lists, its history and record are taken too, for the pause to send
// as tails, if they fit in the bytes lists has left. The variables named
// in drop are left out of the namespace.
func (sess *Session) LiveState(vouch bool, lists *ListBudget, drop []string) (SessionState, error) {
	sess.mu.Lock()
	ns := sess.ns
	st := SessionState{Version: StateVersion, ID: sess.id, User: sess.user, Since: sess.since, Addr: sess.addr}
	sess.mu.Unlock()
	if st.User == "" {
		return st, errors.New("still logging in")
	}
	if lists != nil { // a precopy: the pause then sends what these gain since (tail.go)
		st.History = sess.hist.precopy(lists)
		sess.mu.Lock()
		sess.recordMark = listMark{}
		if take(lists, sess.recordBytes) {
			st.Record = slices.Clone(sess.record)
			sess.recordMark.set(len(sess.record))
		}
		sess.mu.Unlock()
	}
	if ns == nil {
		return st, nil // logged in, nothing evaluated yet
	}
	rev, settled := ns.Revision()
	snap, lost, err := ns.Snapshot(drop...)
	if err != nil {
		return st, err
	}
	st.Namespace, st.Lost = &snap, lost
	if vouch && settled && len(drop) == 0 {
		sess.vouchFor(ns, rev, snap, lost)
	}
	return st, nil
}

// SessionCheck is what a dry run found for one session of a snapshot.
type SessionCheck struct {
	ID      uint64
	User    string
	Vars    int
	Restore time.Duration // rebuilding the namespace
	Check   time.Duration // snapshotting it again and comparing
	Lost    []string      // not carried by the snapshot itself
	Err     error         // restore failed, or the values came back different
}

// Verify restores every session's namespace of f in this process, the way
// a migration would, and checks that each snapshots again to the same
// values. It is the staging side of a dry run: nothing is connected.
func (f *SnapshotFile) Verify(cfg Config) []SessionCheck {
	out := make([]SessionCheck, 0, len(f.Sessions))
	for _, st := range f.Sessions {
		c := SessionCheck{ID: st.ID, User: st.User, Lost: st.Lost}
		if st.Namespace == nil {
			out = append(out, c)
			continue
		}
		c.Vars = len(st.Namespace.Vars)
		start := time.Now()
		ns, err := namespace.Restore(namespace.Options{Version: cfg.Version, Unrestricted: cfg.Unrestricted}, *st.Namespace)
		c.Restore = time.Since(start)
		if err != nil {
			c.Err = err
			out = append(out, c)
			continue
		}
		start = time.Now()
		// A variable the file does not carry (dropped, a channel) comes
		// back at its zero value: taken again, it is left out the same way.
		var notCarried []string
		for _, v := range st.Namespace.Vars {
			if v.Value == 0 {
				notCarried = append(notCarried, v.Name)
			}
		}
		again, _, err := ns.Snapshot(notCarried...)
		ns.Close()
		if err == nil {
			err = st.Namespace.SameValues(&again)
		}
		c.Check, c.Err = time.Since(start), err
		out = append(out, c)
	}
	return out
}

// holds describes what the session's namespace holds ("2 variables and 1
// declaration"), or returns "" for a namespace with nothing in it.
func (s *Session) holds() string {
	snap, _, err := s.ns.Snapshot()
	if err != nil {
		return "variables and declarations" // that could not be counted
	}
	var what []string
	if n := len(snap.Vars); n > 0 {
		what = append(what, plural(n, "variable"))
	}
	if n := len(snap.Journal); n > 0 {
		what = append(what, plural(n, "declaration"))
	}
	return strings.Join(what, " and ")
}

func (s *Session) cmdAttach(args []string) bool {
	f := s.cfg.Restored
	if f == nil {
		s.printf("error: this server has no snapshot to attach to (see serve --restore)\n")
		return false
	}
	if len(args) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "snapshot taken %s from pid %d (%s):\n", f.Taken.Format(time.DateTime), f.Pid, f.ServerVersion)
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tVARIABLES\tSINCE")
		for _, st := range f.Sessions {
			vars := 0
			if st.Namespace != nil {
				vars = len(st.Namespace.Vars)
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", st.ID, st.User, vars, st.Since.Format(time.DateTime))
		}
		tw.Flush()
		s.printf("%s", b.String())
		return false
	}
	force := args[0] == "-f"
	if force && len(args) > 1 {
		args = args[1:]
	}
	id, err := strconv.ParseUint(args[0], 10, 64)
	i := slices.IndexFunc(f.Sessions, func(st SessionState) bool { return st.ID == id })
	if err != nil || i < 0 {
		s.printf("error: no session %q in the snapshot (:attach lists them)\n", args[0])
		return false
	}
	if held := s.holds(); held != "" && !force {
		s.printf("error: :attach replaces this session's namespace, which holds %s, lost if replaced. "+
			":attach -f %d replaces it all the same; or log in again for a session of its own\n", held, id)
		return false
	}
	st := f.Sessions[i]
	snap := namespace.Snapshot{Version: namespace.SnapshotVersion}
	if st.Namespace != nil {
		snap = *st.Namespace
	}
	ns, err := s.cfg.Namespaces.Restore(s.namespaceOptions(), snap)
	if err != nil {
		s.printf("error: session %d does not restore: %v\n", id, err)
		return false
	}
	s.mu.Lock()
	old := s.ns
	s.ns = ns
	s.mu.Unlock()
	old.Close()
	s.printf("attached to a copy of session %d's namespace (%s, pid %d, %s): %s\n", id, st.User, f.Pid, f.ServerVersion, plural(len(snap.Vars), "variable"))
	for _, l := range st.Lost {
		s.printf("  not carried: %s\n", l)
	}
	return false
}
