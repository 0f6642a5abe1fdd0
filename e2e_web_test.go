package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// The browser terminal (serve --web): a real page in headless Chromium,
// and a raw Go WebSocket client for the protocol's bad corners.

// webAddr returns the host:port of s's browser terminal, from its log.
func webAddr(t testing.TB, s *server) string {
	t.Helper()
	re := `msg="web listening" .*open=http://(\S+)/`
	return waitLog(t, s, re)[1]
}

// wsConn is a client's WebSocket as a net.Conn: Write sends a masked
// binary frame, Read returns the payload of the server's frames. A close
// frame ends the stream with io.EOF; its code is then closeCode.
type wsConn struct {
	net.Conn
	br        *bufio.Reader
	remain    int
	mu        sync.Mutex
	closeCode int // guarded by mu
}

// wsHandshake sends a WebSocket handshake to addr with origin ("" for
// none) and returns the connection and the server's response.
func wsHandshake(t testing.TB, addr, origin string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitFor))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	return c, br, resp
}

// wsDial opens a WebSocket to s's browser terminal as its page would.
func wsDial(t testing.TB, addr string) *wsConn {
	t.Helper()
	c, br, resp := wsHandshake(t, addr, "http://"+addr)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return &wsConn{Conn: c, br: br}
}

// wsFrame is a client frame: masked, final, of op.
func wsFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binenc.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binenc.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func (w *wsConn) Write(p []byte) (int, error) {
	if _, err := w.Conn.Write(wsFrame(2, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsConn) Read(p []byte) (int, error) {
	for w.remain == 0 {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return 0, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(w.br, e[:]); err != nil {
				return 0, err
			}
			n = int(binenc.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(w.br, e[:]); err != nil {
				return 0, err
			}
			n = int(binenc.BigEndian.Uint64(e[:]))
		}
		if op := h[0] & 0x0f; op >= 8 {
			payload := make([]byte, n)
			if _, err := io.ReadFull(w.br, payload); err != nil {
				return 0, err
			}
			if op == 8 {
				w.mu.Lock()
				if len(payload) >= 2 {
					w.closeCode = int(binenc.BigEndian.Uint16(payload))
				}
				w.mu.Unlock()
				return 0, io.EOF
			}
			continue
		}
		w.remain = n
	}
	n, err := w.br.Read(p[:min(len(p), w.remain)])
	w.remain -= n
	return n, err
}

func (w *wsConn) code() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeCode
}

// wsClient is a telnet client (the e2e tests' own) over a WebSocket, as
// the page is.
func wsClient(t testing.TB, addr string) (*client, *wsConn) {
	ws := wsDial(t, addr)
	return &client{t: t, conn: ws, transcript: newTranscript(&negotiator{conn: ws}, stripIAC)}, ws
}

// TestWebBadInput: a page of another site is refused; a frame too big, an
// unmasked frame and garbage end that connection with the close code that
// says why; a client that never reads while the server writes a lot holds
// up nobody. Through all of it, other sessions, telnet and browser, go on.
func TestWebBadInput(t *testing.T) {
	s := startServer(t, "--web", "127.0.0.1:0")
	addr := webAddr(t, s)
	tel := loggedIn(t, s)
	good, _ := wsClient(t, addr)
	good.login(testUser, testPassword)
	good.expect(t, ">>> ")
	if got := good.eval("40 + 2"); got != "42" {
		t.Fatalf("over the WebSocket 40 + 2 = %q", got)
	}
	// A slow-loris upgrade: a request that never ends. It is checked at
	// the end, when the server has had the time to give up on it.
	loris, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer loris.Close()
	fmt.Fprintf(loris, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", addr)
	stillFine := func(when string) {
		t.Helper()
		if got := good.eval(`"web " + "fine"`); got != `"web fine"` {
			t.Errorf("%s: the browser session answered %q", when, got)
		}
		if got := tel.eval(`"telnet " + "fine"`); got != `"telnet fine"` {
			t.Errorf("%s: the telnet session answered %q", when, got)
		}
	}

	t.Run("origin", func(t *testing.T) {
		for _, origin := range []string{"http://evil.example", "null", "http://" + addr + ".evil.example"} {
			_, _, resp := wsHandshake(t, addr, origin)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "may not connect") {
				t.Errorf("Origin %s: %s %q, want 403", origin, resp.Status, body)
			}
		}
	})
	t.Run("version", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("version 8: %v %v", resp, err)
		}
	})
	closedWith := func(t *testing.T, ws *wsConn, code int, what string) {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(waitFor))
		_, err := io.Copy(io.Discard, ws)
		if err != nil || ws.code() != code {
			t.Errorf("%s: closed with %d (%v), want %d", what, ws.code(), err, code)
		}
	}
	t.Run("oversized frame", func(t *testing.T) {
		ws := wsDial(t, addr)
		ws.Conn.Write(wsFrame(2, make([]byte, 1<<20)))
		closedWith(t, ws, 1009, "a 1 MiB frame")
	})
	t.Run("unmasked frame", func(t *testing.T) {
		ws := wsDial(t, addr)
		ws.Conn.Write([]byte{0x82, 0x05, 'h', 'e', 'l', 'l', 'o'})
		closedWith(t, ws, 1002, "an unmasked frame")
	})
	t.Run("garbage", func(t *testing.T) {
		ws := wsDial(t, addr)
		ws.Conn.Write([]byte("hello, is this telnet?\r\n\xff\xfd\x01"))
		closedWith(t, ws, 1002, "garbage after the handshake")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("\x16\x03\x01\x00\xa5garbage instead of a request\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(waitFor))
		got, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "HTTP/1.1 400") {
			t.Errorf("garbage instead of a request: %q", got)
		}
	})
	stillFine("after bad frames")

	t.Run("a client that never reads", func(t *testing.T) {
		deaf, ws := wsClient(t, addr)
		deaf.login(testUser, testPassword)
		deaf.expect(t, ">>> ")
		if out := deaf.eval(`import ("fmt"; "strings")`); out != "" {
			t.Fatalf("import: %q", out)
		}
		// Stop reading, with the server writing far more than the
		// sockets' buffers hold.
		ws.SetReadDeadline(time.Now())
		deaf.send(`for i := 0; i < 64; i++ { fmt.Println(strings.Repeat("x", 1<<20)) }` + "\r\n")
		stillFine("while a client does not read")
		// The server gives up on it (the telnet layer's stall timeout)
		// and ends its session; reading again reaches the end.
		waitLog(t, s, `msg="logged out" .*addr=`+regexp.QuoteMeta(ws.LocalAddr().String()))
		ws.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := io.Copy(io.Discard, ws.br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the deaf client's connection: %v, want it closed by the server", err)
		}
	})
	stillFine("after the deaf client")
	t.Run("slow-loris upgrade", func(t *testing.T) {
		loris.SetReadDeadline(time.Now().Add(waitFor))
		got, err := io.ReadAll(loris)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("a request that never ends: %v (read %q), want the server to close it", err, got)
		}
	})
	if strings.Contains(s.log(), "panic") {
		t.Errorf("the server log has a panic")
	}
}

