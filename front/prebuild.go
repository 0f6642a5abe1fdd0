package front

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"time"
	"translucent/repl"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"
)

// aheadFeatures is the key of a process's Ahead report whose value says,
// bit by bit, what it takes besides the namespaces it names. Session ids
// start at 1: an older build reads it as a session that is never there.
// Builds before featureUpdates sent the value {1}.
const aheadFeatures uint64 = 0

const (
	// featureTails: it keeps the lists of the precopy's sessions, so that
	// a record may carry them as tails (repl.SessionState.HistorySkip,
	// RecordSkip).
	featureTails = 1 << iota
	// featureUpdates: it takes updates of the namespaces it built ahead
	// before the pause (applyUpdates).
	featureUpdates
)

// maxAhead bounds the entries of an Ahead report a process decodes.
const maxAhead = 1 << 20

// Ahead is what another process holds ahead of the pause: session id →
// the digest of the snapshot it restored that session's namespace from.
type Ahead map[uint64][]byte

// ahead reports the namespaces built ahead (prebuild), for the old
// process's Export: session id → digest of the snapshot.
func (s *registry) ahead() []byte {
	s.mu.Lock()
	m := make(map[uint64][]byte, len(s.prebuilt)+1)
	for id, p := range s.prebuilt {
		m[id] = p.Digest()
	}
	m[aheadFeatures] = []byte{featureTails | featureUpdates}
	s.mu.Unlock()
	b, _ := cbor.Marshal(m)
	return b
}

// Sessions is how many sessions' namespaces a also names.
func (a Ahead) Sessions() int {
	if a[aheadFeatures] != nil {
		return len(a) - 1
	}
	return len(a)
}

// has reports whether the process that sent a said it takes feature.
func (a Ahead) has(feature byte) bool {
	f := a[aheadFeatures]
	return len(f) > 0 && f[0]&feature != 0
}

// DecodeAhead reads another process's registry.ahead; empty is none.
func DecodeAhead(b []byte) (Ahead, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m Ahead
	if err := aheadDecMode.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the new process's list of namespaces built ahead: %w", err)
	}
	if len(m) > maxAhead {
		return nil, fmt.Errorf("the new process's list of namespaces built ahead: %d entries", len(m))
	}
	return m, nil
}

// prebuild restores the namespaces of f's sessions for a handoff to come,
// in parallel, one worker per CPU, at the lowest CPU priority (see
// forEachIdle). A namespace that fails to restore is left to the handoff,
// which will report it.
func (s *registry) prebuild(f *repl.SnapshotFile) (built int, took time.Duration) {
	start := time.Now()
	forEachIdle(len(f.Sessions), func(i int) {
		st := f.Sessions[i]
		p := repl.Prebuild(s, &s.cfg, st)
		if p == nil {
			return // left to the handoff, which will report it
		}
		s.mu.Lock() // also guards built
		defer s.mu.Unlock()
		if s.prebuilt == nil {
			s.prebuilt = make(map[uint64]*repl.Prebuilt)
		}
		s.prebuilt[st.ID] = p
		built++
	})
	if c, ok := s.cfg.Namespaces.(interface{ Collect() }); ok {
		c.Collect() // the restores' garbage, collected before the pause rather than after it
	}
	return built, time.Since(start)
}

// forEachIdle is forEach on threads of the lowest CPU priority (nice 19).
// While a new process restores namespaces ahead, the old one still serves
// every session on the same cores, and a user's line must not wait for
// work that is only there to shorten a pause to come. Each worker keeps
// its thread to itself and ends without giving it back, so the Go runtime
// ends the thread rather than reuse it at that priority.
func forEachIdle(n int, f func(i int)) {
	workers(n, runtime.GOMAXPROCS(0), func() {
		runtime.LockOSThread() // never unlocked: see above
		// Best effort: without it the work is the same, only sooner.
		unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
	}, f)
}

// countReused counts a session that took the namespace built for it.
func (s *registry) countReused(reused bool) {
	if reused {
		s.mu.Lock()
		s.reused++
		s.mu.Unlock()
	}
}

// takePrebuilt hands the namespace built ahead for session id, if any, to
// Receive, and forgets it.
func (s *registry) takePrebuilt(id uint64) *repl.Prebuilt {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prebuilt[id]
	delete(s.prebuilt, id)
	return p
}

