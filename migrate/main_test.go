package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childArg, as the first argument of the test binary, makes it act as a
// test successor (or an intermediate process) instead of running tests,
// the way syscall's TestPassFD re-runs its own binary.
const childArg = "migrate-test-child"

func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == childArg {
		os.Exit(runChild(os.Args[2], os.Args[3:]))
	}
	// Children built with -race would otherwise sleep a second at exit,
	// keeping their descriptors open and the tests waiting.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// runChild is the test successor. It reports trouble on stderr and in its
// exit status; it never returns for modes that serve.
func runChild(mode string, args []string) int {
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "test child %d (%s): %s\n", os.Getpid(), mode, fmt.Sprintf(format, a...))
	}
	switch mode {
	case "exit3":
		return 3
	case "control-call": // a client of the control socket at args[0]
		resp, err := Call(context.Background(), args[0], Request{Command: "status"}, nil)
		fmt.Printf("err=%v ok=%v error=%q\n", err, resp.OK, resp.Error)
		return 0
	case "middle", "middle-close": // a predecessor that dies, or closes the handoff, after READY
		return runMiddle(mode, args)
	case "crash-pred": // TestHandoffCrashes' predecessor
		return runCrashPredecessor(args)
	case "crash-succ": // and its successor
		return runCrashSuccessor(args)
	}

	p, err := Inherited()
	if err != nil || p == nil {
		logf("Inherited: %v (nil: %v)", err, p == nil)
		return 10
	}
	if os.Getenv(EnvHandoffFD) != "" {
		logf("%s still set", EnvHandoffFD)
		return 11
	}
	if mode == "hello" { // says what it holds, then waits to be killed
		if err := p.Hello([]byte(helloReport)); err != nil {
			logf("Hello: %v", err)
			return 15
		}
		time.Sleep(time.Hour)
		return 0
	}
	if mode == "deaf" { // never reads
		time.Sleep(time.Hour)
		return 0
	}
	if mode == "update" || mode == "update-unhandled" { // says HELLO, answers UPDATEs (or not), then as "ready"
		if mode == "update" {
			p.HandleUpdates(func(data []byte) []byte { return append([]byte("took "), data...) })
		}
		if err := p.Hello(nil); err != nil {
			logf("Hello: %v", err)
			return 15
		}
		mode = "ready"
	}
	h, listeners, recs, err := p.Receive()
	if err != nil {
		logf("Receive: %v", err)
		p.Fail(err.Error())
		return 12
	}
	switch mode {
	case "exit3-after-receive":
		return 3
	case "fail":
		p.Fail("restore refused: test says no")
		p.WaitCommit(context.Background())
		return 0
	case "hang":
		time.Sleep(time.Hour)
		return 0
	case "ready":
		if err := p.Ready([]byte("ready")); err != nil {
			logf("Ready: %v", err)
			return 13
		}
		if err := p.WaitCommit(context.Background()); err != nil {
			return 14
		}
		return 0
	case "orphan":
		p.Ready(nil)
		err := p.WaitCommit(context.Background())
		fmt.Printf("orphan: err=%v died=%v\n", err, p.PredecessorDied())
		return 0
	case "count":
		return childCount(p, h, listeners, recs, logf)
	case "echo":
		return childEcho(p, listeners, recs, logf)
	}
	logf("unknown mode")
	return 2
}

// helloReport is what the "hello" child says it holds.
const helloReport = "built ahead: 7"

// recordLine is what the "count" child writes on a record's connection,
// and what the test expects there.
func recordLine(id uint64, data []byte) string {
	return fmt.Sprintf("id=%d len=%d crc=%08x\n", id, len(data), crc32.ChecksumIEEE(data))
}

