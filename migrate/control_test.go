package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serveControl listens at path and serves handler until the test ends.
func serveControl(t testing.TB, path string, handler Handler) *ControlListener {
	t.Helper()
	l, err := ListenControl(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve(handler) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; !errors.Is(err, ErrControlClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l
}

func okHandler(ctx context.Context, req Request, progress io.Writer) Response {
	return Response{OK: true, Output: req.Command}
}

func TestListenControlPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "translucent")
	path := filepath.Join(dir, "control.sock")
	serveControl(t, path, okHandler)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	fi, err = os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
}

func TestListenControlRejectsSharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o775) // whatever the umask
	_, err := ListenControl(filepath.Join(dir, "control.sock"))
	if err == nil || !strings.Contains(err.Error(), "others can write to it") {
		t.Fatalf("ListenControl: %v", err)
	}
	if err := checkPrivateDir(t.TempDir(), os.Geteuid()+1); err == nil || !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "is owned by uid") {
		t.Errorf("checkPrivateDir with another uid: %v", err)
	}
}

func TestListenControlReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	// A dead server's socket: bound, then closed without unlinking.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatal(err)
	}
	serveControl(t, path, okHandler)
	resp, err := Call(t.Context(), path, Request{Command: "status"}, nil)
	if err != nil || !resp.OK || resp.Output != "status" {
		t.Fatalf("Call: %+v, %v", resp, err)
	}
}

func TestListenControlRefusesLiveSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	l := serveControl(t, path, okHandler)
	_, err := ListenControl(path)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another server is using "+path) {
		t.Fatalf("second ListenControl: %v", err)
	}
	// The first server is untouched.
	if resp, err := Call(t.Context(), l.Path(), Request{Command: "status"}, nil); err != nil || !resp.OK {
		t.Fatalf("Call: %+v, %v", resp, err)
	}
	// Not a socket: left alone.
	file := filepath.Join(filepath.Dir(path), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := ListenControl(file); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("ListenControl on a file: %v", err)
	}
}

// TestControlCloseLeavesNothing: a clean stop removes the socket and its
// lock file; a listener handed to a successor (Detach) leaves both to it.
func TestControlCloseLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	for _, detach := range []bool{false, true} {
		l, err := ListenControl(path)
		if err != nil {
			t.Fatal(err)
		}
		if detach {
			l.Detach()
		}
		l.Close()
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		want := "[]"
		if detach {
			want = "[control.sock control.sock.lock]"
		}
		if got := fmt.Sprint(names); got != want {
			t.Errorf("detached %v: left %s, want %s", detach, got, want)
		}
	}
}

// TestListenControlAfterLockRemoved: a server that locked a lock file that
// a stopping server then removed locks the new one instead, so that two
// servers starting at once still take turns.
func TestListenControlAfterLockRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock.lock")
	old, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		f   *os.File
		err error
	}
	got := make(chan result, 1)
	go func() { // ends once old is unlocked below
		f, err := lockFile(path)
		got <- result{f, err}
	}()
	// Wait until the second lockFile waits on the old file's lock.
	fi, _ := old.Stat()
	waiting := fmt.Sprintf(":%d ", fi.Sys().(*syscall.Stat_t).Ino)
	deadline := time.Now().Add(20 * time.Second)
	for {
		locks, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Skipf("cannot see who waits for a lock: %v", err)
		}
		if slices.ContainsFunc(strings.Split(string(locks), "\n"), func(l string) bool {
			return strings.Contains(l, "->") && strings.Contains(l, waiting)
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second lockFile never waited on the first one's lock")
		}
		time.Sleep(time.Millisecond) // polling the kernel's table: nothing to wait on
	}
	os.Remove(path) // as Close does, holding the lock
	old.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.f.Close()
	locked, _ := r.f.Stat()
	now, err := os.Stat(path)
	if err != nil || !os.SameFile(locked, now) {
		t.Errorf("locked a file that %s no longer names (%v)", path, err)
	}
}

