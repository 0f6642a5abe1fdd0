package repl

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Socket is a connection another process can be given: a TCP
// connection, or a Unix one (a relay's).
type Socket interface {
	syscall.Conn
	File() (*os.File, error)
}

// A Framed connection carries a session's telnet bytes inside a framing of
// its own over a socket: a WebSocket, say. A migration passes the socket
// underneath to the other process with the framing's state, and there
// Config.Transports[kind] wraps the socket again. The framing must be at
// rest when asked (the session is paused: nothing reads or writes).
type Framed interface {
	net.Conn
	// Socket is the connection underneath, which goes to the other process.
	Socket() Socket
	// Frame names the framing and returns its state, for its kind's
	// Transport in the other process.
	Frame() (kind string, state []byte, err error)
}

// A Transport wraps a socket received from another process in the framing
// a session had there, from the state Framed.Frame returned. It must
// check state as hostile input: a record may come from a broken build.
type Transport func(sock net.Conn, state []byte) (net.Conn, error)

// socketOf returns what a migration passes for nc, and the framing's state
// to carry with it (kind "" for plain telnet).
func socketOf(nc net.Conn) (sock Socket, kind string, state []byte, err error) {
	if f, ok := nc.(Framed); ok {
		kind, state, err = f.Frame()
		return f.Socket(), kind, state, err
	}
	sock, ok := nc.(Socket)
	if !ok {
		return nil, "", nil, fmt.Errorf("a %T cannot be passed to another process", nc)
	}
	return sock, "", nil, nil
}

// socketFD returns the descriptor of nc's socket, if it has one.
func socketFD(nc net.Conn) (int, bool) {
	var sock syscall.Conn
	switch c := nc.(type) {
	case Framed:
		sock = c.Socket()
	case Socket:
		sock = c
	}
	if sock == nil {
		return 0, false
	}
	sc, err := sock.SyscallConn()
	if err != nil {
		return 0, false
	}
	fd := -1
	if sc.Control(func(u uintptr) { fd = int(u) }) != nil {
		return 0, false
	}
	return fd, fd >= 0
}

// unframe wraps a socket received from another process as the session's
// record says.
func unframe(cfg *Config, st SessionState, sock net.Conn) (net.Conn, error) {
	if st.Transport == "" {
		return sock, nil
	}
	t, ok := cfg.Transports[st.Transport]
	if !ok {
		return nil, fmt.Errorf("session %d: this build cannot carry a %q connection", st.ID, st.Transport)
	}
	nc, err := t(sock, st.TransportState)
	if err != nil {
		return nil, fmt.Errorf("session %d: %s connection: %w", st.ID, st.Transport, err)
	}
	return nc, nil
}

// fileConn makes the session's connection of a descriptor received from
// another process. It owns f from then on, and closes it on failure.
func fileConn(cfg *Config, st SessionState, f *os.File) (net.Conn, error) {
	sock, err := receivedSocket(f)
	if err != nil {
		return nil, fmt.Errorf("session %d: %w", st.ID, err)
	}
	nc, err := unframe(cfg, st, sock)
	if err != nil {
		sock.Close()
		return nil, err
	}
	return nc, nil
}

// receivedSocket makes a connection of a stream socket received from
// another process, and owns f from then on.
//
// A socket the other process used is non-blocking, so os.NewFile has
// already registered f with the runtime's poller: f reads, writes and
// keeps deadlines as a net.Conn does, and it is used as it is
// (fileSocket). net.FileConn would do that work again: duplicate the
// descriptor, set it non-blocking, ask the kernel its type and both of
// its addresses, register the copy, set TCP_NODELAY and keep-alive (which
// the socket already has: they are the socket's, not the process's), and
// the original would then be deregistered and closed. At 10,000 sessions
// those syscalls were half of what the new process spent in the pause.
// A descriptor the poller would not take (a blocking one) still goes
// through net.FileConn.
func receivedSocket(f *os.File) (net.Conn, error) {
	if err := f.SetReadDeadline(time.Time{}); err != nil { // only a pollable file keeps deadlines
		defer f.Close()
		return net.FileConn(f) // duplicates it
	}
	sc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	typ, cerr := 0, error(nil)
	if err := sc.Control(func(fd uintptr) { typ, cerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }); err != nil {
		cerr = err
	}
	if cerr != nil || typ != unix.SOCK_STREAM {
		f.Close()
		if cerr == nil {
			cerr = errors.New("not a stream socket")
		}
		return nil, fmt.Errorf("connection descriptor: %w", cerr)
	}
	return &fileSocket{f: f}, nil
}

// fileSocket is a stream socket used as the *os.File it was received as
// (receivedSocket). Its addresses are asked of the kernel when wanted.
type fileSocket struct {
	f *os.File
}

func (s *fileSocket) Read(b []byte) (int, error)         { return s.f.Read(b) }
func (s *fileSocket) Write(b []byte) (int, error)        { return s.f.Write(b) }
func (s *fileSocket) Close() error                       { return s.f.Close() }
func (s *fileSocket) SetDeadline(t time.Time) error      { return s.f.SetDeadline(t) }
func (s *fileSocket) SetReadDeadline(t time.Time) error  { return s.f.SetReadDeadline(t) }
func (s *fileSocket) SetWriteDeadline(t time.Time) error { return s.f.SetWriteDeadline(t) }

// SyscallConn is the socket's own descriptor, for a migration to pass on.
func (s *fileSocket) SyscallConn() (syscall.RawConn, error) { return s.f.SyscallConn() }

// File returns a duplicate of the socket, as net.TCPConn's File does.
func (s *fileSocket) File() (*os.File, error) {
	sc, err := s.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup, derr := -1, error(nil)
	if err := sc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	return os.NewFile(uintptr(dup), s.f.Name()), nil
}

func (s *fileSocket) LocalAddr() net.Addr  { return s.addr(unix.Getsockname) }
func (s *fileSocket) RemoteAddr() net.Addr { return s.addr(unix.Getpeername) }

// addr asks the kernel one of the socket's addresses.
func (s *fileSocket) addr(get func(fd int) (unix.Sockaddr, error)) net.Addr {
	var sa unix.Sockaddr
	if sc, err := s.f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) { sa, _ = get(int(fd)) })
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return &net.UnixAddr{Net: "unix"} // closed, or of no family we know: no address
}
