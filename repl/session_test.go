package repl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"translucent/namespace"
)

// lineServer serves cfg on a loopback listener with the user alice
// (password "secret") and returns its address. The server and its
// sessions end with the test.
func lineServer(t testing.TB, cfg Config) (*testHost, string) {
	t.Helper()
	if cfg.Users == nil {
		// The cheapest cost: the tests run under the race detector.
		hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Users, err = ParseUsers([]byte("alice:" + string(hash) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := newTestHost(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { // ends when ln closes
		defer close(served)
		srv.serve(ln)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-served
	})
	return srv, ln.Addr().String()
}

// lineClient is a client in plain line mode (it answers no telnet
// option, like nc), reading with a deadline.
type lineClient struct {
	t  testing.TB
	c  net.Conn
	r  *bufio.Reader
	mu sync.Mutex
}

func dialLine(t testing.TB, addr string) *lineClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineClient{t: t, c: c, r: bufio.NewReader(c)}
}

// expect reads until s has been read, and returns what was read.
func (lc *lineClient) expect(s string) string {
	lc.t.Helper()
	lc.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []byte
	for !strings.HasSuffix(string(got), s) {
		b, err := lc.r.ReadByte()
		if err != nil {
			lc.t.Fatalf("waiting for %q: %v; got %q", s, err, got)
		}
		if b == 0xff { // IAC: skip the command and its option
			cmd, _ := lc.r.ReadByte()
			if cmd >= 251 && cmd <= 254 {
				lc.r.ReadByte()
			}
			continue
		}
		got = append(got, b)
	}
	return string(got)
}

func (lc *lineClient) send(s string) {
	lc.t.Helper()
	lc.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(lc.c, s); err != nil {
		lc.t.Fatal(err)
	}
}

// login logs in as alice.
func (lc *lineClient) login() {
	lc.t.Helper()
	lc.send("alice\r\n")
	lc.expect("password: ")
	lc.send("secret\r\n")
	lc.expect(">>> ")
}

// countingNamespaces counts the evaluations of the namespaces it opens,
// and the bytes of source they were given.
type countingNamespaces struct {
	mu           sync.Mutex
	evals, bytes int
}

func (c *countingNamespaces) New(opts namespace.Options) (Namespace, error) {
	return &countingNamespace{Namespace: namespace.New(opts), n: c}, nil
}

func (c *countingNamespaces) Restore(opts namespace.Options, s namespace.Snapshot) (Namespace, error) {
	ns, err := namespace.Restore(opts, s)
	return &countingNamespace{Namespace: ns, n: c}, err
}

type countingNamespace struct {
	*namespace.Namespace
	n *countingNamespaces
}

func (ns *countingNamespace) Eval(ctx context.Context, src string) (namespace.Result, error) {
	ns.n.mu.Lock()
	ns.n.evals++
	ns.n.bytes += len(src)
	ns.n.mu.Unlock()
	return ns.Namespace.Eval(ctx, src)
}

// TestPasteEvaluatedOnce: a pasted literal of many lines reaches the
// namespace once, whole, rather than once per line with everything before
// it (which made a paste cost time quadratic in its length, and, with
// workers, sent it all over a socket after every line).
func TestPasteEvaluatedOnce(t *testing.T) {
	counter := &countingNamespaces{}
	_, addr := lineServer(t, Config{Namespaces: counter})
	lc := dialLine(t, addr)
	lc.expect("username: ")
	lc.login()

	const n = 2000
	var paste strings.Builder
	paste.WriteString("xs := []int{\r\n")
	for i := range n {
		fmt.Fprintf(&paste, "\t%d,\r\n", i)
	}
	paste.WriteString("}\r\nlen(xs)\r\n")
	lc.send(paste.String())
	lc.expect(fmt.Sprintf("%d\r\n>>> ", n))

	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.evals != 2 || counter.bytes > paste.Len() {
		t.Errorf("a paste of %d lines then one more line: %d evaluations of %d bytes in all, want 2 of at most %d",
			n+3, counter.evals, counter.bytes, paste.Len())
	}
}

// syncBuffer is a log destination safe for the sessions' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestPasswordAtNamePromptNotLogged: a password typed at the username:
// prompt by mistake stays out of the log; a known user's name is logged.
func TestPasswordAtNamePromptNotLogged(t *testing.T) {
	var log syncBuffer
	_, addr := lineServer(t, Config{LoginDelay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	lc := dialLine(t, addr)
	lc.expect("username: ")
	lc.send("Tr0ub4dor&3\r\n")
	lc.expect("password: ")
	lc.send("Tr0ub4dor&3\r\n")
	lc.expect("Login incorrect")
	lc.send("alice\r\n")
	lc.expect("password: ")
	lc.send("wrong\r\n")
	lc.expect("Login incorrect")
	if strings.Contains(log.String(), "Tr0ub4dor") {
		t.Errorf("the log has what was typed at the username prompt:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "user=alice") {
		t.Errorf("the log does not name the known user alice:\n%s", log.String())
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoginNameNotInHistory: in character mode, Up-arrow after login does
// not bring back the name typed at the username: prompt.
func TestLoginNameNotInHistory(t *testing.T) {
	_, addr := lineServer(t, Config{})
	lc := dialLine(t, addr)
	lc.send("\xff\xfd\x01\xff\xfd\x03") // IAC DO ECHO, IAC DO SGA: the server edits the lines
	lc.expect("username: ")
	lc.send("alice\r\x00")
	lc.expect("password: ")
	lc.send("secret\r\x00")
	lc.expect(">>> ")
	lc.send("\x1b[A\r\x00") // Up, Enter
	if got := lc.expect(">>> "); strings.Contains(got, "alice") {
		t.Errorf("Up-arrow after login recalled the login name: %q", got)
	}
}

// TestEndOfInputRunsWhatCameBefore: IAC EOF (what the SSH relay sends
// when its client closes its side, ssh -T < file) ends the session only
// after every line before it has run and its output has been written;
// the line running when it arrives is not interrupted, as a client that
// leaves would have it.
func TestEndOfInputRunsWhatCameBefore(t *testing.T) {
	_, addr := lineServer(t, Config{NegotiationWait: 10 * time.Millisecond})
	lc := dialLine(t, addr)
	lc.login()
	lc.send("import \"time\"\r\ntime.Sleep(200 * time.Millisecond); x := 6\r\nx * 7\r\n\xff\xec")
	got := lc.expect("bye\r\n")
	if !strings.Contains(got, "42") {
		t.Errorf("output before the end of input: %q, want 42", got)
	}
	lc.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, err := lc.r.ReadByte(); err != io.EOF {
		t.Errorf("after bye: %q, %v; want the connection closed", b, err)
	}
}
