package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	// ErrControlClosed is returned by Serve after Close.
	ErrControlClosed = errors.New("migrate: control listener closed")
	// ErrPermission reports a control client of another user.
	ErrPermission = errors.New("migrate: permission denied")
	// ErrInUse reports a control socket path a live server listens on.
	ErrInUse = errors.New("migrate: control socket in use")
)

const (
	// requestTimeout bounds the time a client takes to send its request.
	requestTimeout = 10 * time.Second
	// writeTimeout bounds each write to a client.
	writeTimeout = 10 * time.Second
	// lingerTimeout bounds the wait for a client to hang up after its
	// answer.
	lingerTimeout = time.Second
	// maxSocketPath is the longest path a Unix socket address holds.
	maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1
)

// ControlListener serves requests on a Unix stream socket reachable only
// by this user: the socket is mode 0600 in a directory of mode 0700 owned
// by this user, and each client's uid is checked again with SO_PEERCRED.
type ControlListener struct {
	path string
	ln   *net.UnixListener
	uid  int

	ctx    context.Context // parent of every handler's context; cancelled by Close
	cancel context.CancelFunc
	conns  sync.WaitGroup // connections being served

	mu       sync.Mutex
	closed   bool // guarded by mu
	detached bool // guarded by mu: the socket file belongs to a successor
}

// ListenControl listens on a Unix stream socket at path, with mode 0600.
// A missing directory is created with mode 0700; the directory, new or
// not, must be owned by this user and writable by no one else, else
// ListenControl fails. A socket file left by a dead server is replaced; one a server
// still answers on gives an error wrapping ErrInUse ("another server is
// using PATH"). A file lock next to the socket (PATH.lock) keeps two
// servers starting at once from both replacing it.
func ListenControl(path string) (*ControlListener, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("migrate: control socket: %w", err)
	}
	if len(abs) > maxSocketPath {
		return nil, fmt.Errorf("migrate: control socket path %s is %d bytes long, limit %d", abs, len(abs), maxSocketPath)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("migrate: control socket directory: %w", err)
	}
	if err := checkPrivateDir(dir, os.Geteuid()); err != nil {
		return nil, err
	}

	lock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, fmt.Errorf("migrate: control socket lock: %w", err)
	}
	defer lock.Close() // releases the flock
	if err := removeStaleSocket(abs); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: abs, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("migrate: control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close decides, see Detach
	if err := os.Chmod(abs, 0o600); err != nil {
		ln.Close()
		os.Remove(abs)
		return nil, fmt.Errorf("migrate: control socket: %w", err)
	}
	return newControlListener(ln, abs), nil
}

// ControlFromFile returns a ControlListener on an inherited listening
// socket, the successor's side of handing a ControlListener over (see
// File). It duplicates f, which the caller still closes. The listener's
// path is the socket's bound address.
func ControlFromFile(f *os.File) (*ControlListener, error) {
	// net.FileListener calls f.Fd, which, for a file from a listener's
	// File method, clears O_NONBLOCK on the socket's open file description:
	// shared with the original listener, whose goroutine may then block in
	// accept(2) where Close cannot wake it. A file made by os.NewFile of a
	// non-blocking descriptor is left as it is, so go through one.
	fd, err := fileFD(f)
	if err != nil {
		return nil, fmt.Errorf("migrate: inherited control socket: %w", err)
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("migrate: inherited control socket: %w", err)
	}
	nf := os.NewFile(uintptr(nfd), f.Name())
	defer nf.Close()
	l, err := net.FileListener(nf)
	if err != nil {
		return nil, fmt.Errorf("migrate: inherited control socket: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("migrate: inherited control socket is a %s listener, not a Unix one", l.Addr().Network())
	}
	ul.SetUnlinkOnClose(false)
	return newControlListener(ul, ul.Addr().String()), nil
}

func newControlListener(ln *net.UnixListener, path string) *ControlListener {
	ctx, cancel := context.WithCancel(context.Background())
	return &ControlListener{path: path, ln: ln, uid: os.Geteuid(), ctx: ctx, cancel: cancel}
}

// lockFile creates path if need be and locks it. Close removes the lock
// file with the socket, so that a clean stop leaves nothing behind: having
// locked a file, lockFile checks that path still names it, and else starts
// again with the one that does.
func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		locked, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		now, err := os.Stat(path)
		if err == nil && os.SameFile(locked, now) {
			return f, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
}

func flock(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = sc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), unix.LOCK_EX)
			if ferr != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// ErrNotPrivate reports a control socket directory that someone else
// could write to or owns: another user may have created it.
var ErrNotPrivate = errors.New("migrate: the control socket directory is not private")

// checkPrivateDir checks that dir is a directory (not a link to one)
// owned by uid that no one else can write to, so no one else can replace
// the socket file. Read and search permission for others is allowed (a
// t.TempDir() is 0755): the socket's own mode (0600) and SO_PEERCRED keep
// them out.
func checkPrivateDir(dir string, uid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("migrate: control socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrNotPrivate, dir)
	case !ok:
		return fmt.Errorf("%w: %s: its owner cannot be read", ErrNotPrivate, dir)
	case int(st.Uid) != uid:
		return fmt.Errorf("%w: %s is owned by uid %d, not by this user (uid %d)", ErrNotPrivate, dir, st.Uid, uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s has mode %#o: others can write to it (chmod go-w it, or use a directory of your own)", ErrNotPrivate, dir, fi.Mode().Perm())
	}
	return nil
}

// removeStaleSocket removes a socket at path that no server answers on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate: control socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("migrate: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: another server is using %s", ErrInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("migrate: checking control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("migrate: removing stale control socket: %w", err)
	}
	return nil
}

// Path returns the socket's absolute path.
func (l *ControlListener) Path() string { return l.path }