// TestControlRoundTrip streams progress: the handler does not answer
// until the client has seen its first progress line.
func TestControlRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	seen := make(chan struct{})
	serveControl(t, path, func(ctx context.Context, req Request, progress io.Writer) Response {
		if req.Command != "migrate" || req.Args["binary"] != "/bin/new" || req.Args["timeout"] != "5s" {
			return Response{Error: "bad request"}
		}
		io.WriteString(progress, "starting\n")
		select {
		case <-seen:
		case <-time.After(testTimeout):
			return Response{Error: "progress did not stream"}
		}
		progress.Write(bytes.Repeat([]byte("x"), maxProgressSize+10)) // cut into frames
		io.WriteString(progress, "done\n")
		return Response{OK: true, Output: "pid 42", Data: []byte{0, 1, 2}}
	})
	pw := &notifyWriter{on: "starting\n", seen: seen}
	resp, err := Call(t.Context(), path, Request{Command: "migrate", Args: map[string]string{"binary": "/bin/new", "timeout": "5s"}}, pw)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.OK || resp.Error != "" || resp.Output != "pid 42" || !bytes.Equal(resp.Data, []byte{0, 1, 2}) {
		t.Errorf("response %+v", resp)
	}
	if want := "starting\n" + strings.Repeat("x", maxProgressSize+10) + "done\n"; pw.buf.String() != want {
		t.Errorf("progress: %d bytes, want %d", pw.buf.Len(), len(want))
	}
}

// notifyWriter closes seen once what it received contains on.
type notifyWriter struct {
	on   string
	seen chan struct{}
	once sync.Once
	buf  bytes.Buffer
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.on) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestControlHangupCancels checks that a client hanging up cancels the
// handler's context, and that Close cancels it too.
func TestControlHangupCancels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	cancelled := make(chan error, 2)
	l := serveControl(t, path, func(ctx context.Context, req Request, progress io.Writer) Response {
		io.WriteString(progress, "waiting\n")
		select {
		case <-ctx.Done():
			cancelled <- ctx.Err()
		case <-time.After(testTimeout):
			cancelled <- errors.New("not cancelled")
		}
		return Response{}
	})
	ctx, cancel := context.WithCancel(t.Context())
	seen := make(chan struct{})
	go func() { <-seen; cancel() }()
	_, err := Call(ctx, path, Request{Command: "wait"}, &notifyWriter{on: "waiting", seen: seen})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Call: %v, want context.Canceled", err)
	}
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("handler: %v", err)
	}

	// Close cancels a running handler, and Serve waits for it.
	seen2 := make(chan struct{})
	callErr := make(chan error, 1)
	go func() {
		_, err := Call(t.Context(), path, Request{Command: "wait"}, &notifyWriter{on: "waiting", seen: seen2})
		callErr <- err
	}()
	<-seen2
	l.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("handler after Close: %v", err)
	}
	if err := <-callErr; err != nil {
		t.Errorf("Call during Close: %v (the answer should still arrive)", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close: %v", err)
	}
}

func TestControlPanicAndGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	serveControl(t, path, func(ctx context.Context, req Request, progress io.Writer) Response {
		panic("boom")
	})
	resp, err := Call(t.Context(), path, Request{Command: "status"}, nil)
	if err != nil || resp.OK || !strings.Contains(resp.Error, "status command panicked: boom") {
		t.Errorf("panicking handler: %+v, %v", resp, err)
	}
	for _, raw := range [][]byte{
		{'Q', 0, 0, 0, 2, 0xff, 0xff}, // not CBOR
		{'Q', 0xff, 0xff, 0xff, 0xff}, // over the limit
		{'P', 0, 0, 0, 0},             // not a request
		{'Q', 0, 0, 0, 1, 0x80},       // an array, not a request
	} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(raw)
		c.SetReadDeadline(time.Now().Add(testTimeout))
		kind, payload, err := readFrame(c)
		c.Close()
		if err != nil || kind != frameResponse {
			t.Fatalf("%q: %q, %v", raw, kind, err)
		}
		resp, err := decodeResponse(payload)
		if err != nil || resp.OK || !strings.Contains(resp.Error, "control protocol error") {
			t.Errorf("%q: %+v, %v", raw, resp, err)
		}
	}
}

func TestCallNoServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	_, err := Call(t.Context(), path, Request{Command: "status"}, nil)
	if !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), "no server at "+path) {
		t.Errorf("Call: %v", err)
	}
}

