package telnet

import "strconv"

// Commands, each sent after IAC (RFC 854).
const (
	EOF  = 236 // end of file (RFC 1184)
	SE   = 240 // end of subnegotiation
	NOP  = 241
	DM   = 242 // data mark
	BRK  = 243 // break
	IP   = 244 // interrupt process
	AO   = 245 // abort output
	AYT  = 246 // are you there
	EC   = 247 // erase character
	EL   = 248 // erase line
	GA   = 249 // go ahead
	SB   = 250 // start of subnegotiation
	WILL = 251
	WONT = 252
	DO   = 253
	DONT = 254
	IAC  = 255 // interpret as command
)

// Option is a telnet option code.
type Option byte

// The options this package negotiates.
const (
	Echo  Option = 1  // RFC 857
	SGA   Option = 3  // suppress go ahead, RFC 858
	TTYPE Option = 24 // terminal type, RFC 1091
	NAWS  Option = 31 // negotiate about window size, RFC 1073
)

func (o Option) String() string {
	switch o {
	case Echo:
		return "ECHO"
	case SGA:
		return "SGA"
	case TTYPE:
		return "TTYPE"
	case NAWS:
		return "NAWS"
	}
	return "option " + strconv.Itoa(int(o))
}

// We perform ECHO and SGA ourselves: together they put a client in
// character mode, so that the server edits the line.
func localOK(o Option) bool { return o == Echo || o == SGA }

// The peer may suppress go-ahead and tell us its window size and terminal
// type. Its ECHO in particular is refused: the server echoes.
func remoteOK(o Option) bool { return o == SGA || o == NAWS || o == TTYPE }

// Subnegotiation codes of TTYPE (RFC 1091).
const (
	ttypeIS   = 0
	ttypeSEND = 1
)

// QState is the state of one side of one option in the Q method of
// RFC 1143.
type QState uint8

const (
	QNo      QState = iota // disabled
	QYes                   // enabled
	QWantNo                // we asked to disable and await the answer
	QWantYes               // we asked to enable and await the answer
)

func (q QState) String() string {
	switch q {
	case QNo:
		return "NO"
	case QYes:
		return "YES"
	case QWantNo:
		return "WANTNO"
	case QWantYes:
		return "WANTYES"
	}
	return "QState(" + strconv.Itoa(int(q)) + ")"
}

// side is one side of an option: us (WILL/WONT, answered by DO/DONT) or
// him (DO/DONT, answered by WILL/WONT).
type side struct {
	state    QState
	opposite bool // the queue bit: once answered, ask for the opposite
}

// option is the state of both sides of one option.
type option struct {
	us, him side
}

// recv applies the peer's message to s: yes for WILL (or DO), no for WONT
// (or DONT). accept says whether we agree to enable the option. It returns
// whether to answer and with which (yes for DO or WILL). The table is
// RFC 1143 section 7; the errors it names are treated as it advises.
func (s *side) recv(yes, accept bool) (send, answer bool) {
	if yes {
		switch s.state {
		case QNo:
			if accept {
				s.state = QYes
				return true, true
			}
			return true, false
		case QWantNo:
			// The peer answered our refusal with consent: it is confused,
			// but the option is now in the state it says.
			if s.opposite {
				s.state, s.opposite = QYes, false
			} else {
				s.state = QNo
			}
		case QWantYes:
			if s.opposite {
				s.state, s.opposite = QWantNo, false
				return true, false
			}
			s.state = QYes
		}
		return false, false
	}
	switch s.state {
	case QYes:
		s.state = QNo
		return true, false
	case QWantNo:
		if s.opposite {
			s.state, s.opposite = QWantYes, false
			return true, true
		}
		s.state = QNo
	case QWantYes:
		s.state, s.opposite = QNo, false
	}
	return false, false
}

// enable asks for s to be enabled and reports whether to send the request
// (WILL or DO). An option already on, or already asked for, sends nothing.
func (s *side) enable() bool {
	switch s.state {
	case QNo:
		s.state = QWantYes
		return true
	case QWantNo:
		s.opposite = true
	case QWantYes:
		s.opposite = false
	}
	return false
}

// negotiateLocked handles IAC verb opt from the peer, queueing any answer
// in c.out. The caller holds c.mu.
func (c *Conn) negotiateLocked(verb byte, opt Option) {
	o := &c.opts[opt]
	switch verb {
	case WILL, WONT:
		was := o.him.state
		if send, yes := o.him.recv(verb == WILL, remoteOK(opt)); send {
			c.out = append(c.out, IAC, pick(yes, DO, DONT), byte(opt))
		}
		if opt == TTYPE && was != QYes && o.him.state == QYes {
			c.out = append(c.out, IAC, SB, byte(TTYPE), ttypeSEND, IAC, SE)
		}
	case DO, DONT:
		was := o.us.state
		if send, yes := o.us.recv(verb == DO, localOK(opt)); send {
			c.out = append(c.out, IAC, pick(yes, WILL, WONT), byte(opt))
		}
		// The peer has answered about ECHO once it settles the option, or
		// turns it on of its own accord; a DONT for an option that was
		// never offered answers nothing.
		now := o.us.state
		if opt == Echo && (now == QYes || now == QNo && was != QNo) {
			c.answerLocked()
		}
	}
}

// requestLocked asks to enable opt on our side (local) or the peer's, and
// appends the request to out if one is due. The caller holds c.mu.
func (c *Conn) requestLocked(out []byte, opt Option, local bool) []byte {
	o := &c.opts[opt]
	switch {
	case local && o.us.enable():
		out = append(out, IAC, WILL, byte(opt))
	case !local && o.him.enable():
		out = append(out, IAC, DO, byte(opt))
	}
	return out
}

func pick(cond bool, yes, no byte) byte {
	if cond {
		return yes
	}
	return no
}
