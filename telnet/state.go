package telnet

import (
	"bytes"
	"net"
)

// State is everything a Conn knows about its peer, as plain data that
// encodes with encoding/json or CBOR, so that another process can take the
// connection over (see Restore).
type State struct {
	// Options holds, in increasing order of option, every option whose
	// state differs from both sides off with nothing queued.
	Options []OptionState

	// EchoAnswered is whether Answered is closed.
	EchoAnswered bool

	Width, Height int    // last NAWS report, 0 if none
	TerminalType  string // last TTYPE IS, "" if none

	// Pending is the command the peer has begun but not finished, as it
	// sent it (IAC, IAC DO, IAC SB NAWS 0 ...); empty between commands.
	Pending []byte
	// SBOverflow is whether the subnegotiation in Pending outgrew the
	// limit, in which case Pending holds only its start and the rest of it
	// is dropped.
	SBOverflow bool
	// CR is whether the last data byte was a CR, so that an LF or NUL
	// arriving next belongs to it.
	CR bool

	// Unsent is what the Conn owes the peer and has not yet written, in
	// order: answers to its commands, our offers. A client that does not
	// read leaves them here; Restore sends them first.
	Unsent []byte
}

// OptionState is the Q-method state (RFC 1143) of both sides of an option.
type OptionState struct {
	Option Option
	Us     QState // whether we perform it (WILL)
	UsQ    bool   // the queue bit of Us: OPPOSITE if set
	Him    QState // whether the peer performs it (DO)
	HimQ   bool
}

// State returns a snapshot of c. It never waits on the client, not even
// one that does not read. It describes the connection exactly only while no
// Read runs and nothing is being written: stop the reader first, with a
// read deadline on NetConn, and a write that waits on the client with a
// write deadline; then resume them or hand the state over. A write still
// under way may go on to send some of Unsent, which the peer then receives
// twice; nothing it owes is left out.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{
		EchoAnswered: c.isAnswered,
		Width:        c.width,
		Height:       c.height,
		TerminalType: c.ttype,
		Pending:      c.dec.pending(),
		SBOverflow:   c.dec.overflow,
		CR:           c.dec.cr,
	}
	if len(c.out) > 0 {
		s.Unsent = bytes.Clone(c.out)
	}
	for i, o := range c.opts {
		if o != (option{}) {
			s.Options = append(s.Options, OptionState{
				Option: Option(i),
				Us:     o.us.state, UsQ: o.us.opposite,
				Him: o.him.state, HimQ: o.him.opposite,
			})
		}
	}
	return s
}

// Restore returns a Conn over nc that continues where the Conn that
// produced s left off. It sends nothing itself: what s.Unsent holds goes
// first, on the first Read or Write. Values s could not have come from
// State are made harmless rather than trusted: an unknown QState counts as
// QNo, and Pending cannot act, only be continued.
func Restore(nc net.Conn, s State) *Conn {
	// Decoding Pending again rebuilds the decoder; a scratch Conn absorbs
	// whatever a malformed Pending would do beyond that. Neither Conn is
	// shared yet, so neither needs its lock.
	scratch := NewConn(nil)
	scratch.decodeLocked(append([]byte(nil), s.Pending...))

	c := NewConn(nc)
	c.dec = scratch.dec
	c.dec.cr = s.CR
	if s.SBOverflow && (c.dec.step == stepSB || c.dec.step == stepSBIAC) {
		c.dec.overflow = true
	}
	for _, o := range s.Options {
		c.opts[o.Option] = option{
			us:  side{state: valid(o.Us), opposite: o.UsQ},
			him: side{state: valid(o.Him), opposite: o.HimQ},
		}
	}
	c.width, c.height, c.ttype = s.Width, s.Height, s.TerminalType
	c.out = bytes.Clone(s.Unsent)
	if s.EchoAnswered {
		c.answerLocked()
	}
	return c
}

func valid(q QState) QState {
	if q > QWantYes {
		return QNo
	}
	return q
}