// chromium returns the path of Chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium is not installed (apt-get install chromium; .ci/run installs it): the browser test is skipped")
	return ""
}

// page drives the browser terminal in headless Chromium.
type page struct {
	t   *testing.T
	ctx context.Context
}

func openPage(t *testing.T, url string) *page {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 520),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() }) // ends the browser and waits for it
	// The first action starts the browser: no timeout on it, which would
	// end the browser with it (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return &page{t: t, ctx: ctx}
}

// onPage runs a on the page, within waitFor.
func onPage[T any](p *page, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitFor)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("chromium: %v", err)
	}
	return v
}

// text is what the terminal shows, scrollback included.
func (p *page) text() string {
	return onPage(p, chromedp.Evaluate[string](`window.translucent ? window.translucent.text() : ""`))
}

// waitText waits until the terminal shows want, count times in all.
func (p *page) waitText(want string, count int) string {
	p.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := p.text()
		if strings.Count(s, want) >= count {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the page did not show %q (%d times); it shows:\n%s", want, count, s)
		}
		time.Sleep(20 * time.Millisecond) // polling the page
	}
}

// typeLine types s and Enter into the terminal: the text as an input
// method inserts it, Enter as a key (chromedp's SendKeys sends each
// printable key as a keydown and a char, which xterm.js takes for two).
func (p *page) typeLine(s string) {
	p.t.Helper()
	onPage(p, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if s != "" {
			if _, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: s}); err != nil {
				return chromedp.Void{}, err
			}
		}
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			ev := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
			if typ == input.DispatchKeyEventTypeKeyDown {
				ev.Text = "\r"
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, nil
	})
}

func (p *page) status() (opens int, open bool) {
	st := onPage(p, chromedp.Evaluate[struct {
		Opens int
		Open  bool
	}](`({Opens: window.translucent.opens, Open: window.translucent.open})`))
	return st.Opens, st.Open
}

