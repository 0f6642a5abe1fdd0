package worker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// WireVersion is the version of the front–worker wire this build speaks. A
// worker says it in its hello; the front refuses any other.
const WireVersion = 1

// Frame kinds: the first byte of every frame.
const (
	// front → worker
	kindOpen      = 'O' // openMsg: a new namespace, or one restored from a snapshot
	kindEval      = 'E' // evalMsg: evaluate a chunk
	kindInterrupt = 'I' // empty: stop the running evaluation
	kindCall      = 'C' // callMsg: a question about the namespace (vars, snapshot, …)
	kindAck       = 'A' // ackMsg: output written to the client; more may come
	kindClose     = 'X' // empty: the session is over
	kindReplace   = 'R' // replaceMsg: make the namespace this snapshot (answered with kindOpened)
	kindCollect   = 'G' // empty, session 0: collect the garbage now (Pool.Collect), then say kindCollected

	// worker → front
	kindHello     = 'W' // helloMsg, session 0: the worker runs and speaks WireVersion
	kindOpened    = 'o' // openedMsg
	kindOutput    = 'p' // raw bytes the session's code printed
	kindDone      = 'd' // doneMsg: the evaluation ended
	kindSaved     = 's' // savedMsg: the namespace's state after the evaluation
	kindReply     = 'r' // replyMsg
	kindCollected = 'g' // empty, session 0: the collection kindCollect asked for is over
)

const (
	headerSize = 1 + 8 + 4 // kind, session, payload length
	// maxState bounds a snapshot on the wire, as migrate bounds a session
	// record: a namespace larger than this is not checkpointed (the front
	// keeps its last smaller checkpoint and says so).
	maxState = 64 << 20
	// maxOutputFrame is the most output one frame carries; outputWindow is
	// the output a worker may send for a session before the front has
	// written it to the client (flow control: a client that does not read
	// stops the code that prints, not the front).
	maxOutputFrame = 32 << 10
	outputWindow   = 256 << 10
)

// ErrProtocol reports a frame that breaks the wire format: from a worker,
// that ends the worker.
var ErrProtocol = errors.New("worker: protocol error")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// frameLimit is the largest payload of each kind a reader accepts; ok is
// false for an unknown kind.
func frameLimit(kind byte) (limit int, ok bool) {
	switch kind {
	case kindOpen, kindReplace, kindSaved, kindReply:
		return maxState + 1<<20, true
	case kindEval:
		return 2 << 20, true
	case kindOutput:
		return maxOutputFrame, true
	case kindInterrupt, kindClose, kindCollect, kindCollected:
		return 0, true
	case kindCall, kindAck, kindHello, kindOpened, kindDone:
		return 1 << 20, true
	}
	return 0, false
}

type frame struct {
	kind    byte
	session uint64
	payload []byte
}

