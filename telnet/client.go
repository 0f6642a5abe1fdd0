package telnet

// ClientDecoder is the receiving side of telnet for a minimal client: a
// script, the benchmark's sessions, the demo. It takes the server's stream
// apart into data and commands, keeping its state across reads so that a
// command split between two is still recognised, and it gives the answers
// that refuse every option offered (DONT for WILL, WONT for DO), which keep
// the server in the NVT's plain line mode. A client that answers nothing
// ignores them; the server then serves it in line mode all the same.
type ClientDecoder struct {
	// Accept, when set, picks the options this client agrees to: verb is
	// DO (the server asks it to perform opt) or WILL (the server offers
	// to). It is answered WILL or DO; the rest are refused as above. A
	// request is answered each time it comes: a server that follows RFC
	// 1143, as ours does, never repeats one it had agreed to.
	Accept func(verb byte, opt Option) bool

	state int // 0 data, 1 after IAC, 2 after IAC and a verb, 3 in SB, 4 IAC in SB
	verb  byte
}

// Feed appends the data of b to data (an escaped 255 once, CR and NUL as
// they came) and the refusals b calls for to reply.
func (d *ClientDecoder) Feed(data, reply, b []byte) ([]byte, []byte) {
	for _, x := range b {
		switch d.state {
		case 0:
			if x == IAC {
				d.state = 1
			} else {
				data = append(data, x)
			}
		case 1:
			switch {
			case x == IAC: // an escaped 255 is data
				data = append(data, x)
				d.state = 0
			case x >= WILL && x <= DONT:
				d.verb, d.state = x, 2
			case x == SB:
				d.state = 3
			default: // a two-byte command: GA, NOP and the like
				d.state = 0
			}
		case 2:
			yes := d.Accept != nil && (d.verb == WILL || d.verb == DO) && d.Accept(d.verb, Option(x))
			switch d.verb {
			case WILL:
				reply = append(reply, IAC, pick(yes, DO, DONT), x)
			case DO:
				reply = append(reply, IAC, pick(yes, WILL, WONT), x)
			}
			// WONT and DONT need no answer: every option stays off.
			d.state = 0
		case 3:
			if x == IAC {
				d.state = 4
			}
		case 4:
			if x == SE {
				d.state = 0
			} else {
				d.state = 3
			}
		}
	}
	return data, reply
}
