package repl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"

	"translucent/namespace"
	"translucent/telnet"
)

// StateVersion is the version of the session record this build writes. A
// record of another version is refused with a clear error: a new binary
// that knows an older format would add its conversion here.
const StateVersion = 1

// SessionState is everything a session is, as plain data: what another
// process needs to continue it on the same connection.
type SessionState struct {
	Version int
	ID      uint64
	User    string // empty while logging in
	Since   time.Time
	Addr    string

	CharMode  bool
	LoginName string // typed, while the password is asked
	LoginTry  int
	Telnet    telnet.State
	History   []string
	Input     inputState
	Chunk     string // lines of an incomplete input

	Namespace *namespace.Snapshot // nil while logging in, and when Ahead is set
	// Ahead, instead of Namespace, names the snapshot the new process
	// restored before the pause (its SHA-256): the namespace has not
	// changed since, so the record leaves it out. Only for a process that
	// said it holds it (package front's ahead report).
	Ahead []byte   `cbor:",omitempty"`
	Lost  []string // what the namespace could not carry, told to the owner on arrival

	// HistoryTyped is how many of History's newest entries were typed
	// since login (to add to the user's history file at logout); Record
	// the inputs that ran, for :save. Older builds leave both out.
	HistoryTyped int      `cbor:",omitempty"`
	Record       []string `cbor:",omitempty"`

	// HistorySkip and RecordSkip, when set, say that History and Record
	// are tails (tail.go): each list is the one the new process holds
	// from the precopy, less its first Skip entries, then these. Only for
	// a process that said it keeps them (package front's featureTails) and built
	// the session ahead. Nil: the list is whole.
	HistorySkip *int `cbor:",omitempty"`
	RecordSkip  *int `cbor:",omitempty"`

	// Transport names the framing of the connection (Framed), empty for
	// telnet straight on the socket; TransportState is its state.
	Transport      string `cbor:",omitempty"`
	TransportState []byte `cbor:",omitempty"`

	// Shared: others may watch it (:share). Watching is the session it
	// watches, and WatchPending what it had not yet been shown of it.
	Shared       bool   `cbor:",omitempty"`
	Watching     uint64 `cbor:",omitempty"`
	WatchPending []byte `cbor:",omitempty"`
}

// Exported is one session ready to leave: its record and its connection.
type Exported struct {
	ID    uint64
	State []byte   // CBOR of SessionState
	Conn  Socket   // the session's own: to send, not to close
	Lost  []string // what the namespace could not carry, for the report
	// Still is when the session came to rest for the handoff: its pause,
	// as its user sees it, runs from then until the new process resumes it.
	Still time.Time
}

// Receive restores a session another process exported (Session.Export):
// data is its record, conn its connection's descriptor, which the session
// keeps (closed here on failure). The session is not running: its host
// runs it (Run) once the handoff commits, or forgets it (Discard). ahead
// gives the namespace built for the session before the pause (Prebuild),
// nil if none: Receive takes it, and uses it if it is still the session's
// (reused).
func Receive(h Host, cfg *Config, data []byte, conn *os.File, ahead func(id uint64) *Prebuilt) (sess *Session, reused bool, err error) {
	st, err := decodeSessionState(data)
	if err != nil {
		conn.Close()
		return nil, false, err
	}
	nc, err := fileConn(cfg, st, conn) // conn is nc's from here on
	if err != nil {
		return nil, false, err
	}
	sess, reused, err = restore(h, cfg, st, nc, ahead(st.ID))
	if err != nil {
		nc.Close()
		return nil, false, err
	}
	return sess, reused, nil
}

// decodeSessionState decodes and checks a session record.
func decodeSessionState(data []byte) (SessionState, error) {
	var st SessionState
	if err := decMode.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("session record: %w", err)
	}
	return st, checkSessionState(st)
}

// checkSessionState checks a decoded session record against this build's
// limits.
func checkSessionState(st SessionState) error {
	switch {
	case st.Version != StateVersion:
		return fmt.Errorf("session %d: state version %d, this build reads version %d", st.ID, st.Version, StateVersion)
	case st.ID == 0:
		return errors.New("session record without an id")
	case st.LoginTry < 0 || st.LoginTry >= maxLoginTries:
		return fmt.Errorf("session %d: %d failed logins", st.ID, st.LoginTry)
	case len(st.History) > historySize, len(st.Chunk) > maxChunk, len(st.Lost) > 1<<16,
		len(st.Input.Typed) > maxTyped, len(st.Input.Pending) > maxBuffered+64<<10, len(st.Input.Partial) >= utf8.UTFMax:
		return fmt.Errorf("session %d: record over this build's limits", st.ID)
	case st.HistoryTyped < 0 || st.HistorySkip == nil && st.HistoryTyped > len(st.History), recordSize(st.Record) > maxRecord:
		return fmt.Errorf("session %d: record over this build's limits", st.ID)
	case len(st.Transport) > 64 || len(st.TransportState) > 1<<20 || len(st.WatchPending) > watchBuffer:
		return fmt.Errorf("session %d: record over this build's limits", st.ID)
	case st.User == "" && (st.Namespace != nil || st.Ahead != nil):
		return fmt.Errorf("session %d: a namespace but no user", st.ID)
	case st.Ahead != nil && (st.Namespace != nil || len(st.Ahead) != sha256.Size):
		return fmt.Errorf("session %d: a malformed reference to a namespace built ahead", st.ID)
	}
	return nil
}

