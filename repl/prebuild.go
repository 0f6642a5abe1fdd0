package repl

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"

	"translucent/namespace"
)

// Restoring a namespace (replaying its declarations in a new interpreter)
// is most of what a session's pause costs. A new process can do it before
// the old one pauses anyone, from a snapshot taken live (Prebuild); at the
// handoff, a session whose namespace has not changed since is given the
// namespace built ahead, and only the others are restored in the pause.
//
// The new process says which namespaces it holds (Ahead, in its HELLO),
// so the old one need not send those again: a record names the snapshot
// by its digest instead (SessionState.Ahead), and the pause is spared
// their encoding, transfer and decoding too.

// Prebuilt is a session's namespace restored ahead of a handoff
// (Prebuild), with the digest of the snapshot it was restored from and
// the lists the precopy carried, for Receive to take.
type Prebuilt struct {
	sess   *Session // a shell: its namespace, no connection
	digest []byte
	lists  precopied
}

// Prebuild restores st's namespace ahead of a handoff, for Receive, in a
// session shell of h; nil if st has none, or if it fails to restore
// (the handoff will, and say why).
func Prebuild(h Host, cfg *Config, st SessionState) *Prebuilt {
	if st.Namespace == nil {
		return nil
	}
	sum := digest(*st.Namespace)
	if sum == nil {
		return nil
	}
	shell := &Session{host: h, cfg: cfg, id: st.ID, pausing: make(chan struct{})}
	ns, err := restoreIdle(cfg.Namespaces, shell.namespaceOptions(), *st.Namespace)
	if err != nil {
		return nil
	}
	shell.ns = ns
	return &Prebuilt{sess: shell, digest: sum, lists: precopied{st.History, st.Record}}
}

// Digest is the SHA-256 of the snapshot p was restored from.
func (p *Prebuilt) Digest() []byte { return p.digest }

// Close closes a namespace built ahead that no session took.
func (p *Prebuilt) Close() { p.sess.ns.Close() }

// precopied is what the precopy held of a session's lists, for a record
// that carries them as tails (tail.go).
type precopied struct {
	history, record []string
}

// lists makes the history and record st carries whole of their tails on
// base, the precopy's.
func (st SessionState) lists(base *precopied) (history, record []string, err error) {
	history, record = st.History, st.Record
	if st.HistorySkip == nil && st.RecordSkip == nil {
		return history, record, nil
	}
	if base == nil {
		return nil, nil, fmt.Errorf("session %d: its lists follow a precopy this process did not build", st.ID)
	}
	if st.HistorySkip != nil {
		if history, err = untail(base.history, *st.HistorySkip, st.History); err != nil {
			return nil, nil, fmt.Errorf("session %d: history: %w", st.ID, err)
		}
	}
	if st.RecordSkip != nil {
		if record, err = untail(base.record, *st.RecordSkip, st.Record); err != nil {
			return nil, nil, fmt.Errorf("session %d: record: %w", st.ID, err)
		}
	}
	switch {
	case len(history) > historySize, recordSize(record) > maxRecord, st.HistoryTyped > len(history):
		return nil, nil, fmt.Errorf("session %d: record over this build's limits", st.ID)
	}
	return history, record, nil
}

// digest is the SHA-256 of snap's encoding, nil if it has none.
func digest(snap namespace.Snapshot) []byte {
	key, err := cbor.Marshal(snap)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(key)
	return sum[:]
}

// maxAhead bounds the entries of an Ahead report a process decodes.
const maxAhead = 1 << 20

// Ahead is what another process holds ahead of the pause: session id →
// the digest of the snapshot it restored that session's namespace from.
type Ahead map[uint64][]byte

// Ahead reports the namespaces built ahead (Prebuild), for the old
// process's Export: session id → digest of the snapshot.
func (s *Server) Ahead() []byte {
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

// DecodeAhead reads another process's Server.Ahead; empty is none.
func DecodeAhead(b []byte) (Ahead, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m Ahead
	if err := decMode.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the new process's list of namespaces built ahead: %w", err)
	}
	if len(m) > maxAhead {
		return nil, fmt.Errorf("the new process's list of namespaces built ahead: %d entries", len(m))
	}
	return m, nil
}