// TestWebMigrate logs in through the page in headless Chromium, defines a
// variable, migrates the server to another build, and reads the variable
// back in the same page over the same WebSocket, from the new pid.
func TestWebMigrate(t *testing.T) {
	chromium(t)
	s := startServer(t, "--web", "127.0.0.1:0")
	p := openPage(t, "http://"+webAddr(t, s)+"/")
	p.waitText("username: ", 1)
	p.typeLine(testUser)
	p.waitText("password: ", 1)
	p.typeLine(testPassword)
	p.waitText(">>> ", 1)
	p.typeLine("x := 20261206")
	p.typeLine(`import "sys"`)
	p.typeLine("sys.Pid")
	p.waitText("\n"+strconv.Itoa(s.pid())+"\n", 1)
	p.waitText(">>> ", 4)

	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)

	p.typeLine("x + 1")
	p.waitText("20261207", 1)
	p.typeLine("sys.Pid")
	p.waitText("\n"+strconv.Itoa(pid)+"\n", 1)
	p.typeLine("sys.Version")
	p.waitText(testVersionV2, 1)
	if opens, open := p.status(); opens != 1 || !open {
		t.Errorf("the page opened %d WebSockets (one open: %v), want the same one throughout", opens, open)
	}
	if os.Getenv("TRANSLUCENT_SCREENSHOTS") == "1" {
		png := onPage(p, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join("docs", "web-terminal.png"), png, 0o644); err != nil {
			t.Error(err)
		}
	}

	// Leaving says so, and the page connects again only when asked.
	p.typeLine(":quit")
	p.waitText("[disconnected", 1)
	if opens, open := p.status(); opens != 1 || open {
		t.Errorf("after :quit the page opened %d WebSockets (one open: %v), want 1 and none open", opens, open)
	}
	p.typeLine("")
	p.waitText("username: ", 2)
	if opens, _ := p.status(); opens != 2 {
		t.Errorf("Enter after the disconnection opened %d WebSockets in all, want 2", opens)
	}
}

// TestWebMigrateMidFrame migrates a browser session while a frame is half
// sent: the old process has read its header and part of its payload, the
// new one decodes the rest from the decoder's carried state, on the same
// connection.
func TestWebMigrateMidFrame(t *testing.T) {
	s := startServer(t, "--web", "127.0.0.1:0")
	c, ws := wsClient(t, webAddr(t, s))
	c.login(testUser, testPassword)
	c.expect(t, ">>> ")
	c.eval("x := 41")
	frame := wsFrame(2, []byte("x + 1\r\n"))
	if _, err := ws.Conn.Write(frame[:11]); err != nil { // header, mask, "x + 1": the mask at its second byte
		t.Fatal(err)
	}
	c.expect(t, "x + 1")
	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	if _, err := ws.Conn.Write(frame[11:]); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(t, "\n>>> "); !strings.Contains(got, "42") {
		t.Errorf("the frame finished after the migration gave %q", got)
	}
	if got := c.serverPid(); got != strconv.Itoa(pid) {
		t.Errorf("after migration sys.Pid = %q, want %d", got, pid)
	}
}

// TestWebMigrateRollback: a successor that adopted a browser session (and
// rebuilt its framing) and then refuses leaves it with the old process,
// undisturbed, mid-frame.
func TestWebMigrateRollback(t *testing.T) {
	s := startServerEnv(t, []string{"TRANSLUCENT_TEST_FAIL=refuse"}, "--web", "127.0.0.1:0")
	c, ws := wsClient(t, webAddr(t, s))
	c.login(testUser, testPassword)
	c.expect(t, ">>> ")
	c.eval("x := 41")
	frame := wsFrame(2, []byte("x + 1\r\n"))
	if _, err := ws.Conn.Write(frame[:11]); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "x + 1")
	if out, err := migrateTo(t, s, binaryV2); err == nil || !strings.Contains(out, "refused") {
		t.Fatalf("migrate to a successor that refuses: %v\n%s", err, out)
	}
	if _, err := ws.Conn.Write(frame[11:]); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(t, "\n>>> "); !strings.Contains(got, "42") {
		t.Errorf("the frame finished after the rollback gave %q", got)
	}
	if got := c.serverPid(); got != strconv.Itoa(s.pid()) {
		t.Errorf("after a failed migration sys.Pid = %q, want the same pid %d", got, s.pid())
	}
}
