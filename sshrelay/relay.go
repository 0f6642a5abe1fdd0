package sshrelay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// handshakeTimeout bounds an SSH client's handshake and login, as the
	// front's login timeout does a telnet client's.
	handshakeTimeout = time.Minute
	// askTimeout bounds a password or key question to the front: the
	// front's delay after a wrong password and its queue of checks are
	// within it.
	askTimeout = 30 * time.Second
	// maxAuthTries is the telnet login's: three wrong passwords end it.
	maxAuthTries = 3
)

// Relay serves SSH clients and relays their sessions to the front.
type Relay struct {
	Front   string     // the front's Unix socket
	HostKey ssh.Signer // the server's identity
	Logger  *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open SSH connections; guarded by mu
	closed bool                  // guarded by mu
	wg     sync.WaitGroup        // one per connection goroutine
}

// Serve accepts SSH connections on ln until ctx ends, then closes ln and
// every connection, waits for their goroutines, and returns nil; another
// accept error ends it too and is returned.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched := make(chan struct{})
	go func() { // ends with ctx
		defer close(watched)
		r.watchFront(ctx, cancel)
	}()
	defer func() { <-watched }()
	r.mu.Lock()
	r.conns = map[net.Conn]struct{}{}
	r.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		r.mu.Lock()
		r.closed = true
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
	})
	defer stop()
	cfg := r.config()
	var delay time.Duration
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				r.Logger.Warn("accept", "err", err, "retry", delay)
				time.Sleep(delay)
				continue
			}
			break
		}
		delay = 0
		if !r.track(c) {
			c.Close()
			continue
		}
		r.wg.Add(1)
		go func() { // ends when the connection does
			defer r.wg.Done()
			defer r.untrack(c)
			r.serveConn(c, cfg)
		}()
	}
	ln.Close()
	stop()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

// Every frontCheck, the relay dials the front; when frontMisses dials in
// a row find no process listening, the server is gone (killed: a clean stop
// stops the relay) and the relay stops, freeing the SSH port for the next
// server.
const (
	frontCheck  = 5 * time.Second
	frontMisses = 3
)

func (r *Relay) watchFront(ctx context.Context, stop context.CancelFunc) {
	t := time.NewTicker(frontCheck)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := net.DialTimeout("unix", r.Front, frontCheck)
		if err == nil {
			c.Close() // the front takes a connection without a request for this
			misses = 0
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			continue
		}
		if misses++; misses >= frontMisses {
			r.Logger.Error("the server is gone (nothing listens on its socket); stopping", "front", r.Front, "err", err)
			stop()
			return
		}
	}
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *Relay) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  maxAuthTries,
		ServerVersion: "SSH-2.0-translucent",
		PasswordCallback: func(m ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			return r.ask(Request{Kind: KindPassword, User: m.User(), Addr: m.RemoteAddr().String(), Password: string(password)})
		},
		PublicKeyCallback: func(m ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return r.ask(Request{Kind: KindKey, User: m.User(), Addr: m.RemoteAddr().String(), Key: key.Marshal()})
		},
	}
	cfg.AddHostKey(r.HostKey)
	return cfg
}

// errRefused is what an SSH client is told of a wrong password or key.
var errRefused = errors.New("sshrelay: refused")

// ask puts a password or key question to the front.
func (r *Relay) ask(req Request) (*ssh.Permissions, error) {
	b, err := req.Marshal()
	if err != nil {
		return nil, err // a name or password over the limits: no one's
	}
	var yes bool
	c, err := r.dialFront(func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(askTimeout))
		if _, err := c.Write(b); err != nil {
			return err
		}
		yes, err = readAnswer(c)
		return err
	})
	if err == nil {
		c.Close()
	}
	if err != nil {
		r.Logger.Error("the front did not answer", "front", r.Front, "err", err)
		return nil, err
	}
	if !yes {
		return nil, errRefused
	}
	return &ssh.Permissions{}, nil
}

// frontTries bounds the connections dialFront makes for one request.
const frontTries = 5

// dialFront connects to the front, runs f on the connection and returns
// it, or closes it and returns f's error. When the front hangs up before
// saying a word (io.EOF: a process that has just handed the socket to its
// successor, and took this connection as it left), it dials again, a few
// times.
func (r *Relay) dialFront(f func(net.Conn) error) (net.Conn, error) {
	var err error
	for try := 1; try <= frontTries; try++ {
		var c net.Conn
		if c, err = net.DialTimeout("unix", r.Front, askTimeout); err != nil {
			return nil, err
		}
		if err = f(c); err == nil {
			return c, nil
		}
		c.Close()
		if !errors.Is(err, io.EOF) {
			return nil, err
		}
		time.Sleep(time.Duration(try) * 50 * time.Millisecond) // the successor is taking over
	}
	return nil, err
}