// restore makes a session of st on nc, not running, with the namespace
// built for it ahead (p, if not nil) when it is still the session's.
func restore(h Host, cfg *Config, st SessionState, nc net.Conn, p *Prebuilt) (sess *Session, reused bool, err error) {
	var base *precopied
	if p != nil {
		sess, base = p.take(st)
	}
	if sess == nil && st.Ahead != nil {
		return nil, false, fmt.Errorf("session %d: its namespace was to be built here ahead of the pause, and is not", st.ID)
	}
	hist, record, err := st.lists(base)
	if err != nil {
		if sess != nil {
			sess.ns.Close()
		}
		return nil, false, err
	}
	reused = sess != nil
	if sess == nil {
		sess = &Session{host: h, cfg: cfg, pausing: make(chan struct{})}
	}
	sess.id, sess.addr, sess.nc, sess.hist = st.ID, st.Addr, nc, &history{entries: hist, typed: st.HistoryTyped}
	sess.record, sess.recordBytes = record, recordSize(record)
	sess.user, sess.since, sess.charMode = st.User, st.Since, st.CharMode
	sess.loginName, sess.loginTry = st.LoginName, st.LoginTry
	sess.chunk.SetText(st.Chunk)
	sess.restored, sess.lost = true, st.Lost
	sess.shared, sess.watchID, sess.watchPending = st.Shared, st.Watching, st.WatchPending
	sess.conn = telnet.Restore(nc, st.Telnet)
	sess.newInput()
	sess.in.restore(st.Input)
	sess.setEditor()
	if st.Namespace != nil && sess.ns == nil {
		ns, err := cfg.Namespaces.Restore(sess.namespaceOptions(), *st.Namespace)
		if err != nil {
			return nil, false, fmt.Errorf("session %d: namespace: %w", st.ID, err)
		}
		sess.ns = ns
	}
	return sess, reused, nil
}

// Arrive makes a session that came from another process (Receive) tell
// its user, as it starts, notice (if not empty) and what the migration
// could not carry. Call it before Run.
func (sess *Session) Arrive(notice string) {
	var notes []string
	if notice != "" {
		notes = append(notes, notice)
	}
	for _, l := range sess.lost {
		notes = append(notes, "[translucent: not carried by the migration: "+l+"]")
	}
	if len(notes) > 0 {
		// The notes move the prompt down, so the editor must draw it and
		// the half-typed line again: no muting. The session's goroutine
		// writes them, so that no lock is held while a client is slow.
		sess.in.unmute()
		sess.arrival = "\r\n" + strings.Join(notes, "\r\n") + "\r\n"
	}
}

// InputWaiting reports, for each of sessions received and not yet
// running, whether its client's input waits to be read: carried in its
// record, or in the kernel (one poll(2) for every socket). Lines typed in
// a migration's pause are there; a new process that starts those sessions
// first answers them first, rather than after thousands of sessions that
// have nothing to read have started.
func InputWaiting(sessions []*Session) []bool {
	waiting := make([]bool, len(sessions))
	fds := make([]unix.PollFd, 0, len(sessions))
	of := make([]int, 0, len(sessions)) // fds[k] is sessions[of[k]]'s
	for i, sess := range sessions {
		if sess.in.buffered() {
			waiting[i] = true
			continue
		}
		// The number is used after Control returns: the sessions are
		// not running, so nothing closes their connections meanwhile.
		if fd, ok := socketFD(sess.nc); ok {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
			of = append(of, i)
		}
	}
	for len(fds) > 0 {
		batch := fds[:min(len(fds), 4096)]
		if _, err := unix.Poll(batch, 0); err == unix.EINTR {
			continue
		} else if err != nil {
			return waiting // an order, not a promise: the rest start in turn
		}
		for k, p := range batch {
			waiting[of[k]] = p.Revents != 0 // input, or the client hung up: either is news
		}
		fds, of = fds[len(batch):], of[len(batch):]
	}
	return waiting
}

