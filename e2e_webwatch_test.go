package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser terminal's watch view (/?watch=ID) and the dashboard's
// links to it.

// banner is the text of the page's banner, "" when it is hidden.
func (p *page) banner() string {
	return onPage(p, chromedp.Evaluate[string](`(() => { const b = document.getElementById("banner"); return b.hidden ? "" : b.textContent; })()`))
}

// waitBanner waits until the page's banner says want.
func (p *page) waitBanner(want string) {
	p.t.Helper()
	deadline := time.Now().Add(waitFor)
	for b := p.banner(); !strings.Contains(b, want); b = p.banner() {
		if time.Now().After(deadline) {
			p.t.Fatalf("the banner does not say %q; it says %q", want, b)
		}
		time.Sleep(20 * time.Millisecond) // polling the page
	}
}

// login logs in through the page as user.
func (p *page) login(user string) {
	p.t.Helper()
	p.waitText("username: ", 1)
	p.typeLine(user)
	p.waitText("password: ", 1)
	p.typeLine(testPassword)
}

// TestWebWatch: alice shares her telnet session; bob opens the page with
// ?watch=1, logs in as always, and the page types :watch 1 for him. He
// sees alice's lines and what they print, live; what he types reaches
// neither her session nor his own, and Enter gives him his own prompt.
// A watch target that is not a session id types nothing.
func TestWebWatch(t *testing.T) {
	chromium(t)
	s := startServerUsers(t, []string{"alice", "bob"}, "--web", "127.0.0.1:0")
	a := loggedInAs(t, s, "alice") // session 1
	if got := a.eval(":share"); !strings.Contains(got, "session 1 is shared") {
		t.Fatalf(":share: %q", got)
	}
	a.eval("x := 41")
	addr := webAddr(t, s)

	p := openPage(t, "http://"+addr+"/?watch=1")
	p.waitText("username: ", 1)
	if b := p.banner(); !strings.Contains(b, "Log in to watch session 1, read only") || !strings.Contains(b, ":watch 1") {
		t.Errorf("the banner before the login: %q", b)
	}
	p.typeLine("bob")
	p.waitText("password: ", 1)
	p.typeLine(testPassword)
	p.waitText(">>> :watch 1\n", 1)
	p.waitText("watching session 1 (alice), read only", 1)
	p.waitText("x := 41", 1) // the recap
	a.expect(t, "[bob is watching]")
	a.expect(t, ">>> ")
	p.waitBanner("Watching session 1, read only: nothing you type reaches it. Enter or Ctrl-C ends the watch")

	if got := a.eval("x + 1"); got != "42" {
		t.Fatalf("alice's x + 1 = %q", got)
	}
	p.waitText("x + 1\n42\n", 1)
	if os.Getenv("TRANSLUCENT_SCREENSHOTS") == "1" {
		png := onPage(p, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join("docs", "watch.png"), png, 0o644); err != nil {
			t.Error(err)
		}
	}

	// A migration carries the page's WebSocket and the watch with it.
	out, err := migrateTo(t, s, binaryV2)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pid := newPid(t, out)
	if got := a.eval("x * 2"); got != "82" {
		t.Fatalf("alice's x * 2 after the migration: %q", got)
	}
	p.waitText("x * 2\n82\n", 1)
	if got := a.serverPid(); got != strconv.Itoa(pid) {
		t.Errorf("alice is served by pid %s after the migration, want %d", got, pid)
	}
	if opens, open := p.status(); opens != 1 || !open {
		t.Errorf("the watching page opened %d WebSockets (one open: %v), want the same one throughout", opens, open)
	}

	// bob's keys: thrown away, and Enter ends the watch.
	p.typeLine("y := 7")
	p.waitText("[stopped watching]", 1)
	p.waitText(">>> ", 3) // his own prompt: after the login, the watch's end
	if b := p.banner(); !strings.Contains(b, "The watch of session 1 has ended: this is your own session") {
		t.Errorf("the banner after the watch: %q", b)
	}
	if got := a.eval("y"); !strings.Contains(got, "undefined: y") {
		t.Errorf("alice's y after bob typed y := 7 in his watch: %q", got)
	}
	if strings.Contains(a.all(), "y := 7") {
		t.Errorf("what bob typed reached alice's screen:\n%s", a.all())
	}
	p.typeLine("6 * 7000")
	p.waitText("\n42000\n", 1)
	p.typeLine("y")
	p.waitText("undefined: y", 1)
	if got := strings.Count(p.text(), ">>> :watch"); got != 1 {
		t.Errorf("the page typed :watch %d times, want once:\n%s", got, p.text())
	}

	// A watch the server refuses is said so, on the banner too.
	onPage(p, chromedp.Navigate("http://"+addr+"/?watch=99"))
	p.login("bob")
	p.waitText("error: no session 99 here", 1)
	p.waitBanner("Session 99 cannot be watched: no session 99 here")

	// A target that is not a session id is said so, and nothing is typed
	// for the user: a link must not make its visitor type code.
	onPage(p, chromedp.Navigate("http://"+addr+"/?watch=1%0Dy%20:=%207"))
	p.waitText("username: ", 1)
	if b := p.banner(); !strings.Contains(b, "is not a session id") {
		t.Errorf("the banner for ?watch=1\\ry := 7: %q", b)
	}
	p.typeLine("bob")
	p.waitText("password: ", 1)
	p.typeLine(testPassword)
	p.waitText(">>> ", 1)
	p.typeLine("1 + 1")
	p.waitText("\n2\n", 1)
	if text := p.text(); strings.Contains(text, ":watch") || strings.Contains(text, "y := 7") {
		t.Errorf("the page typed something for a bad target:\n%s", text)
	}
}

// TestDashboardWatchLink: on --web, where the terminal is, each session of
// the dashboard links to its watch view, which opens ready to watch it; on
// --http there is no terminal, so no link, and a note says where to go.
func TestDashboardWatchLink(t *testing.T) {
	ctx := browser(t)
	d := startDashServer(t, "--web", "127.0.0.1:0")
	web := webAddr(t, d.server)
	loggedIn(t, d.server) // session 1
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	link := `#sessions tbody tr[data-id="1"] a.watch`
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+web+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS(link))); err != nil {
		t.Fatalf("the dashboard on --web: %v", err)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+link+`').href`))
	if want := "http://" + web + "/?watch=1"; err != nil || href != want {
		t.Fatalf("the watch link of session 1: %q (%v), want %q", href, err, want)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(href), chromedp.Poll[chromedp.Void](`document.getElementById("banner").textContent.includes("Log in to watch session 1")`)); err != nil {
		t.Errorf("the link's page: %v", err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(d.url("")), chromedp.WaitVisible(chromedp.CSS(`#sessions tbody tr[data-id="1"]`)), chromedp.WaitVisible(chromedp.CSS("#no-watch"))); err != nil {
		t.Fatalf("the dashboard on --http: %v", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("a.watch").length`)); err != nil || n != 0 {
		t.Errorf("the dashboard on --http has %d watch links (%v), want none: no terminal there", n, err)
	}
}