// serveConn runs one SSH connection: handshake and login, then each
// session channel, until the client leaves.
func (r *Relay) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	log := r.Logger.With("addr", c.RemoteAddr().String())
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		log.Info("ssh login failed", "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	log = log.With("user", sc.User())
	log.Info("ssh connection")
	go ssh.DiscardRequests(reqs) // global requests (tcpip-forward...): refused; ends with sc
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "translucent serves sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() { // ends when the channel does
			defer wg.Done()
			r.serveChannel(sc, ch, creqs, log)
		}()
	}
	log.Info("ssh connection closed")
}

// serveChannel serves one session channel's requests: pty-req and
// window-change at any time, one shell, which starts the relay to the
// front; exec and the rest are refused.
func (r *Relay) serveChannel(sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request, log *slog.Logger) {
	var term string
	var width, height int
	var pty bool
	var p *pump
	done := make(chan struct{}) // closed when the shell's relay ends
	defer func() {
		ch.Close()
		if p != nil {
			p.front.Close()
			<-done
		}
	}()
	for {
		var req *ssh.Request
		select {
		case req = <-reqs:
		case <-done:
			return
		}
		if req == nil {
			return // the client closed the channel
		}
		ok := false
		switch req.Type {
		case "pty-req":
			if t, w, h, good := parsePty(req.Payload); good && p == nil {
				term, width, height, pty, ok = t, w, h, true, true
			}
		case "window-change":
			if w, h, good := parseWindow(req.Payload); good {
				width, height, ok = w, h, true
				if p != nil {
					p.resize(w, h)
				}
			}
		case "shell":
			if p == nil {
				var err error
				if p, err = r.open(sc, pty, term, width, height); err != nil {
					log.Error("the front is not reachable", "err", err)
					fmt.Fprintf(ch.Stderr(), "translucent: the server is not reachable right now (%v); try again later\r\n", err)
				} else {
					ok = true
					go r.relay(p, ch, done, log) // ends with the session
				}
			}
		case "exec":
			// Accepted only to be answered: OpenSSH shows no message that
			// comes with a refusal, just "exec request failed".
			ok = true
			fmt.Fprint(ch.Stderr(), "translucent: this server is an interactive Go REPL; it runs no commands: connect without one (ssh -t HOST)\r\n")
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if req.Type == "exec" || req.Type == "shell" && !ok {
			sendExit(ch, 1)
			ch.CloseWrite()
			return
		}
	}
}

// open dials the front and asks it for a session, and waits for the
// front's first words (its telnet offers), so that a front that hangs up
// at once is dialled again (dialFront) before the client types anything.
func (r *Relay) open(sc *ssh.ServerConn, pty bool, term string, width, height int) (*pump, error) {
	b, err := Request{Kind: KindSession, User: sc.User(), Addr: sc.RemoteAddr().String(), Term: term, Width: width, Height: height}.Marshal()
	if err != nil {
		return nil, err
	}
	var first []byte
	c, err := r.dialFront(func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(askTimeout))
		if _, err := c.Write(b); err != nil {
			return err
		}
		first = make([]byte, 512)
		n, err := c.Read(first)
		if n == 0 {
			return err
		}
		first = first[:n]
		c.SetDeadline(time.Time{})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p := newPump(c, pty, width, height)
	p.first = first
	return p, nil
}

// relay copies the session's bytes both ways until either side ends, then
// closes the front's connection and the channel, and closes done.
func (r *Relay) relay(p *pump, ch ssh.Channel, done chan<- struct{}, log *slog.Logger) {
	defer close(done)
	defer p.front.Close()
	typed := make(chan error, 1)
	go func() { // ends when ch or the front connection does
		err := p.toFront(ch)
		if !errors.Is(err, io.EOF) {
			p.front.Close() // the client left: its session ends (and any evaluation with it)
		}
		// At the end of the client's input only, the front was told
		// (toFront) and ends the session once the lines before it have
		// run; fromFront relays their output until then. A client that
		// closes the channel meanwhile ends it at once (serveChannel).
		typed <- err
	}()
	shown := p.fromFront(ch)
	if errors.Is(shown, io.EOF) {
		sendExit(ch, 0) // the session ended at the front (logout)
	}
	ch.Close()
	p.front.Close()
	<-typed
}

// sendExit tells the SSH client the session's exit status.
func sendExit(ch ssh.Channel, status uint32) {
	ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
}

// parsePty reads a pty-req: terminal type, width and height in
// characters, then pixels and modes, which the REPL has no use for.
func parsePty(b []byte) (term string, width, height int, ok bool) {
	var m struct {
		Term          string
		Width, Height uint32
		PxW, PxH      uint32
		Modes         string
	}
	if err := ssh.Unmarshal(b, &m); err != nil || len(m.Term) > maxTerm {
		return "", 0, 0, false
	}
	return m.Term, int(min(m.Width, maxSide)), int(min(m.Height, maxSide)), true
}

// parseWindow reads a window-change.
func parseWindow(b []byte) (width, height int, ok bool) {
	var m struct{ Width, Height, PxW, PxH uint32 }
	if err := ssh.Unmarshal(b, &m); err != nil {
		return 0, 0, false
	}
	return int(min(m.Width, maxSide)), int(min(m.Height, maxSide)), true
}

// isTemporary reports an accept error worth waiting out: out of
// descriptors or memory.
func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
