package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts a headless Chromium for the test, or skips it when none
// is installed. Chromium is told to reach nothing but the page: on a
// closed network its background services otherwise hang it.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium: apt-get install chromium (.ci/run does) to run the dashboard in a browser")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1300, 1100),
	}
	// A deadline for a browser that hangs: a failure, not a pace.
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitFor)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel) // ends the browser process
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// TestDashboardBrowser drives the page in a real browser: it lists a
// telnet session, draws its graph, marks a variable to drop, migrates
// from its button, and shows the new process once it has reconnected.
func TestDashboardBrowser(t *testing.T) {
	ctx := browser(t)
	d := startDashServer(t)
	c := loggedIn(t, d.server)
	for _, line := range []string{
		"type Point struct{ X, Y int }",
		"p := &Point{1, 2}",
		"q := p",
		"x := 41",
		`names := []string{"ada", "grace"}`,
		`secret := "hunter2"`,
	} {
		c.eval(line)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	row := `#sessions tbody tr[data-id="1"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(d.url("")),
		chromedp.WaitVisible(css(row)),
		chromedp.Click(css(row+" button.graph")),
		chromedp.WaitVisible(css(`#graph g.node.var[data-var="secret"]`)),
		chromedp.Click(css(`#graph g.node.var[data-var="secret"] rect`)),
		chromedp.WaitVisible(css(`#graph g.node.dropped[data-var="secret"]`)),
		chromedp.WaitVisible(css(`#drop-list .drop`)),
	)
	if err != nil {
		t.Fatalf("the page before the migration: %v\n%s", err, d.log())
	}
	rowText, err := chromedp.Run(ctx, chromedp.Text(css(row)))
	if err != nil || !strings.Contains(rowText, testUser) || !strings.Contains(rowText, c.conn.LocalAddr().String()) || !strings.Contains(rowText, "idle") {
		t.Errorf("the session's row: %q (%v)", rowText, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("#migrate")), chromedp.WaitVisible(css("#outcome.ok"))); err != nil {
		t.Fatalf("migrating from the page: %v\n%s", err, d.log())
	}
	outcome, err := chromedp.Run(ctx, chromedp.Text(css("#outcome")))
	m := regexp.MustCompile(`new pid (\d+)`).FindStringSubmatch(outcome)
	if err != nil || m == nil {
		t.Fatalf("the page's outcome: %q (%v)", outcome, err)
	}
	newPid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() { stopPid(t, newPid) })
	// The stream ended with the old process; the page reconnects to the
	// new one and says so.
	err = chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById("pid").textContent === "%d"`, newPid)),
		chromedp.WaitVisible(css(`#timeline g[data-session="1"]`)),
	)
	if err != nil {
		t.Fatalf("the page after the migration: %v", err)
	}
	if outcome, err = chromedp.Run(ctx, chromedp.Text(css("#outcome"))); err != nil || !strings.Contains(outcome, fmt.Sprintf("now hears pid %d", newPid)) {
		t.Errorf("the page's outcome after reconnecting: %q (%v)", outcome, err)
	}
	// The graph is drawn again from the new process: the reference the
	// page broke arrived at its zero value.
	err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#graph g.node.var[data-var="secret"] text')].some((t) => t.textContent === '""')`))
	if err != nil {
		t.Errorf("the graph after the migration: %v", err)
	}
	if os.Getenv("TRANSLUCENT_SCREENSHOTS") == "1" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile("docs/dashboard.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The telnet session moved, without the reference broken.
	c.expect(t, "not carried by the migration: secret (string): dropped by request")
	c.expect(t, ">>> ")
	if got := c.serverPid(); got != strconv.Itoa(newPid) {
		t.Errorf("the session is served by pid %s, the page says %d", got, newPid)
	}
	if got := c.eval("secret"); got != `""` {
		t.Errorf("secret = %s after the page dropped it", got)
	}
	if got := c.eval("q.X + x"); got != "42" {
		t.Errorf("q.X + x = %s after the migration", got)
	}
}
