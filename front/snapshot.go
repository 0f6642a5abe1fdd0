package front

import (
	"fmt"
	"os"
	"time"
	"translucent/repl"
)

// snapshot takes the state of the sessions with the given ids (all when
// ids is empty) without pausing anyone: each namespace is held for the
// time of its snapshot only, and leaves out the variables named in drop,
// as a migration with --drop would. A session that is evaluating, or
// logging in, is named in Skipped rather than waited for.
func (s *registry) snapshot(ids []uint64, drop ...string) (*repl.SnapshotFile, error) {
	return s.takeSnapshot(ids, false, drop)
}

// precopy is snapshot of every session for a migration's precopy. Each
// namespace it snapshots settled is also vouched for (see vouch): the new
// process will restore it from this very snapshot, so a session that
// does not evaluate again before the pause costs the recheck nothing.
func (s *registry) precopy() (*repl.SnapshotFile, error) {
	return s.takeSnapshot(nil, true, nil)
}

func (s *registry) takeSnapshot(ids []uint64, vouch bool, drop []string) (*repl.SnapshotFile, error) {
	f := &repl.SnapshotFile{Format: repl.SnapshotFormat, Version: repl.SnapshotFileVersion, Taken: time.Now(), Pid: os.Getpid(), ServerVersion: s.cfg.Version}
	want := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	s.mu.Lock()
	var sessions []*repl.Session
	for _, sess := range s.sessions {
		if len(ids) == 0 || want[sess.ID()] {
			sessions = append(sessions, sess)
			delete(want, sess.ID())
		}
	}
	s.mu.Unlock()
	for id := range want {
		return nil, fmt.Errorf("no session %d", id)
	}
	sortSessions(sessions)
	// In parallel: a migration's precopy snapshots every session, and the
	// users go on typing meanwhile.
	states := make([]repl.SessionState, len(sessions))
	errs := make([]error, len(sessions))
	var lists *repl.ListBudget
	if vouch {
		lists = repl.NewListBudget()
	}
	forEach(len(sessions), func(i int) { states[i], errs[i] = sessions[i].LiveState(vouch, lists, drop) })
	for i, st := range states {
		if errs[i] != nil {
			f.Skipped = append(f.Skipped, fmt.Sprintf("session %d: %v", st.ID, errs[i]))
			continue
		}
		f.Sessions = append(f.Sessions, st)
	}
	return f, nil
}
