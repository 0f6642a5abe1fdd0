package sshrelay

import (
	"io"
	"net"
	"sync"

	"translucent/telnet"
)

// pump relays one SSH session's bytes to and from its front connection,
// as a telnet client: the SSH side sees plain bytes, the front a telnet
// client in character mode that reports its window's size.
type pump struct {
	front net.Conn
	pty   bool // the client asked for a terminal: character mode, else line mode

	wmu sync.Mutex // orders writes to front: typed bytes, answers, sizes

	mu     sync.Mutex
	naws   bool // the front asked for NAWS and was told WILL; guarded by mu
	width  int  // the SSH client's window; guarded by mu
	height int  // guarded by mu

	sizeDue bool   // NAWS was just agreed: send the size after the answer; fromFront's
	first   []byte // what the front sent before the pump started; fromFront's
}

// newPump relays on front; pty says whether the SSH client has a
// terminal, of width and height.
func newPump(front net.Conn, pty bool, width, height int) *pump {
	return &pump{front: front, pty: pty, width: width, height: height}
}

// accept is the options the relay agrees to, with a terminal: it performs
// NAWS, and lets the front echo and suppress go-ahead, as a terminal's
// telnet does. Without one (ssh -T, a script), it agrees to none, and the
// front serves it in line mode, as it serves nc: the client's own side
// echoes and edits the line.
func (p *pump) accept(verb byte, opt telnet.Option) bool {
	switch {
	case !p.pty:
		return false
	case verb == telnet.DO && opt == telnet.NAWS:
		p.mu.Lock()
		p.sizeDue = !p.naws
		p.naws = true
		p.mu.Unlock()
		return true
	case verb == telnet.WILL && (opt == telnet.Echo || opt == telnet.SGA):
		return true
	}
	return false
}

func (p *pump) writeFront(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.front.Write(b)
	return err
}

// resize records the SSH client's new window size, and tells the front
// if it asked for sizes.
func (p *pump) resize(width, height int) error {
	p.mu.Lock()
	p.width, p.height = width, height
	on := p.naws
	p.mu.Unlock()
	if !on || width == 0 || height == 0 { // no size is better than a window of nothing
		return nil
	}
	return p.writeFront(nawsCommand(width, height))
}

// nawsCommand is IAC SB NAWS width height IAC SE, sides clamped to 16
// bits, a 255 in them doubled.
func nawsCommand(width, height int) []byte {
	b := []byte{telnet.IAC, telnet.SB, byte(telnet.NAWS)}
	for _, v := range []int{width, height} {
		v = min(max(v, 0), 0xffff)
		for _, x := range []byte{byte(v >> 8), byte(v)} {
			b = append(b, x)
			if x == telnet.IAC {
				b = append(b, telnet.IAC)
			}
		}
	}
	return append(b, telnet.IAC, telnet.SE)
}

// escape appends src to dst as telnet data: 0xFF doubled.
func escape(dst, src []byte) []byte {
	for _, x := range src {
		if x == telnet.IAC {
			dst = append(dst, telnet.IAC)
		}
		dst = append(dst, x)
	}
	return dst
}

// toFront copies what the SSH client types to the front until either
// side ends, and returns why. At the end of the client's input (io.EOF:
// ssh -T < file, or Ctrl-D at a terminal without a pty) it ends the last
// line and tells the front with IAC EOF, which the session takes as a
// Ctrl-D at its next prompt: the lines before it run, their output comes
// back, then the session logs out and the front closes the connection.
func (p *pump) toFront(in io.Reader) error {
	buf := make([]byte, 16<<10)
	var out []byte
	var last byte = '\n' // the last byte sent
	for {
		n, err := in.Read(buf)
		if n > 0 {
			out = escape(out[:0], buf[:n])
			if werr := p.writeFront(out); werr != nil {
				return werr
			}
			last = buf[n-1]
		}
		if err == io.EOF {
			end := []byte{telnet.IAC, telnet.EOF}
			if last != '\r' && last != '\n' {
				end = append([]byte("\r\n"), end...) // a last line without its newline still runs
			}
			if werr := p.writeFront(end); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// fromFront copies the front's output to the SSH client, its telnet
// commands stripped and answered, until either side ends, and returns why
// (io.EOF: the front ended the session).
func (p *pump) fromFront(out io.Writer) error {
	d := telnet.ClientDecoder{Accept: p.accept}
	buf := make([]byte, 32<<10)
	var data, reply []byte
	for {
		n, err := copy(buf, p.first), error(nil)
		p.first = nil
		if n == 0 {
			n, err = p.front.Read(buf)
		}
		if n > 0 {
			data, reply = d.Feed(data[:0], reply[:0], buf[:n])
			if len(reply) > 0 {
				p.mu.Lock()
				if p.sizeDue && p.width > 0 && p.height > 0 {
					reply = append(reply, nawsCommand(p.width, p.height)...)
					p.sizeDue = false
				}
				p.mu.Unlock()
				if werr := p.writeFront(reply); werr != nil {
					return werr
				}
			}
			if len(data) > 0 {
				if _, werr := out.Write(data); werr != nil {
					return werr
				}
			}
		}
		if err != nil {
			return err
		}
	}
}
