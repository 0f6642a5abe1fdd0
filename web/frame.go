package web

import (
	"encoding/binary"
	"fmt"
)

// Opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes (RFC 6455 §7.4.1).
const (
	closeNormal   = 1000
	closeProtocol = 1002
	closeTooBig   = 1009
)

const (
	// MaxMessage bounds a data frame's payload and a message's (the sum
	// of its fragments): a browser sends each keystroke or paste as one
	// small message; ours splits pastes in 16 KiB pieces. A larger one is
	// answered with close 1009.
	MaxMessage = 64 << 10

	// bufSize is the decoder's buffer of raw bytes read from the socket
	// and not yet decoded: what a migration carries at most, besides a
	// control frame's 125 bytes.
	bufSize = 4096

	maxControl = 125
	maxHeader  = 2 + 8 + 4
)

// A ProtocolError is a peer's violation of RFC 6455: the Conn answers it
// with a close frame of Code and closes the connection.
type ProtocolError struct {
	Code   int
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("web: websocket close %d: %s", e.Code, e.Reason)
}

func protocolErr(code int, format string, args ...any) error {
	return &ProtocolError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// frame is the decoder's progress through the frame it is in, when active.
type frame struct {
	active bool
	op     byte
	fin    bool
	key    [4]byte
	keyPos int   // offset into key of the next payload byte (0..3)
	remain int64 // payload bytes still to come
}

// decoder decodes a client's frames from raw bytes, one event at a time.
// It owns no socket: the Conn feeds it, and it is at rest, with all its
// state in these fields, between any two calls to next. That is what
// lets a migration carry it (state.go).
type decoder struct {
	raw  []byte // bufSize bytes; raw[r:w] are read and not yet decoded
	r, w int

	cur       frame
	ctrl      []byte // the control frame's unmasked payload so far
	inMessage bool   // a fragmented data message awaits its continuation
	msgSize   int64  // the data message's payload so far, all fragments
}

func newDecoder() *decoder { return &decoder{raw: make([]byte, bufSize)} }

// events of decoder.next, besides data.
type event int

const (
	evData     event = iota // n bytes of payload were put in p
	evNeedMore              // feed more bytes (space, then wrote)
	evPing                  // ping: ctrl holds its payload
	evPong
	evClose // close: ctrl holds its payload
)

// space returns the part of raw that more bytes read from the socket go
// into, moving the undecoded bytes to the front first.
func (d *decoder) space() []byte {
	if d.r > 0 {
		d.w = copy(d.raw, d.raw[d.r:d.w])
		d.r = 0
	}
	return d.raw[d.w:]
}

// wrote records n bytes read into space.
func (d *decoder) wrote(n int) { d.w += n }

// buffered returns the bytes read and not yet decoded.
func (d *decoder) buffered() []byte { return d.raw[d.r:d.w] }

// next decodes what it can of the buffered bytes: payload of a data frame
// into p (evData, n > 0, or n == 0 only if len(p) == 0), a whole control
// frame, or nothing (evNeedMore). A violation is a *ProtocolError, after
// which the decoder must not be used.
func (d *decoder) next(p []byte) (n int, ev event, err error) {
	for {
		if !d.cur.active {
			ok, err := d.header()
			if err != nil || !ok {
				return 0, evNeedMore, err
			}
		}
		if d.cur.op >= opClose {
			if d.cur.remain > 0 {
				if d.r == d.w {
					return 0, evNeedMore, nil
				}
				m := int(min(d.cur.remain, int64(d.w-d.r)))
				start := len(d.ctrl)
				d.ctrl = append(d.ctrl, d.raw[d.r:d.r+m]...)
				d.unmask(d.ctrl[start:])
				d.r += m
				d.cur.remain -= int64(m)
				if d.cur.remain > 0 {
					return 0, evNeedMore, nil
				}
			}
			d.cur.active = false
			switch d.cur.op {
			case opPing:
				return 0, evPing, nil
			case opPong:
				return 0, evPong, nil
			default:
				return 0, evClose, nil
			}
		}
		if d.cur.remain == 0 {
			d.cur.active = false // an empty frame, or the end of one
			continue
		}
		if len(p) == 0 {
			return 0, evData, nil
		}
		if d.r == d.w {
			return 0, evNeedMore, nil
		}
		n = int(min(int64(len(p)), d.cur.remain, int64(d.w-d.r)))
		copy(p, d.raw[d.r:d.r+n])
		d.unmask(p[:n])
		d.r += n
		if d.cur.remain -= int64(n); d.cur.remain == 0 {
			d.cur.active = false
		}
		return n, evData, nil
	}
}

// unmask unmasks b, the next payload bytes of the current frame.
func (d *decoder) unmask(b []byte) {
	for i := range b {
		b[i] ^= d.cur.key[d.cur.keyPos]
		d.cur.keyPos = (d.cur.keyPos + 1) & 3
	}
}

// header decodes the next frame's header if all of it is buffered, and
// checks it: nothing is consumed until it is whole.
func (d *decoder) header() (bool, error) {
	b := d.raw[d.r:d.w]
	if len(b) < 2 {
		return false, nil
	}
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
	masked, size := b[1]&0x80 != 0, int64(b[1]&0x7f)
	hlen := 2
	switch size {
	case 126:
		hlen += 2
	case 127:
		hlen += 8
	}
	if masked {
		hlen += 4
	}
	if len(b) < hlen {
		return false, nil
	}
	switch size {
	case 126:
		size = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return false, protocolErr(closeProtocol, "a frame length with its high bit set")
		}
		size = int64(u)
	}
	switch {
	case rsv != 0:
		return false, protocolErr(closeProtocol, "reserved bits set (no extension was negotiated)")
	case !masked:
		return false, protocolErr(closeProtocol, "a client frame without a mask")
	}
	switch op {
	case opClose, opPing, opPong:
		if !fin || size > maxControl {
			return false, protocolErr(closeProtocol, "a fragmented or oversized control frame")
		}
	case opText, opBinary:
		if d.inMessage {
			return false, protocolErr(closeProtocol, "a new message before the last one ended")
		}
		d.msgSize = 0
	case opContinuation:
		if !d.inMessage {
			return false, protocolErr(closeProtocol, "a continuation frame outside a message")
		}
	default:
		return false, protocolErr(closeProtocol, "unknown opcode %#x", op)
	}
	if op < opClose {
		if size > MaxMessage || d.msgSize+size > MaxMessage {
			return false, protocolErr(closeTooBig, "a message over %d bytes", MaxMessage)
		}
		d.msgSize += size
		d.inMessage = !fin
	} else {
		d.ctrl = d.ctrl[:0]
	}
	d.cur = frame{active: true, op: op, fin: fin, remain: size}
	copy(d.cur.key[:], b[hlen-4:hlen])
	d.r += hlen
	return true, nil
}

// appendFrame appends a server frame (unmasked, final) of op and payload.
func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// closePayload is a close frame's payload: code, then reason, cut to fit.
func closePayload(code int, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason[:min(len(reason), maxControl-2)]...)
}
