package telnet

// ClientDecoder is the receiving side of telnet for a minimal client: a
// script, the benchmark's sessions, the demo. It takes the server's stream
// apart into data and commands, keeping its state across reads so that a
// command split between two is still recognised, and it gives the answers
// that refuse every option offered (DONT for WILL, WONT for DO), which keep
// the server in the NVT's plain line mode. A client that answers nothing
// ignores them; the server then serves it in line mode all the same.
type ClientDecoder struct {
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
			switch d.verb {
			case WILL:
				reply = append(reply, IAC, DONT, x)
			case DO:
				reply = append(reply, IAC, WONT, x)
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