// decMode bounds what a hostile or corrupt record can make the decoder do.
var decMode, _ = cbor.DecOptions{
	MaxNestedLevels:  64,
	MaxArrayElements: 1 << 20,
	MaxMapPairs:      1 << 20,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
	TagsMd:           cbor.TagsAllowed,
}.DecMode()

// Pause stops the session at its prompt (see package front's pauseExport); past
// graceCtx, a running evaluation is interrupted.
func (sess *Session) Pause(ctx, graceCtx context.Context) {
	sess.holdOutput()
	if sess.in.pause(graceCtx, sess.wake) || ctx.Err() != nil {
		return
	}
	// Still evaluating after the grace period: interrupt it.
	sess.Interrupt()
	sess.in.pause(ctx, sess.wake)
}

// AskPause is Pause without the wait (see package front's pauseExport): onStill
// is called once, and must not block, when the session is at rest or its
// client has gone.
func (sess *Session) AskPause(onStill func()) {
	sess.holdOutput()
	sess.in.askPause(sess.wake, onStill)
}

// holdOutput makes evaluated code's output wait until resume.
func (sess *Session) holdOutput() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.paused == nil {
		sess.paused = make(chan struct{})
		close(sess.pausing)
	}
}

// wake unblocks the input's pump from its read: a pause has begun.
func (sess *Session) wake() { sess.nc.SetReadDeadline(time.Now()) }

// Interrupt stops the session's evaluation for a pause, past its grace.
func (sess *Session) Interrupt() {
	sess.mu.Lock()
	sess.evalStopped = true
	sess.mu.Unlock()
	sess.in.interruptEval()
}

// Still reports whether the session is paused with its client connected.
func (sess *Session) Still() bool {
	sess.in.mu.Lock()
	defer sess.in.mu.Unlock()
	return sess.in.pumpIdle && sess.in.parked && sess.in.err == nil
}

// Resume undoes Pause and AskPause.
func (sess *Session) Resume() {
	sess.nc.SetReadDeadline(time.Time{})
	sess.in.resume()
	sess.mu.Lock()
	if sess.paused != nil {
		close(sess.paused)
		sess.paused = nil
		sess.pausing = make(chan struct{})
	}
	sess.evalStopped = false
	sess.mu.Unlock()
}

// Export records a paused session. ahead is the digest of the snapshot the
// other process restored this session's namespace from, or nil.
func (sess *Session) Export(ahead []byte, tails bool, drop ...string) (Exported, error) {
	info := sess.Info()
	st := SessionState{
		Version: StateVersion, ID: sess.id, User: info.User, Since: info.Since, Addr: sess.addr,
		CharMode: sess.charMode, LoginName: sess.loginName, LoginTry: sess.loginTry,
		Telnet: sess.conn.State(), Input: sess.in.state(), Chunk: sess.chunk.String(),
	}
	st.History, st.HistorySkip, st.HistoryTyped = sess.hist.export(tails && ahead != nil)
	sess.mu.Lock()
	st.Record = sess.record
	if skip, tail, ok := sess.recordMark.tail(sess.record); tails && ahead != nil && ok {
		st.Record, st.RecordSkip = tail, &skip
	}
	st.Shared = sess.shared
	if w := sess.watching; w != nil {
		st.Watching, st.WatchPending = w.target.id, w.pending()
	}
	sess.mu.Unlock()
	var lost []string
	state, sum, notes, saved := checkpoint(sess.ns)
	if saved && len(drop) == 0 {
		// Its worker's checkpoint is the namespace: no question to the
		// worker, no snapshot in the pause.
		st.Lost, lost = notes, notes
		if ahead != nil && bytes.Equal(sum, ahead) {
			st.Ahead = ahead
		} else {
			var snap namespace.Snapshot
			if err := decMode.Unmarshal(state, &snap); err != nil {
				return Exported{}, fmt.Errorf("its namespace's checkpoint: %w", err)
			}
			st.Namespace = &snap
		}
	} else if v, ok := sess.vouchedFor(ahead); ok && len(drop) == 0 {
		st.Ahead, st.Lost, lost = ahead, v.lost, v.lost // no snapshot: see Vouch
	} else if sess.ns != nil {
		snap, notes, err := sess.ns.Snapshot(drop...)
		if err != nil {
			return Exported{}, err
		}
		st.Lost, lost = notes, notes
		if ahead != nil && bytes.Equal(snap.Digest(), ahead) {
			st.Ahead = ahead
		} else {
			st.Namespace = &snap
		}
	}
	sock, kind, frame, err := socketOf(sess.nc)
	if err != nil {
		return Exported{}, err
	}
	st.Transport, st.TransportState = kind, frame
	data, err := cbor.Marshal(st)
	if err != nil {
		return Exported{}, err
	}
	return Exported{ID: sess.id, State: data, Conn: sock, Lost: lost}, nil
}