// Prebuild restores the namespaces of f's sessions for a handoff to come,
// in parallel, one worker per CPU, at the lowest CPU priority (see
// forEachIdle). A namespace that fails to restore is left to the handoff,
// which will report it.
func (s *Server) Prebuild(f *SnapshotFile) (built int, took time.Duration) {
	start := time.Now()
	forEachIdle(len(f.Sessions), func(i int) {
		st := f.Sessions[i]
		p := Prebuild(s, &s.cfg, st)
		if p == nil {
			return // left to the handoff, which will report it
		}
		s.mu.Lock() // also guards built
		defer s.mu.Unlock()
		if s.prebuilt == nil {
			s.prebuilt = make(map[uint64]*Prebuilt)
		}
		s.prebuilt[st.ID] = p
		built++
	})
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
func (s *Server) countReused(reused bool) {
	if reused {
		s.mu.Lock()
		s.reused++
		s.mu.Unlock()
	}
}

// takePrebuilt hands the namespace built ahead for session id, if any, to
// Receive, and forgets it.
func (s *Server) takePrebuilt(id uint64) *Prebuilt {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.prebuilt[id]
	delete(s.prebuilt, id)
	return p
}

// take returns the shell built ahead, if st's namespace (or the digest in
// its place) is the one it was built from, or can be brought up to it;
// otherwise nil, and the shell is closed. base is the precopy's lists of
// the session either way.
func (p *Prebuilt) take(st SessionState) (sess *Session, base *precopied) {
	sum := st.Ahead
	if sum == nil && st.Namespace != nil {
		sum = digest(*st.Namespace)
	}
	if sum == nil || !bytes.Equal(sum, p.digest) {
		// Changed since: brought up to date if its namespace can be
		// (usually only values changed), or restored again from the record.
		if st.Namespace == nil || !replace(p.sess.ns, *st.Namespace) {
			p.sess.ns.Close()
			return nil, &p.lists
		}
	}
	return p.sess, &p.lists
}

// DropPrebuilt closes the namespaces built ahead that no session took,
// and reports how many were taken.
func (s *Server) DropPrebuilt() (reused int) {
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

// Snapshotting every namespace in the pause, only to find most of them
// unchanged since the new process built them, was most of a large
// server's pause. Vouch does that check live instead, before the pause,
// and again for the sessions that evaluated something meanwhile; the pause
// then snapshots only what changed after the last round: the namespace's
// Revision says which.

// vouch is what Vouch found for a session: at revision rev, settled, its
// namespace encoded to digest, and could not carry lost.
type vouch struct {
	rev    uint64
	digest []byte
	lost   []string
}

// Vouch finds, live, which sessions' namespaces are still those ahead, so
// that PauseExport can name them without a snapshot. Each round looks
// again at the sessions not vouched for, or no longer (they evaluated
// something since); rounds go on while each leaves fewer to look at, at
// most maxRounds. It returns how many namespaces its last round left
// vouched for, and its rounds.
func (s *Server) Vouch(ahead Ahead) (vouched int, rounds []VouchRound) {
	if ahead.Sessions() == 0 {
		return 0, nil
	}
	s.mu.Lock()
	var live []*Session // those with a namespace ahead, until one differs
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
		found := make([]VouchResult, len(todo))
		workers(len(todo), n, nil, func(i int) { found[i] = todo[i].Vouch(ahead[todo[i].id]) })
		differs := make(map[*Session]bool)
		for i, sess := range todo {
			if found[i] == Changed {
				differs[sess] = true
			}
		}
		live = slices.DeleteFunc(live, func(sess *Session) bool { return differs[sess] })
		again = nil
		for _, sess := range live {
			if !sess.Vouched(ahead[sess.id]) {
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

// A VouchRound is one round of Vouch: the sessions it looked at, and
// those left to look at again after it (they evaluated meanwhile).
type VouchRound struct {
	Checked, Again int
	Took           time.Duration
}

// A VouchResult is what Session.Vouch found.
type VouchResult int

const (
	Same    VouchResult = iota // the namespace ahead, unchanged: vouched for
	Changed                    // not the namespace ahead: the pause sends it
	Moving                     // evaluating, or not settled: maybe next round
)

// Vouch snapshots the session's namespace, live, if it changed since the
// last time, and records whether it is the one whose digest is want, so
// that Export need not snapshot it in the pause (see Server.Vouch).
func (sess *Session) Vouch(want []byte) VouchResult {
	if _, ok := sess.vouchedFor(want); ok {
		return Same
	}
	sess.mu.Lock()
	ns := sess.ns
	sess.mu.Unlock()
	if ns == nil {
		return Changed
	}
	if c, is := ns.(checkpointed); is {
		// Its worker's checkpoint says, without a question to the
		// worker; when it cannot (a line under way, code of its own
		// running), neither could a live snapshot: the next round, or
		// the pause, will see.
		_, sum, _, ok := c.Checkpoint()
		switch {
		case !ok:
			return Moving
		case bytes.Equal(sum, want):
			return Same
		}
		return Changed
	}
	rev, settled := ns.Revision()
	if !settled {
		return Moving
	}
	snap, lost, err := ns.Snapshot()
	if errors.Is(err, namespace.ErrBusy) {
		return Moving
	}
	if err != nil {
		return Changed // the pause will fail on it, and say why
	}
	if v, ok := sess.vouchFor(ns, rev, snap, lost); !ok {
		return Moving
	} else if !bytes.Equal(v.digest, want) {
		return Changed
	}
	return Same
}

// vouchFor records that ns, at revision rev, encodes as snap does, if
// ns is still settled at rev: snap was taken between the two.
func (sess *Session) vouchFor(ns Namespace, rev uint64, snap namespace.Snapshot, lost []string) (vouch, bool) {
	if r, settled := ns.Revision(); !settled || r != rev {
		return vouch{}, false
	}
	v := vouch{rev: rev, digest: digest(snap), lost: lost}
	sess.mu.Lock()
	sess.vouched = v
	sess.mu.Unlock()
	return v, true
}

// Vouched reports whether the session's namespace is still, unchanged,
// the one whose digest is want (Vouch).
func (sess *Session) Vouched(want []byte) bool {
	_, ok := sess.vouchedFor(want)
	return ok
}

// vouchedFor returns what Vouch found for the session, if its namespace is
// still, unchanged, the one whose digest is want.
func (sess *Session) vouchedFor(want []byte) (vouch, bool) {
	sess.mu.Lock()
	v, ns := sess.vouched, sess.ns
	sess.mu.Unlock()
	if ns == nil {
		return vouch{}, false
	}
	if _, sum, lost, ok := checkpoint(ns); ok {
		return vouch{digest: sum, lost: lost}, bytes.Equal(sum, want)
	}
	if v.digest == nil || !bytes.Equal(v.digest, want) {
		return vouch{}, false
	}
	rev, settled := ns.Revision()
	return v, settled && rev == v.rev
}
