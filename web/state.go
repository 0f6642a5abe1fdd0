package web

import (
	"errors"
	"fmt"
	"net"

	"github.com/fxamacker/cbor/v2"
)

// Kind names this framing in a session's handoff record
// (repl.Config.Transports).
const Kind = "websocket"

// stateVersion is the version of state this build writes and reads.
const stateVersion = 1

// state is a decoder at rest, as a migration carries it: the bytes read
// from the socket and not yet decoded, the frame it is in (its header
// already decoded: opcode, mask and how far into it), the control frame's
// payload so far, whether a fragmented message goes on, and a ping not
// answered yet.
type state struct {
	Version   int
	Buffered  []byte `cbor:",omitempty"`
	InFrame   bool   `cbor:",omitempty"`
	Op        uint8  `cbor:",omitempty"`
	Fin       bool   `cbor:",omitempty"`
	Key       []byte `cbor:",omitempty"`
	KeyPos    int    `cbor:",omitempty"`
	Remain    int64  `cbor:",omitempty"`
	Control   []byte `cbor:",omitempty"`
	InMessage bool   `cbor:",omitempty"`
	MsgSize   int64  `cbor:",omitempty"`
	Pong      []byte // nil: no pong owed; empty: one for an empty ping
}

func encodeState(d *decoder, pong []byte) ([]byte, error) {
	st := state{
		Version: stateVersion, Buffered: d.buffered(), InMessage: d.inMessage, MsgSize: d.msgSize, Pong: pong,
	}
	if d.cur.active {
		st.InFrame, st.Op, st.Fin, st.KeyPos, st.Remain = true, d.cur.op, d.cur.fin, d.cur.keyPos, d.cur.remain
		st.Key = d.cur.key[:]
		if d.cur.op >= opClose {
			st.Control = d.ctrl
		}
	}
	return cbor.Marshal(st)
}

var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   4,
		MaxMapPairs:       16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// decodeState decodes and checks a state another process wrote. It is
// hostile input: a record may come from a broken build.
func decodeState(data []byte) (*decoder, []byte, error) {
	var st state
	if len(data) > 2*bufSize {
		return nil, nil, errors.New("web: websocket state too large")
	}
	if err := decMode.Unmarshal(data, &st); err != nil {
		return nil, nil, fmt.Errorf("web: websocket state: %w", err)
	}
	if err := st.check(); err != nil {
		return nil, nil, fmt.Errorf("web: websocket state: %w", err)
	}
	d := newDecoder()
	d.w = copy(d.raw, st.Buffered)
	d.inMessage, d.msgSize = st.InMessage, st.MsgSize
	if st.InFrame {
		d.cur = frame{active: true, op: st.Op, fin: st.Fin, keyPos: st.KeyPos, remain: st.Remain}
		copy(d.cur.key[:], st.Key)
		d.ctrl = append(d.ctrl, st.Control...)
	}
	var pong []byte
	if st.Pong != nil {
		pong = append(make([]byte, 0, len(st.Pong)), st.Pong...)
	}
	return d, pong, nil
}

// check says whether st is a state the decoder can be in.
func (st *state) check() error {
	switch {
	case st.Version != stateVersion:
		return fmt.Errorf("version %d, this build reads version %d", st.Version, stateVersion)
	case len(st.Buffered) > bufSize:
		return fmt.Errorf("%d bytes buffered, more than %d", len(st.Buffered), bufSize)
	case len(st.Pong) > maxControl:
		return errors.New("an oversized ping")
	case st.MsgSize < 0 || st.MsgSize > MaxMessage:
		return fmt.Errorf("a message of %d bytes", st.MsgSize)
	case !st.InFrame:
		if st.Op != 0 || st.Fin || st.Key != nil || st.KeyPos != 0 || st.Remain != 0 || st.Control != nil {
			return errors.New("a frame's progress outside a frame")
		}
		return nil
	case len(st.Key) != 4 || st.KeyPos < 0 || st.KeyPos > 3 || st.Remain < 0:
		return errors.New("a malformed frame")
	}
	switch st.Op {
	case opClose, opPing, opPong:
		if !st.Fin || int64(len(st.Control))+st.Remain > maxControl {
			return errors.New("a malformed control frame")
		}
	case opContinuation, opText, opBinary:
		if st.Control != nil || st.Remain > st.MsgSize || st.InMessage == st.Fin {
			return errors.New("a malformed data frame")
		}
	default:
		return fmt.Errorf("unknown opcode %#x", st.Op)
	}
	return nil
}

// Resume wraps sock, a WebSocket's connection received from another
// process, in the framing state Frame returned there. It is
// repl.Config.Transports[Kind].
func Resume(sock net.Conn, state []byte) (net.Conn, error) {
	d, pong, err := decodeState(state)
	if err != nil {
		return nil, err
	}
	c := newConn(sock, d)
	c.pong = pong
	return c, nil
}
