package repl

import (
	"fmt"
	"net"
	"os"
	"syscall"
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
// another process (closed by the caller: FileConn duplicates it).
func fileConn(cfg *Config, st SessionState, f *os.File) (net.Conn, error) {
	sock, err := net.FileConn(f)
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
