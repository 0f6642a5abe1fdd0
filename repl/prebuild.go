package repl

import (
	"bytes"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// Restoring a namespace (replaying its declarations in a new interpreter)
// is most of what a session's pause costs. A new process can do it before
// the old one pauses anyone, from a snapshot taken live (Prebuild); at the
// handoff, a session whose namespace has not changed since is given the
// namespace built ahead, and only the others are restored in the pause.

// prebuilt is a session shell with its namespace restored ahead of time,
// and the encoded snapshot it was restored from.
type prebuilt struct {
	sess *Session
	key  []byte
}

// Prebuild restores the namespaces of f's sessions for a handoff to come,
// in parallel, one worker per CPU. A namespace that fails to restore is
// left to the handoff, which will report it.
func (s *Server) Prebuild(f *SnapshotFile) (built int, took time.Duration) {
	start := time.Now()
	forEach(len(f.Sessions), func(i int) {
		st := f.Sessions[i]
		if st.Namespace == nil {
			return
		}
		key, err := cbor.Marshal(st.Namespace)
		if err != nil {
			return
		}
		shell := &Session{srv: s, id: st.ID, pausing: make(chan struct{})}
		ns, err := namespace.Restore(shell.namespaceOptions(), *st.Namespace)
		if err != nil {
			return // left to the handoff, which will report it
		}
		shell.ns = ns
		s.mu.Lock() // also guards built
		defer s.mu.Unlock()
		if s.prebuilt == nil {
			s.prebuilt = make(map[uint64]prebuilt)
		}
		s.prebuilt[st.ID] = prebuilt{sess: shell, key: key}
		built++
	})
	return built, time.Since(start)
}

// takePrebuilt returns the shell built ahead for st, if st's namespace is
// the one it was built from; otherwise nil, and the shell is dropped.
func (s *Server) takePrebuilt(st SessionState) *Session {
	s.mu.Lock()
	p, ok := s.prebuilt[st.ID]
	delete(s.prebuilt, st.ID)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	key, err := cbor.Marshal(st.Namespace)
	if err != nil || !bytes.Equal(key, p.key) {
		p.sess.ns.Close() // changed since: restored again from the record
		return nil
	}
	s.mu.Lock()
	s.reused++
	s.mu.Unlock()
	return p.sess
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
		p.sess.ns.Close()
	}
	return reused
}