// readFrame reads one frame. Its payload grows only as its bytes arrive,
// so a hostile length costs nothing until it is sent.
func readFrame(r *bufio.Reader) (frame, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{kind: h[0], session: binary.BigEndian.Uint64(h[1:9])}
	n := binary.BigEndian.Uint32(h[9:13])
	limit, ok := frameLimit(f.kind)
	if !ok {
		return frame{}, protocolErrorf("unknown frame kind %q", f.kind)
	}
	if int64(n) > int64(limit) {
		return frame{}, protocolErrorf("frame %q of %d bytes, limit %d", f.kind, n, limit)
	}
	if n == 0 {
		return f, nil
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	f.payload = b.Bytes()
	return f, nil
}

// frameWriter writes whole frames from any goroutine.
type frameWriter struct {
	mu sync.Mutex
	w  *bufio.Writer // guarded by mu
}

func newFrameWriter(w io.Writer) *frameWriter {
	return &frameWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

// write sends one frame whose payload is raw bytes, or the CBOR of msg.
func (fw *frameWriter) write(kind byte, session uint64, msg any) error {
	var payload []byte
	switch m := msg.(type) {
	case nil:
	case []byte:
		payload = m
	default:
		b, err := cbor.Marshal(m)
		if err != nil {
			return fmt.Errorf("worker: encoding %q: %w", kind, err)
		}
		payload = b
	}
	if limit, _ := frameLimit(kind); len(payload) > limit {
		return fmt.Errorf("worker: frame %q of %d bytes is over its limit of %d", kind, len(payload), limit)
	}
	var h [headerSize]byte
	h[0] = kind
	binary.BigEndian.PutUint64(h[1:9], session)
	binary.BigEndian.PutUint32(h[9:13], uint32(len(payload)))
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(h[:]); err != nil {
		return err
	}
	if _, err := fw.w.Write(payload); err != nil {
		return err
	}
	return fw.w.Flush()
}

// decMode bounds what a hostile or corrupt payload can make the decoder do.
var decMode, _ = cbor.DecOptions{
	MaxNestedLevels:  64,
	MaxArrayElements: 1 << 20,
	MaxMapPairs:      1 << 20,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
	TagsMd:           cbor.TagsAllowed,
}.DecMode()

func decode(f frame, v any) error {
	if err := decMode.Unmarshal(f.payload, v); err != nil {
		return protocolErrorf("frame %q: %v", f.kind, err)
	}
	return nil
}

type helloMsg struct {
	Version int
	Pid     int
}

type openMsg struct {
	Version      string // sys.Version
	ServerPid    int    // sys.Pid
	Unrestricted bool
	State        []byte `cbor:",omitempty"` // CBOR of a namespace.Snapshot; empty: a new namespace
	Recycle      int    `cbor:",omitempty"` // evaluations after which the interpreter is rebuilt from its snapshot
	Idle         bool   `cbor:",omitempty"` // restore at the lowest CPU priority: it is ahead of need
}

// replaceMsg brings an open namespace to a snapshot: one restored ahead of
// a migration, whose session changed after (see Namespace.Replace).
type replaceMsg struct {
	State []byte // CBOR of a namespace.Snapshot
}

type openedMsg struct {
	Err string `cbor:",omitempty"`
}

type evalMsg struct {
	Src string
}

// Outcomes of an evaluation (doneMsg.Kind), for the errors of namespace.
const (
	evalOK = iota
	evalIncomplete
	evalInterrupted
	evalBusy
	evalClosed
	evalError // any other error: Err is its text
)

type doneMsg struct {
	Line     uint64 // evaluations that ended in this worker, this one included
	Kind     int
	Value    string `cbor:",omitempty"`
	HasValue bool   `cbor:",omitempty"`
	Err      string `cbor:",omitempty"`
}

func (d doneMsg) result() (namespace.Result, error) {
	switch d.Kind {
	case evalOK:
		return namespace.Result{Value: d.Value, HasValue: d.HasValue}, nil
	case evalIncomplete:
		return namespace.Result{}, namespace.ErrIncomplete
	case evalInterrupted:
		return namespace.Result{}, namespace.ErrInterrupted
	case evalBusy:
		return namespace.Result{}, namespace.ErrBusy
	case evalClosed:
		return namespace.Result{}, namespace.ErrClosed
	}
	return namespace.Result{}, errors.New(d.Err)
}

func doneOf(res namespace.Result, err error) doneMsg {
	switch {
	case err == nil:
		return doneMsg{Kind: evalOK, Value: res.Value, HasValue: res.HasValue}
	case errors.Is(err, namespace.ErrIncomplete):
		return doneMsg{Kind: evalIncomplete}
	case errors.Is(err, namespace.ErrInterrupted):
		return doneMsg{Kind: evalInterrupted}
	case errors.Is(err, namespace.ErrBusy):
		return doneMsg{Kind: evalBusy}
	case errors.Is(err, namespace.ErrClosed):
		return doneMsg{Kind: evalClosed}
	}
	return doneMsg{Kind: evalError, Err: err.Error()}
}

// savedMsg is a checkpoint: the namespace as it is after an evaluation,
// from which the front restores it if a later line ends the worker.
type savedMsg struct {
	Line  uint64   // the doneMsg.Line it is the state after
	State []byte   `cbor:",omitempty"` // CBOR of namespace.Snapshot; empty when Err is set
	Lost  []string `cbor:",omitempty"`
	Err   string   `cbor:",omitempty"`
	// Settled says the namespace stays this state until the front asks
	// something of it (see namespace.Namespace.Revision): nothing its code
	// started was running while it was taken. Only then may the front
	// vouch for the namespace from the checkpoint alone.
	Settled bool `cbor:",omitempty"`
}

// Questions a callMsg asks.
const (
	opVars = iota + 1
	opImports
	opRevision
	opSnapshot // Args: variables to leave out
	opDrop     // Args[0]
	opUndrop   // Args[0]
	opDropped
	opComplete // Args: the source before and after the cursor
	opTypeOf   // Args[0]: an expression; the reply's Strs[0] is its type
)

type callMsg struct {
	ID   uint64
	Op   int
	Args []string `cbor:",omitempty"`
}

type replyMsg struct {
	ID    uint64
	Err   string          `cbor:",omitempty"`
	Strs  []string        `cbor:",omitempty"`
	Vars  []namespace.Var `cbor:",omitempty"`
	Rev   uint64          `cbor:",omitempty"`
	OK    bool            `cbor:",omitempty"` // settled (opRevision), found (opUndrop)
	State []byte          `cbor:",omitempty"`
	Lost  []string        `cbor:",omitempty"`
	// Completion answers opComplete; the front checks it against the
	// source it sent (see Namespace.Complete).
	Completion *namespace.Completion `cbor:",omitempty"`
}

type ackMsg struct {
	N int
}