// TestControlHandoff moves a control socket to a "successor" through File
// and ControlFromFile; the predecessor's Detach+Close leaves the socket
// file for it.
func TestControlHandoff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	old := serveControl(t, path, func(context.Context, Request, io.Writer) Response { return Response{OK: true, Output: "old"} })
	f, err := old.File()
	if err != nil {
		t.Fatal(err)
	}
	l, err := ControlFromFile(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path {
		t.Errorf("inherited path %q, want %q", l.Path(), path)
	}
	done := make(chan error, 1)
	go func() {
		done <- l.Serve(func(context.Context, Request, io.Writer) Response { return Response{OK: true, Output: "new"} })
	}()
	old.Detach()
	old.Close()
	resp, err := Call(t.Context(), path, Request{Command: "status"}, nil)
	if err != nil || resp.Output != "new" {
		t.Fatalf("after handoff: %+v, %v", resp, err)
	}
	l.Close()
	if err := <-done; !errors.Is(err, ErrControlClosed) {
		t.Errorf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after the successor's Close: %v", err)
	}
}

func TestCheckPeer(t *testing.T) {
	uid := os.Geteuid()
	if err := checkPeer(&unix.Ucred{Pid: 1, Uid: uint32(uid)}, uid); err != nil {
		t.Errorf("same uid: %v", err)
	}
	for _, cred := range []*unix.Ucred{{Uid: uint32(uid + 1)}, {Uid: 0xffffffff}, nil} {
		if err := checkPeer(cred, uid); !errors.Is(err, ErrPermission) {
			t.Errorf("%+v: %v", cred, err)
		}
	}
}

// TestControlRefusesOtherUser runs a real client as another uid. The
// socket's own permissions would stop it, so the test opens them up, as a
// careless operator might, leaving SO_PEERCRED as the only guard. It needs
// root; TestCheckPeer covers the check otherwise.
func TestControlRefusesOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid; TestCheckPeer covers the check")
	}
	const nobody = 65534
	// A directory, and a copy of the test binary, that nobody can reach.
	base, err := os.MkdirTemp("", "migrate-uid-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "migrate.test")
	if err := copyFile(testBinary(t), bin, 0o755); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(base, "ctl", "control.sock")
	called := make(chan struct{}, 1)
	serveControl(t, path, func(context.Context, Request, io.Writer) Response {
		called <- struct{}{}
		return Response{OK: true}
	})
	os.Chmod(filepath.Dir(path), 0o755)
	os.Chmod(path, 0o666)

	cmd := exec.Command(bin, childArg, "control-call", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "ok=false") || !strings.Contains(string(out), "permission denied: client uid 65534 is not the server's uid 0") {
		t.Errorf("client as uid %d got: %s", nobody, out)
	}
	select {
	case <-called:
		t.Error("handler called for another uid")
	default:
	}
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestDefaultControlPath(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DefaultControlPath(); got != "/run/user/1000/translucent/control.sock" {
		t.Errorf("with XDG_RUNTIME_DIR: %s", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "")
	if got, want := DefaultControlPath(), "/tmp/translucent-"+strconv.Itoa(os.Getuid())+"/control.sock"; got != want {
		t.Errorf("without: %s, want %s", got, want)
	}
}

// A request can carry descriptors: a session's connection moving between
// two processes. The handler gets working files; the server closes its
// copies afterwards.
func TestControlRequestFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	serveControl(t, path, func(ctx context.Context, req Request, _ io.Writer) Response {
		if len(req.Files) != 2 {
			return Response{Error: fmt.Sprintf("%d files", len(req.Files))}
		}
		for i, f := range req.Files {
			if _, err := fmt.Fprintf(f, "file %d\n", i); err != nil {
				return Response{Error: err.Error()}
			}
		}
		return Response{OK: true}
	})
	var readers []*os.File
	req := Request{Command: "take"}
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		readers = append(readers, r)
		req.Files = append(req.Files, w)
	}
	resp, err := Call(context.Background(), path, req, nil)
	if err != nil || !resp.OK {
		t.Fatalf("Call: %v %+v", err, resp)
	}
	for i, r := range readers {
		req.Files[i].Close() // the server's copy is closed too: EOF follows
		b, err := io.ReadAll(r)
		if err != nil || string(b) != fmt.Sprintf("file %d\n", i) {
			t.Fatalf("file %d: %q %v", i, b, err)
		}
	}

	tooMany := Request{Command: "take"}
	for range MaxRequestFiles + 1 {
		tooMany.Files = append(tooMany.Files, readers[0])
	}
	if _, err := Call(context.Background(), path, tooMany, nil); err == nil {
		t.Fatal("a request with too many files was sent")
	}
}
