package front

import (
	"fmt"
	"runtime"
	"slices"
	"time"
	"translucent/repl"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"
)

// aheadTails is the key of a process's Ahead report that says it keeps the
// lists of the precopy's sessions, so that a record may carry them as
// tails (repl.SessionState.HistorySkip, RecordSkip). Session ids start at 1:
// an older build reads it as a session that is never there.
const aheadTails uint64 = 0

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
	m[aheadTails] = []byte{1}
	s.mu.Unlock()
	b, _ := cbor.Marshal(m)
	return b
}

// Sessions is how many sessions' namespaces a also names.
func (a Ahead) Sessions() int {
	if a[aheadTails] != nil {
		return len(a) - 1
	}
	return len(a)
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
// that pauseExport can name them without a snapshot. Each round looks
// again at the sessions not vouched for, or no longer (they evaluated
// something since); rounds go on while each leaves fewer to look at, at
// most maxRounds. It returns how many namespaces its last round left
// vouched for, and its rounds.
func (s *registry) vouch(ahead Ahead) (vouched int, rounds []VouchRound) {
	if ahead.Sessions() == 0 {
		return 0, nil
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
	const maxRounds, enough = 6, 16
	todo, again := live, live
	// On half the CPUs: the users keep the others. With every CPU, a
	// round at 10,000 busy sessions on two cores checked fewer sessions a
	// second, not more, and delayed the users' lines.
	n := max(1, runtime.GOMAXPROCS(0)/2)
	for range maxRounds {
		start := time.Now()
		found := make([]repl.VouchResult, len(todo))
		workers(len(todo), n, nil, func(i int) { found[i] = todo[i].Vouch(ahead[todo[i].ID()]) })
		differs := make(map[*repl.Session]bool)
		for i, sess := range todo {
			if found[i] == repl.Changed {
				differs[sess] = true
			}
		}
		live = slices.DeleteFunc(live, func(sess *repl.Session) bool { return differs[sess] })
		again = nil
		for _, sess := range live {
			if !sess.Vouched(ahead[sess.ID()]) {
				again = append(again, sess)
			}
		}
		rounds = append(rounds, VouchRound{Checked: len(todo), Again: len(again), Took: time.Since(start)})
		if len(again) <= enough || len(again) >= len(todo) {
			break // few left, or no fewer: the pause takes them
		}
		todo = again
	}
	return len(live) - len(again), rounds
}

// A VouchRound is one round of vouch: the sessions it looked at, and
// those left to look at again after it (they evaluated meanwhile).
type VouchRound struct {
	Checked, Again int
	Took           time.Duration
}

// aheadDecMode bounds what a hostile or broken Ahead report can make the
// decoder do.
var aheadDecMode, _ = cbor.DecOptions{
	MaxNestedLevels:  4,
	MaxArrayElements: maxAhead,
	MaxMapPairs:      maxAhead,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
}.DecMode()