// dropPrebuilt closes the namespaces built ahead that no session took,
// and reports how many were taken.
func (s *registry) dropPrebuilt() (reused int) {
	s.mu.Lock()
	left := s.prebuilt
	s.prebuilt = nil
	reused = s.reused
	s.mu.Unlock()
	for _, p := range left {
		p.Close()
	}
	return reused
}

// vouch finds, live, which sessions' namespaces are still those ahead, so
// that pauseExport can name them without a snapshot. Each round looks at
// the sessions not vouched for yet, or no longer (they evaluated something
// since).
//
// When the new process takes updates (send not nil), the namespaces a
// round finds changed are sent to it as they are now, and it brings those
// it built up to date; ahead then names their new digests, and the next
// round looks at them again. That is the iterative pre-copy of live VM
// migration: each round sends what changed during the last one, until
// what is left is small, and only that travels in the pause. Without
// updates, a namespace found changed is left to the pause.
//
// Rounds go on while each leaves fewer to look at, and more than
// vouchEnough, at most vouchRounds, and while four times the last one
// fits in the migration's time left (ctx's deadline). It returns how many namespaces its
// last round left vouched for, and its rounds; an error only when an
// update failed (the new process is gone, or broke the wire), which ends
// the migration.
func (s *registry) vouch(ctx context.Context, ahead Ahead, send func(context.Context, []byte) ([]byte, error)) (vouched int, rounds []VouchRound, err error) {
	if ahead.Sessions() == 0 {
		return 0, nil, nil
	}
	s.mu.Lock()
	var live []*repl.Session // those with a namespace ahead, until one differs
	for id, sess := range s.sessions {
		if ahead[id] != nil {
			live = append(live, sess)
		}
	}
	s.mu.Unlock()
	sortSessions(live)
	todo, again := live, live
	// On half the CPUs: the users keep the others. With every CPU, a
	// round at 10,000 busy sessions on two cores checked fewer sessions a
	// second, not more, and delayed the users' lines.
	n := max(1, runtime.GOMAXPROCS(0)/2)
	for range vouchRounds {
		start := time.Now()
		found := make([]repl.VouchResult, len(todo))
		workers(len(todo), n, nil, func(i int) { found[i] = todo[i].Vouch(ahead[todo[i].ID()]) })
		var changed []*repl.Session
		for i, sess := range todo {
			if found[i] == repl.Changed {
				changed = append(changed, sess)
			}
		}
		var taken map[*repl.Session]bool
		if send != nil && len(changed) > 0 {
			if taken, err = sendUpdates(ctx, changed, ahead, send); err != nil {
				return 0, rounds, err
			}
		}
		differs := make(map[*repl.Session]bool)
		for _, sess := range changed {
			differs[sess] = !taken[sess]
		}
		live = slices.DeleteFunc(live, func(sess *repl.Session) bool { return differs[sess] })
		again = nil
		for _, sess := range live {
			if !sess.Vouched(ahead[sess.ID()]) {
				again = append(again, sess)
			}
		}
		took := time.Since(start)
		rounds = append(rounds, VouchRound{Checked: len(todo), Updated: len(taken), Again: len(again), Took: took})
		if len(again) <= vouchEnough || len(again) >= len(todo) {
			break // few left, or no fewer: the pause takes them
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 4*took {
			break // the migration's time is running out: the pause takes them
		}
		todo = again
	}
	return len(live) - len(again), rounds, nil
}

// vouch's rounds: at most vouchRounds, until no more than vouchEnough
// sessions are left to look at.
const vouchRounds, vouchEnough = 10, 16

// An update is one session's namespace as it is now, sent to the new
// process before the pause (sendUpdates, applyUpdates).
type update struct {
	ID    uint64
	State []byte // CBOR of its namespace.Snapshot
}

// updateBytes bounds the namespaces one UPDATE carries (a namespace
// larger than this travels in the pause).
const updateBytes = 4 << 20

// sendUpdates sends the new process the namespaces of changed as they are
// now, in UPDATEs of at most updateBytes, and sets in ahead the digests it
// answers with. It returns the sessions whose namespace it took; one it
// was sent and did not take is gone from ahead (the new process dropped
// what it had built), so the pause will carry it whole.
func sendUpdates(ctx context.Context, changed []*repl.Session, ahead Ahead, send func(context.Context, []byte) ([]byte, error)) (map[*repl.Session]bool, error) {
	taken := make(map[*repl.Session]bool)
	var batch []update
	var sessions []*repl.Session // batch's
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		data, err := cbor.Marshal(batch)
		if err != nil {
			return err
		}
		answer, err := send(ctx, data)
		if err != nil {
			return err
		}
		got, err := DecodeAhead(answer)
		if err != nil {
			return err
		}
		for i, u := range batch {
			if d := got[u.ID]; len(d) == sha256.Size {
				ahead[u.ID] = d
				taken[sessions[i]] = true
			} else {
				delete(ahead, u.ID)
			}
		}
		batch, sessions, size = batch[:0], sessions[:0], 0
		return nil
	}
	for _, sess := range changed {
		state, ok := sess.Changed(ahead[sess.ID()])
		if !ok || len(state) > updateBytes {
			continue // moving again, or large: the pause will see
		}
		if size+len(state) > updateBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, update{ID: sess.ID(), State: state})
		sessions = append(sessions, sess)
		size += len(state)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return taken, nil
}