// childCount checks nothing itself: it reports what it received, on each
// record's own connection (proving the association) and in its READY
// report, then waits for COMMIT.
func childCount(p *Predecessor, h Header, listeners []*os.File, recs []Record, logf func(string, ...any)) int {
	conns, total := 0, 0
	for _, r := range recs {
		total += len(r.Data)
		if r.Conn != nil {
			conns++
		}
	}
	report := fmt.Sprintf("version=%d sessions=%d records=%d conns=%d bytes=%d listeners=%d meta=%q",
		h.Version, h.Sessions, len(recs), conns, total, len(listeners), h.Meta)
	if err := p.Ready([]byte(report)); err != nil {
		logf("Ready: %v", err)
		return 13
	}
	if err := p.WaitCommit(context.Background()); err != nil {
		logf("WaitCommit: %v", err)
		return 14
	}
	for _, r := range recs {
		if r.Conn == nil {
			continue
		}
		if _, err := io.WriteString(r.Conn, recordLine(r.ID, r.Data)); err != nil {
			logf("session %d: %v", r.ID, err)
			return 15
		}
		r.Conn.Close()
	}
	return 0
}

// childEcho checks what it received without reading from any connection
// (the predecessor still owns them), reports the addresses, and after
// COMMIT serves the echo protocol on the connections and the listener.
func childEcho(p *Predecessor, listeners []*os.File, recs []Record, logf func(string, ...any)) int {
	if len(listeners) != 1 {
		logf("%d listeners", len(listeners))
		p.Fail("want one listener")
		return 16
	}
	ln, err := net.FileListener(listeners[0])
	if err != nil {
		p.Fail(err.Error())
		return 16
	}
	listeners[0].Close()
	srv := &echoServer{ln: ln.(*net.TCPListener), pid: os.Getpid()}
	var report strings.Builder
	fmt.Fprintf(&report, "pid=%d listener=%s", os.Getpid(), ln.Addr())
	for _, r := range recs {
		c, err := net.FileConn(r.Conn)
		if err != nil {
			p.Fail(fmt.Sprintf("session %d: %v", r.ID, err))
			return 16
		}
		r.Conn.Close()
		fmt.Fprintf(&report, " %d=%s", r.ID, c.RemoteAddr())
		srv.adopt(c.(*net.TCPConn), r.Data)
	}
	if err := p.Ready([]byte(report.String())); err != nil {
		logf("Ready: %v", err)
		return 13
	}
	if err := p.WaitCommit(context.Background()); err != nil {
		logf("WaitCommit: %v", err)
		return 14
	}
	srv.start()
	time.Sleep(time.Hour) // until the test kills us
	return 0
}

