package repl

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// received returns a descriptor of c's socket as another process receives
// it: a duplicate sharing c's open file description (so non-blocking, as
// the runtime made it), as os.NewFile makes it of a number.
func received(t testing.TB, c syscall.Conn) *os.File {
	t.Helper()
	sc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	dup, derr := -1, error(nil)
	sc.Control(func(fd uintptr) { dup, derr = unix.Dup(int(fd)) })
	if derr != nil {
		t.Fatal(derr)
	}
	return os.NewFile(uintptr(dup), "received")
}

func TestReceivedSocket(t *testing.T) {
	server, client := tcpPair(t)
	f := received(t, server.(syscall.Conn))
	server.Close() // the old process's copy: the socket lives on in f
	sock, err := receivedSocket(f)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if _, ok := sock.(*fileSocket); !ok {
		t.Fatalf("a non-blocking TCP socket became a %T, want the file itself", sock)
	}
	if got, want := sock.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr = %s, want %s", got, want)
	}
	if got, want := sock.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr = %s, want %s", got, want)
	}

	// Both ways, as a net.Conn.
	if _, err := client.Write([]byte("1 + 1\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(sock, buf); err != nil || string(buf) != "1 + 1\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := sock.Write([]byte("2\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, buf[:2]); err != nil || string(buf[:2]) != "2\n" {
		t.Fatalf("client read %q, %v", buf[:2], err)
	}

	// A deadline wakes a blocked read, as the session's pause relies on.
	done := make(chan error, 1)
	go func() { _, err := sock.Read(buf); done <- err }()
	sock.SetReadDeadline(time.Now())
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	sock.SetReadDeadline(time.Time{})

	// What a migration passes on: a duplicate, which reaches the client too.
	dup, err := sock.(Socket).File()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dup.Write([]byte("3\n")); err != nil {
		t.Fatal(err)
	}
	dup.Close()
	if _, err := io.ReadFull(client, buf[:2]); err != nil || string(buf[:2]) != "3\n" {
		t.Fatalf("client read %q from the duplicate, %v", buf[:2], err)
	}

	// Closing it ends the connection: it held the last copy.
	sock.Close()
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := client.Read(buf); err != io.EOF {
		t.Fatalf("client read %d, %v after the close, want EOF", n, err)
	}
}

func TestReceivedSocketRefused(t *testing.T) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, tc := range []struct {
		name string
		f    *os.File
		want string
	}{
		{"datagram socket", received(t, udp.(syscall.Conn)), "not a stream socket"},
		{"pipe", r, "socket operation on non-socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, err := receivedSocket(tc.f)
			if err == nil {
				sock.Close()
				t.Fatalf("a %s became a connection", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if err := tc.f.Close(); !errors.Is(err, os.ErrClosed) {
				t.Errorf("the refused descriptor is still open (Close: %v)", err)
			}
		})
	}
}

// A blocking descriptor (one a test made, say) cannot keep deadlines as a
// file: it goes through net.FileConn, which makes a non-blocking copy.
func TestReceivedSocketBlocking(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "blocking")
	sock, err := receivedSocket(f)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if _, ok := sock.(*net.UnixConn); !ok {
		t.Fatalf("a blocking Unix socket became a %T, want a *net.UnixConn", sock)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("the original descriptor is still open (Close: %v)", err)
	}
	if err := sock.SetReadDeadline(time.Now()); err != nil {
		t.Errorf("the copy keeps no deadline: %v", err)
	}
}

// BenchmarkReceivedSocket is the new process's cost, per session, of
// making a connection of a received TCP socket, side by side: as the
// file it arrived as (receivedSocket), and through net.FileConn as
// before. Run it with -benchtime Nx, N within a third of the descriptor
// limit.
func BenchmarkReceivedSocket(b *testing.B) {
	for _, bc := range []struct {
		name string
		make func(*os.File) (net.Conn, error)
	}{
		{"file", receivedSocket},
		{"FileConn", func(f *os.File) (net.Conn, error) { defer f.Close(); return net.FileConn(f) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			files := receivedTCP(b, b.N)
			conns := make([]net.Conn, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				c, err := bc.make(files[i])
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			b.StopTimer()
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

// receivedTCP returns n loopback TCP connections' server sides as another
// process receives them (received), their first copies closed; their
// clients are closed when b ends.
func receivedTCP(b *testing.B, n int) []*os.File {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	files := make([]*os.File, n)
	for i := range files {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Close() })
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		files[i] = received(b, server.(syscall.Conn))
		server.Close()
	}
	return files
}
