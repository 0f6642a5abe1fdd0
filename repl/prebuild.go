package repl

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

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
	sum := st.Namespace.Digest()
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

// Update brings the namespace built ahead up to state, the session's
// namespace as it is now (Session.Changed, in the old process), before
// the pause: in place when only values changed, else restored afresh. It
// returns the digest the namespace now has. On failure p is of no use:
// close it (the pause will carry the namespace).
func (p *Prebuilt) Update(state []byte) ([]byte, error) {
	if r, ok := p.sess.ns.(replacer); ok {
		// The worker decodes it, and says if it cannot.
		if err := r.Replace(state); err != nil {
			return nil, fmt.Errorf("session %d: %w", p.sess.id, err)
		}
	} else {
		var snap namespace.Snapshot
		if err := decMode.Unmarshal(state, &snap); err != nil {
			return nil, fmt.Errorf("session %d: an update of its namespace: %w", p.sess.id, err)
		}
		ns, err := p.sess.cfg.Namespaces.Restore(p.sess.namespaceOptions(), snap)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", p.sess.id, err)
		}
		p.sess.ns.Close()
		p.sess.ns = ns
	}
	// The digest of state as it came, which is the sender's: a
	// checkpoint's sum, or a live snapshot's Digest (the same encoding).
	sum := sha256.Sum256(state)
	p.digest = sum[:]
	return p.digest, nil
}

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

// take returns the shell built ahead, if st's namespace (or the digest in
// its place) is the one it was built from, or can be brought up to it;
// otherwise nil, and the shell is closed. base is the precopy's lists of
// the session either way.
func (p *Prebuilt) take(st SessionState) (sess *Session, base *precopied) {
	sum := st.Ahead
	if sum == nil && st.Namespace != nil {
		sum = st.Namespace.Digest()
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

// A VouchResult is what Session.Vouch found.
type VouchResult int

const (
	Same    VouchResult = iota // the namespace ahead, unchanged: vouched for
	Changed                    // not the namespace ahead: the pause sends it
	Moving                     // evaluating, or not settled: maybe next round
)

// Vouch snapshots the session's namespace, live, if it changed since the
// last time, and records whether it is the one whose digest is want, so
// that Export need not snapshot it in the pause (package front's Vouch).
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
	v := vouch{rev: rev, digest: snap.Digest(), lost: lost}
	sess.mu.Lock()
	sess.vouched = v
	sess.mu.Unlock()
	return v, true
}

// Changed returns the session's namespace, encoded, if it is at rest and
// is not the one whose digest is want: what Prebuilt.Update needs to bring
// the namespace built ahead up to date, live, before the pause (package
// front's recheck rounds). ok is false when it is that one, or is moving
// (evaluating, or code of its own runs).
func (sess *Session) Changed(want []byte) (state []byte, ok bool) {
	sess.mu.Lock()
	ns := sess.ns
	sess.mu.Unlock()
	if ns == nil {
		return nil, false
	}
	if _, is := ns.(checkpointed); is {
		// Its worker's checkpoint, without a question to the worker.
		state, sum, _, ok := checkpoint(ns)
		if !ok || bytes.Equal(sum, want) {
			return nil, false
		}
		return state, true
	}
	rev, settled := ns.Revision()
	if !settled {
		return nil, false
	}
	snap, lost, err := ns.Snapshot()
	if err != nil {
		return nil, false
	}
	v, ok := sess.vouchFor(ns, rev, snap, lost)
	if !ok || bytes.Equal(v.digest, want) {
		return nil, false
	}
	if state, err = cbor.Marshal(snap); err != nil {
		return nil, false
	}
	return state, true
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