// runMiddle is a predecessor that starts an "orphan" successor with its
// own stdout, waits for READY, then either exits without COMMIT
// ("middle") or closes the handoff while staying alive ("middle-close").
func runMiddle(mode string, args []string) int {
	exe, err := os.Executable()
	if err != nil {
		return 20
	}
	s, err := Start(context.Background(), exe, []string{childArg, "orphan"}, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 21
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Send(ctx, Header{}, nil, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 22
	}
	if _, err := s.WaitReady(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 23
	}
	if mode == "middle" {
		return 0
	}
	s.closeConn()
	<-s.exited
	return 0
}

// echoServer serves a line protocol: each line L is answered "PID L". It
// can quiesce (stop accepting and reading, keeping the sockets) and resume,
// and hands over each connection's unconsumed input.
type echoServer struct {
	pid int
	ln  *net.TCPListener

	wg      sync.WaitGroup // accept loop and connection loops
	mu      sync.Mutex
	conns   []*echoConn // guarded by mu
	stopped bool        // guarded by mu: quiescing
}

type echoConn struct {
	c   *net.TCPConn
	br  *bufio.Reader
	buf []byte // read from br but not yet a whole line
}

func (s *echoServer) adopt(c *net.TCPConn, unconsumed []byte) *echoConn {
	ec := &echoConn{c: c, br: bufio.NewReader(c), buf: append([]byte(nil), unconsumed...)}
	s.mu.Lock()
	s.conns = append(s.conns, ec)
	s.mu.Unlock()
	return ec
}

// start starts (or resumes) the accept loop and one loop per connection.
func (s *echoServer) start() {
	s.mu.Lock()
	s.stopped = false
	conns := append([]*echoConn(nil), s.conns...)
	s.mu.Unlock()
	s.ln.SetDeadline(time.Time{})
	s.wg.Add(1)
	go func() { // ends when quiesce sets a deadline, or the listener closes
		defer s.wg.Done()
		for {
			c, err := s.ln.AcceptTCP()
			if err != nil {
				return
			}
			ec := s.adopt(c, nil)
			s.mu.Lock()
			if s.stopped { // raced with quiesce: keep the connection, do not read
				s.mu.Unlock()
				return
			}
			s.wg.Add(1)
			s.mu.Unlock()
			go s.serve(ec)
		}
	}()
	for _, ec := range conns {
		ec.c.SetReadDeadline(time.Time{})
		s.wg.Add(1)
		go s.serve(ec)
	}
}

// serve answers lines until a read fails (quiesce's deadline or EOF). The
// answer to a line carried over from a predecessor is sent, like any
// other, once the line is complete.
func (s *echoServer) serve(ec *echoConn) {
	defer s.wg.Done()
	for {
		for {
			i := bytes.IndexByte(ec.buf, '\n')
			if i < 0 {
				break
			}
			line := string(ec.buf[:i])
			ec.buf = ec.buf[i+1:]
			if _, err := fmt.Fprintf(ec.c, "%d %s\n", s.pid, line); err != nil {
				return
			}
		}
		chunk, err := ec.br.ReadSlice('\n')
		ec.buf = append(ec.buf, chunk...)
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// quiesce stops accepting and reading and waits for every loop to end.
func (s *echoServer) quiesce() {
	s.mu.Lock()
	s.stopped = true
	conns := append([]*echoConn(nil), s.conns...)
	s.mu.Unlock()
	s.ln.SetDeadline(aLongTimeAgo)
	for _, ec := range conns {
		ec.c.SetReadDeadline(aLongTimeAgo)
	}
	s.wg.Wait()
	// A connection accepted while racing with quiesce has no loop.
	s.mu.Lock()
	for _, ec := range s.conns {
		ec.c.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()
}

// handoff returns duplicates of the listener and connections, each
// connection's record holding its unconsumed input, and a func closing
// the duplicates.
func (s *echoServer) handoff(t testing.TB) (*os.File, []Record, func()) {
	t.Helper()
	lf, recs, err := s.export()
	if err != nil {
		t.Fatal(err)
	}
	return lf, recs, func() {
		lf.Close()
		for _, r := range recs {
			r.Conn.Close()
		}
	}
}

// export is handoff for a process that is not running a test: the caller
// closes the duplicates.
func (s *echoServer) export() (*os.File, []Record, error) {
	lf, err := s.ln.File()
	if err != nil {
		return nil, nil, err
	}
	var recs []Record
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ec := range s.conns {
		f, err := ec.c.File()
		if err != nil {
			lf.Close()
			for _, r := range recs {
				r.Conn.Close()
			}
			return nil, nil, err
		}
		data := append(append([]byte(nil), ec.buf...), peekAll(ec.br)...)
		recs = append(recs, Record{ID: uint64(100 + i), Data: data, Conn: f})
	}
	return lf, recs, nil
}

func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// close closes this process's sockets; after a committed handoff the
// successor's copies keep the connections open.
func (s *echoServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, ec := range s.conns {
		ec.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func startEchoServer(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, pid: os.Getpid()}
	s.start()
	t.Cleanup(s.close)
	return s
}

// echoClient is a test's telnet user: it writes and reads lines.
type echoClient struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialEcho(t testing.TB, s *echoServer) *echoClient {
	t.Helper()
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &echoClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *echoClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads one answer and checks it came from pid and echoes line.
func (c *echoClient) expect(pid int, line string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a failure detector, not a wait
	got, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("waiting for %q from pid %d: %v (got %q)", line, pid, err, got)
	}
	if want := fmt.Sprintf("%d %s\n", pid, line); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// testBinary returns the test binary, which acts as a successor when run
// with childArg.
func testBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// startChild starts the test binary as a successor in mode and makes
// sure, at cleanup, that it is dead and reaped.
func startChild(t testing.TB, mode string) *Successor {
	t.Helper()
	s, err := Start(context.Background(), testBinary(t), []string{childArg, mode}, os.Stderr, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
		s.closeConn()
	})
	return s
}

// checkReaped checks that pid is neither running nor a zombie.
func checkReaped(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		t.Errorf("pid %d still exists (kill: %v; stat: %s)", pid, err, stat)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}