// File returns a duplicate of the listening socket, for Send to hand to a
// successor (which calls ControlFromFile). l keeps serving. Once the
// successor has committed, call Detach and then Close.
func (l *ControlListener) File() (*os.File, error) { return l.ln.File() }

// Detach marks the socket file as owned by another process, so that Close
// leaves it in place.
func (l *ControlListener) Detach() {
	l.mu.Lock()
	l.detached = true
	l.mu.Unlock()
}

// Handler answers one request. ctx is cancelled when the client hangs up
// or the listener is closed. Writes to progress reach the client at once,
// as they are made; they fail once the client is gone or the handler has
// returned.
type Handler func(ctx context.Context, req Request, progress io.Writer) Response

// Serve accepts connections until Close, serving one request on each in
// its own goroutine. A client of another uid gets a refusal and handler is
// not called; a handler that panics answers an error. Serve returns
// ErrControlClosed after Close, once every connection being served is
// done; it always returns a non-nil error.
func (l *ControlListener) Serve(handler Handler) error {
	var delay time.Duration
	for {
		c, err := l.ln.AcceptUnix()
		if err != nil {
			if l.isClosed() {
				l.conns.Wait()
				return ErrControlClosed
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) {
				// Out of descriptors or memory: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			l.conns.Wait()
			return fmt.Errorf("migrate: control socket: %w", err)
		}
		delay = 0
		l.conns.Add(1)
		go l.serveConn(c, handler)
	}
}

func (l *ControlListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// serveConn serves one request on c and closes it.
func (l *ControlListener) serveConn(c *net.UnixConn, handler Handler) {
	defer l.conns.Done()
	respond := func(resp Response) {
		b, err := encodeResponse(resp)
		if err != nil {
			b, _ = encodeResponse(Response{Error: err.Error()})
		}
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		writeFrame(c, frameResponse, b)
	}
	// refuse answers without calling the handler. Closing a Unix socket
	// with unread input resets the peer, which may then lose the answer, so
	// the input is drained first.
	refuse := func(err error) {
		respond(Response{Error: err.Error()})
		c.CloseWrite()
		c.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.Copy(io.Discard, io.LimitReader(c, frameHeaderSize+maxRequestSize))
		c.Close()
	}
	cred, err := peerCred(c)
	if err == nil {
		err = checkPeer(cred, l.uid)
	}
	if err != nil {
		refuse(err)
		return
	}
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	rr := &rightsReader{c: c}
	kind, payload, err := readFrame(rr)
	defer func() {
		for _, f := range rr.files {
			if f != nil { // nil: the handler took it (Request.Files)
				f.Close()
			}
		}
	}()
	if err == nil {
		err = rr.err
	}
	if err == nil && kind != frameRequest {
		err = fmt.Errorf("%w: expected a request, got a frame of kind %q", ErrControlProtocol, kind)
	}
	var req Request
	if err == nil {
		req, err = decodeRequest(payload)
	}
	if errors.Is(err, io.EOF) { // a bare connect (ListenControl's probe) says nothing
		c.Close()
		return
	}
	if err != nil {
		refuse(err)
		return
	}
	req.Files = rr.files
	c.SetReadDeadline(time.Time{})

	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	hungUp := make(chan struct{})
	go func() { // reads until the client hangs up, or the deadline below
		defer close(hungUp)
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	pw := &progressWriter{c: c}
	resp := callHandler(ctx, handler, req, pw)
	pw.close()
	respond(resp)
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(lingerTimeout))
	<-hungUp
	c.Close()
}

func callHandler(ctx context.Context, handler Handler, req Request, progress io.Writer) (resp Response) {
	defer func() {
		if v := recover(); v != nil {
			resp = Response{Error: fmt.Sprintf("internal error: %s command panicked: %v", req.Command, v)}
		}
	}()
	return handler(ctx, req, progress)
}

// progressWriter sends each Write to the client as progress frames.
type progressWriter struct {
	c  *net.UnixConn
	mu sync.Mutex
	// err is sticky: the first write error, or errProgressDone after the
	// handler returned. Guarded by mu.
	err error
}

var errProgressDone = errors.New("migrate: progress written after the request was answered")

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxProgressSize)]
		w.c.SetWriteDeadline(time.Now().Add(writeTimeout))
		if w.err = writeFrame(w.c, frameProgress, chunk); w.err != nil {
			return n, w.err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

func (w *progressWriter) close() {
	w.mu.Lock()
	if w.err == nil {
		w.err = errProgressDone
	}
	w.mu.Unlock()
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	sc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := sc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("migrate: SO_PEERCRED: %w", cerr)
	}
	return cred, nil
}

// checkPeer admits a client whose effective uid is uid.
func checkPeer(cred *unix.Ucred, uid int) error {
	if cred == nil || int64(cred.Uid) != int64(uid) {
		got := "unknown"
		if cred != nil {
			got = fmt.Sprint(cred.Uid)
		}
		return fmt.Errorf("%w: client uid %s is not the server's uid %d", ErrPermission, got, uid)
	}
	return nil
}

// Close stops accepting, cancels the contexts of handlers still running
// and, unless Detach was called, removes the socket file and its lock
// file. Connections being served are not closed: Serve returns once they
// are done. Close is safe to call more than once.
func (l *ControlListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	detached := l.detached
	l.mu.Unlock()
	l.cancel()
	if detached {
		return l.ln.Close()
	}
	// Under the lock, so that a server starting on this path meanwhile
	// neither loses its new socket to the Remove below nor keeps a lock
	// file that is no longer there.
	lock, lerr := lockFile(l.path + ".lock")
	err := l.ln.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if lerr == nil {
		os.Remove(lock.Name())
		lock.Close()
	}
	return err
}