// applyUpdates is the new process's answer to the old one's UPDATE
// (sendUpdates): each namespace it built ahead that the update names is
// brought up to date (repl.Prebuilt.Update). The answer is an Ahead of the
// digests they now have; one that could not be updated is dropped and
// left out, and the pause will carry it.
//
// At normal priority: unlike the precopy's restores, the rounds wait for
// these, and must outpace the users' changes. At the lowest priority
// (nice 19), with 1,000 sessions all typing lines that change their
// namespaces, the updates starved behind the old process serving them:
// six rounds in 5.3 s, 191 namespaces still left to the pause, against
// four rounds in 1.2 s and 15 left.
func (s *registry) applyUpdates(data []byte) []byte {
	var ups []update
	if err := updateDecMode.Unmarshal(data, &ups); err != nil {
		s.cfg.Logger.Warn("an update from the old process", "err", err)
		ups = nil
	}
	byID := make(map[uint64][]byte, len(ups)) // the last of an id's, if it repeats
	for _, u := range ups {
		byID[u.ID] = u.State
	}
	ids := slices.Collect(maps.Keys(byID))
	sums := make([][]byte, len(ids))
	// Eight in flight per CPU they may use (half the CPUs, as vouch's): an
	// update is mostly waiting. Its round trip to the worker is about
	// 0.2 ms on a quiet machine, of which 40 µs of work (BenchmarkReplace,
	// namespace's BenchmarkUpdate and BenchmarkSnapshotDecode). At 1,000
	// sessions all changing, the first round took 0.50–0.59 s with eight
	// in flight, 0.72–0.77 s with two, 1.0 s with one; the users' lines
	// meanwhile had p99 20 ms against 13–18 ms with two.
	n := 8 * max(1, runtime.GOMAXPROCS(0)/2)
	workers(len(ids), n, nil, func(i int) {
		s.mu.Lock()
		p := s.prebuilt[ids[i]]
		s.mu.Unlock()
		if p == nil {
			return
		}
		sum, err := p.Update(byID[ids[i]])
		if err != nil {
			s.cfg.Logger.Warn("a namespace built ahead could not be updated: the pause will carry it", "session", ids[i], "err", err)
			s.mu.Lock()
			delete(s.prebuilt, ids[i])
			s.mu.Unlock()
			p.Close()
			return
		}
		sums[i] = sum
	})
	answer := make(Ahead, len(ids))
	for i, id := range ids {
		if sums[i] != nil {
			answer[id] = sums[i]
		}
	}
	b, _ := cbor.Marshal(answer)
	return b
}

// A VouchRound is one round of vouch: the sessions it looked at, and
// those left to look at again after it (they evaluated meanwhile).
type VouchRound struct {
	Checked, Updated, Again int
	Took                    time.Duration
}

// updateDecMode bounds what a hostile or broken UPDATE can make the
// decoder do; the message's own limit (migrate.MaxUpdateSize) bounds its
// bytes.
var updateDecMode, _ = cbor.DecOptions{
	MaxNestedLevels:  4,
	MaxArrayElements: maxAhead,
	MaxMapPairs:      16, // the least the decoder allows
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
}.DecMode()

// aheadDecMode bounds what a hostile or broken Ahead report can make the
// decoder do.
var aheadDecMode, _ = cbor.DecOptions{
	MaxNestedLevels:  4,
	MaxArrayElements: maxAhead,
	MaxMapPairs:      maxAhead,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
}.DecMode()
