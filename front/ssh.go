package front

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"translucent/repl"
	"translucent/sshrelay"
)

// serve --ssh: the front takes the SSH port and a Unix socket in the
// private directory, starts the relay process (relayproc.go) on them, and
// serves what the relay asks on the socket (serveRelay): is this a user's
// password or key, and a session per SSH shell, already logged in. Both
// listeners move to each successor with the others; the relay stays.

// relayRequestTimeout bounds the relay's request on a new connection.
const relayRequestTimeout = 10 * time.Second

// listenSSH takes the SSH port and the relay's socket.
func (l *listeners) listenSSH(cfg *Config) error {
	ln, err := net.Listen("tcp", cfg.SSH)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	l.ssh = ln.(*net.TCPListener)
	path, err := relaySocketPath(cfg.Control)
	if err != nil {
		return err
	}
	if err := removeStaleRelaySocket(path); err != nil {
		return err
	}
	if l.relay, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"}); err != nil {
		return fmt.Errorf("ssh relay socket: %w", err)
	}
	l.relay.SetUnlinkOnClose(false) // it outlives this process: removeRelaySocket
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("ssh relay socket: %w", err)
	}
	return nil
}

// relaySocketPath is the relay's socket for the server whose control
// socket is control: in the private directory, named after the control
// socket, so that it is the same for every process of one server and
// another for every other server of this user.
func relaySocketPath(control string) (string, error) {
	dir, err := privateDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(control)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "ssh-"+hex.EncodeToString(sum[:6])+".sock"), nil
}

// removeStaleRelaySocket removes a relay socket that no process listens
// on (a server that was killed); one that answers is another server's.
func removeStaleRelaySocket(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("ssh relay socket %s: another server is using it", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return os.Remove(path)
	}
	return nil
}

// removeRelaySocket removes the socket's path, once no process of this
// server will listen on it again (a clean stop).
func (l *listeners) removeRelaySocket() {
	if l.relay != nil {
		os.Remove(l.relay.Addr().String())
	}
}

// tcpListener and unixListener make listeners of inherited descriptors.
func tcpListener(f *os.File) (*net.TCPListener, error) {
	return fileListener[*net.TCPListener](f, "TCP")
}

func unixListener(f *os.File) (*net.UnixListener, error) {
	ul, err := fileListener[*net.UnixListener](f, "Unix")
	if err == nil {
		ul.SetUnlinkOnClose(false)
	}
	return ul, err
}

// fileListener makes a listener of f, which must be of kind L.
func fileListener[L net.Listener](f *os.File, kind string) (L, error) {
	var none L
	ln, err := net.FileListener(f)
	if err != nil {
		return none, err
	}
	l, ok := ln.(L)
	if !ok {
		ln.Close()
		return none, fmt.Errorf("a %s listener, not %s", ln.Addr().Network(), kind)
	}
	return l, nil
}

// relayFront answers the relay on its socket.
type relayFront struct {
	srv   *registry
	users *repl.Users
	log   *slog.Logger
}

// serve accepts the relay's connections until ln is closed, and returns
// then.
func (f *relayFront) serve(ln *net.UnixListener) {
	var delay time.Duration
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			f.log.Warn("ssh relay socket: accept", "err", err, "retry", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go f.handle(c) // ends with the request, or hands c to a session
	}
}

// handle reads the relay's request on c and answers it, or starts the
// session it asks for on c.
func (f *relayFront) handle(c *net.UnixConn) {
	if err := samePeer(c); err != nil {
		f.log.Warn("ssh relay socket: refused a connection", "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Now().Add(relayRequestTimeout))
	req, err := sshrelay.ReadRequest(c)
	if err != nil {
		if !errors.Is(err, io.EOF) { // EOF: the relay checking that the front is there
			f.log.Warn("ssh relay socket: bad request", "err", err)
		}
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	switch req.Kind {
	case sshrelay.KindPassword:
		// The check, and its delay after a wrong password, end early when
		// the relay hangs up (its SSH client left): it sends nothing more.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		go func() { // ends when the relay hangs up, or c is closed below
			c.Read(make([]byte, 1))
			cancel()
		}()
		ok, _ := f.srv.checkPassword(ctx, req.Addr, "ssh", req.User, req.Password)
		cancel()
		if ok {
			f.log.Info("ssh password accepted", "user", req.User, "addr", req.Addr)
		}
		sshrelay.Answer(c, ok)
		c.Close()
	case sshrelay.KindKey:
		ok := f.keyAuthorized(req.User, req.Key)
		sshrelay.Answer(c, ok)
		c.Close()
	case sshrelay.KindSession:
		if !f.users.Has(req.User) {
			f.log.Warn("ssh session refused: no such user", "addr", req.Addr)
			c.Close()
			return
		}
		f.log.Info("ssh session", "user", req.User, "addr", req.Addr, "term", req.Term, "width", req.Width, "height", req.Height)
		f.srv.serveConn(c, repl.LoggedIn(req.User, req.Addr))
	}
}

// keyAuthorized reports whether key (SSH wire format) is in user's
// authorized_keys. A line with options (from=, command=...) is skipped:
// this server does not enforce them, so it must not accept the key
// under them.
func (f *relayFront) keyAuthorized(user string, key []byte) bool {
	keys, err := f.srv.cfg.AuthorizedKeys(user)
	if err != nil {
		return false
	}
	for len(keys) > 0 {
		pk, _, options, rest, err := ssh.ParseAuthorizedKey(keys)
		if err != nil {
			return false // nothing parsable is left
		}
		keys = rest
		if len(options) > 0 {
			f.log.Warn("ssh: a key with options in authorized_keys is not accepted (options are not enforced)", "user", user)
			continue
		}
		if bytes.Equal(pk.Marshal(), key) {
			return true
		}
	}
	return false
}

// samePeer checks that the process at the other end of c is this user's.
func samePeer(c *net.UnixConn) error {
	sc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := sc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("a process of uid %d, not this server's", cred.Uid)
	}
	return nil
}

// startSSH serves the SSH way in when ls has its listeners (taken for
// --ssh, or inherited), and returns the relay's supervisor; nil without.
// relayPid is the predecessor's relay, which goes on if it is alive.
func startSSH(ls *listeners, cfg *Config, relayPid int, srv *registry, users *repl.Users, log *slog.Logger) (*relayProc, error) {
	if ls.ssh == nil && cfg.SSH != "" { // a predecessor without --ssh
		if err := ls.listenSSH(cfg); err != nil {
			return nil, err
		}
	}
	if ls.ssh == nil {
		return nil, nil
	}
	key, err := hostKeyPath(cfg.SSHHostKey)
	if err != nil {
		return nil, err
	}
	p, err := newRelayProc(ls, key, log)
	if err != nil {
		return nil, err
	}
	if err := p.run(relayPid); err != nil {
		return nil, err
	}
	go (&relayFront{srv: srv, users: users, log: log}).serve(ls.relay) // ends when closeSSH closes it
	addr := ls.ssh.Addr().(*net.TCPAddr)
	log.Info("ssh listening", "addr", addr.String(), "connect", fmt.Sprintf("ssh -p %d USER@%s", addr.Port, addr.IP), "relay", p.Pid())
	return p, nil
}

// closeSSH closes this process's SSH listeners, and removes the relay's
// socket when remove (a clean stop; not when a successor has them).
func (l *listeners) closeSSH(remove bool) {
	if l.relay == nil {
		return
	}
	if remove {
		l.removeRelaySocket()
	}
	l.ssh.Close()
	l.relay.Close()
}
