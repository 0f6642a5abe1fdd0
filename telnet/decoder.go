package telnet

// maxSB bounds a subnegotiation. NAWS needs 5 bytes and a terminal type a
// few dozen; anything longer is broken or hostile and is dropped.
const maxSB = 512

// aytReply answers IAC AYT.
const aytReply = "\r\n[translucent: yes]\r\n"

// special marks the bytes that are more than data outside a command.
var special = [256]bool{IAC: true, '\r': true, '\n': true, 0: true}

type step uint8

const (
	stepData   step = iota // between commands
	stepIAC                // after IAC
	stepOption             // after IAC WILL/WONT/DO/DONT; verb holds which
	stepSB                 // inside IAC SB; sb holds the option and what followed
	stepSBIAC              // after an IAC inside a subnegotiation
)

// decoder is where Read stopped in the peer's byte stream. It survives
// between reads, so a command may be split anywhere.
type decoder struct {
	step     step
	verb     byte
	sb       []byte // unescaped; never longer than maxSB
	overflow bool   // sb outgrew maxSB: this subnegotiation is dropped
	cr       bool   // the last data byte was CR: an LF or NUL next is part of it
}

// decodeLocked turns the raw bytes in b into data in place, since data is
// never longer than the bytes it came from, and returns the data's length.
// Answers due to the peer are queued in c.out. The caller holds c.mu.
func (c *Conn) decodeLocked(b []byte) int {
	d := &c.dec
	w := 0
	for i := 0; i < len(b); i++ {
		x := b[i]
		switch d.step {
		case stepData:
			if !special[x] {
				// Most input is plain text: take the whole run at once.
				j := i + 1
				for j < len(b) && !special[b[j]] {
					j++
				}
				w += copy(b[w:], b[i:j])
				d.cr = false
				i = j - 1
				continue
			}
			switch {
			case x == IAC:
				d.step = stepIAC
			case d.cr && (x == '\n' || x == 0):
				d.cr = false
			case x == '\r' || x == '\n':
				b[w] = '\r'
				w++
				d.cr = x == '\r'
			default:
				b[w] = x
				w++
				d.cr = false
			}
		case stepIAC:
			d.step = stepData
			if y, ok := c.commandLocked(x); ok {
				b[w] = y
				w++
				d.cr = false
			}
		case stepOption:
			d.step = stepData
			c.negotiateLocked(d.verb, Option(x))
		case stepSB:
			if x == IAC {
				d.step = stepSBIAC
			} else {
				d.appendSB(x)
			}
		case stepSBIAC:
			switch x {
			case IAC:
				d.appendSB(IAC)
				d.step = stepSB
			case SE:
				if !d.overflow {
					c.subnegotiateLocked(d.sb)
				}
				d.endSB()
			default:
				// A command inside a subnegotiation means the peer never
				// finished it: drop it and obey the command, so that the
				// stream recovers.
				d.endSB()
				d.step = stepIAC
				i--
			}
		}
	}
	return w
}

// commandLocked handles IAC x and returns the data byte it stands for, if
// any. The caller holds c.mu.
func (c *Conn) commandLocked(x byte) (byte, bool) {
	d := &c.dec
	switch x {
	case IAC:
		return IAC, true
	case IP, BRK:
		return 0x03, true // Ctrl-C
	case EC:
		return 0x7f, true // DEL
	case EL:
		return 0x15, true // Ctrl-U
	case EOF:
		// What a terminal's Ctrl-D means: the end of the input. The SSH
		// relay sends it when its client closes its side of the channel
		// (ssh -T < file), so that every line before it still runs and
		// its output still reaches the client.
		return 0x04, true // Ctrl-D
	case AYT:
		// One answer covers every AYT that arrives before it is written: a
		// peer that asks without reading must not make answers pile up.
		if c.sent >= c.aytEnd {
			c.out = append(c.out, aytReply...)
			c.aytEnd = c.sent + int64(len(c.out))
		}
	case WILL, WONT, DO, DONT:
		d.verb = x
		d.step = stepOption
	case SB:
		if d.sb == nil {
			d.sb = make([]byte, 0, maxSB)
		}
		d.step = stepSB
	}
	// NOP, DM, GA, AO, a stray SE and codes nobody defined mean nothing to
	// a server that keeps no output queue.
	return 0, false
}

func (d *decoder) appendSB(x byte) {
	if len(d.sb) == maxSB {
		d.overflow = true
		return
	}
	d.sb = append(d.sb, x)
}

func (d *decoder) endSB() {
	d.sb = d.sb[:0]
	d.overflow = false
	d.step = stepData
}

// subnegotiateLocked handles a complete subnegotiation: its option, then
// its parameters. Malformed ones are ignored. The caller holds c.mu.
func (c *Conn) subnegotiateLocked(sb []byte) {
	if len(sb) == 0 {
		return
	}
	switch Option(sb[0]) {
	case NAWS:
		if len(sb) == 5 {
			c.width = int(sb[1])<<8 | int(sb[2])
			c.height = int(sb[3])<<8 | int(sb[4])
			c.resized = true
		}
	case TTYPE:
		if len(sb) >= 2 && sb[1] == ttypeIS {
			c.ttype = string(sb[2:])
		}
	}
}

// pending returns the unfinished command d is in the middle of, as the
// peer sent it, so that decoding it again restores d. An oversized
// subnegotiation keeps only its start: its content is dropped anyway.
func (d *decoder) pending() []byte {
	switch d.step {
	case stepIAC:
		return []byte{IAC}
	case stepOption:
		return []byte{IAC, d.verb}
	case stepSB, stepSBIAC:
		p := []byte{IAC, SB}
		if !d.overflow {
			for _, x := range d.sb {
				p = append(p, x)
				if x == IAC {
					p = append(p, IAC)
				}
			}
		}
		if d.step == stepSBIAC {
			p = append(p, IAC)
		}
		return p
	}
	return nil
}
