package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"translucent/dashboard"
	"translucent/namespace"
)

// The dashboard's users: testUser is an admin, dashViewer is not.
const (
	dashViewer   = "bob"
	dashPassword = "not an admin"
)

// dashServer is a server with its status page, and so its dashboard.
type dashServer struct {
	*server
	http string // the status page's address
}

// startDashServer starts a server whose admin is testUser, with a second,
// ordinary user, and its HTTP status page on a free port.
func startDashServer(t *testing.T, args ...string) *dashServer {
	t.Helper()
	users := filepath.Join(t.TempDir(), "users")
	for _, u := range [][2]string{{testUser, testPassword}, {dashViewer, dashPassword}} {
		add := exec.Command(binary, "adduser", "--users", users, u[0])
		add.Stdin = strings.NewReader(u[1] + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("adduser: %v\n%s", err, out)
		}
	}
	s := launchServer(t, nil, append([]string{"--users", users, "--admins", testUser, "--http", "127.0.0.1:0"}, args...)...)
	return &dashServer{server: s, http: waitLog(t, s, `msg="http listening" .*addr=(\S+)`)[1]}
}

func (d *dashServer) url(path string) string { return "http://" + d.http + "/dashboard/" + path }

// request sends a request to the dashboard as user (none when ""), with
// the Origin header when origin is not "".
func (d *dashServer) request(t *testing.T, method, path, user, password, origin, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// getJSON gets path as the admin and decodes it into v.
func (d *dashServer) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := d.request(t, "GET", path, testUser, testPassword, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestDashboardAuth(t *testing.T) {
	d := startDashServer(t)
	self := "http://" + d.http
	for _, tc := range []struct {
		name, method, path, user, password, origin, body string
		code                                             int
		says                                             string
	}{
		{"no credentials", "GET", "", "", "", "", "", 401, "needs an admin"},
		{"no credentials, API", "GET", "api/status", "", "", "", "", 401, "needs an admin"},
		{"wrong password", "GET", "api/status", testUser, "guess", "", "", 401, "needs an admin"},
		{"unknown user", "GET", "api/events", "mallory", testPassword, "", "", 401, "needs an admin"},
		{"not an admin", "GET", "api/status", dashViewer, dashPassword, "", "", 403, "not an admin"},
		{"not an admin, POST", "POST", "api/migrate", dashViewer, dashPassword, self, `{"dryRun":true}`, 403, "not an admin"},
		{"the page", "GET", "", testUser, testPassword, "", "", 200, "<title>translucent dashboard</title>"},
		{"its script", "GET", "dash.js", testUser, testPassword, "", "", 200, "EventSource"},
		{"status", "GET", "api/status", testUser, testPassword, "", "", 200, `"sessions":[]`},
		{"cross-origin POST", "POST", "api/migrate", testUser, testPassword, "http://evil.example", `{"dryRun":true}`, 403, "another origin"},
		{"POST from another port", "POST", "api/migrate", testUser, testPassword, "http://127.0.0.1:1", `{"dryRun":true}`, 403, "another origin"},
		{"POST without Origin", "POST", "api/migrate", testUser, testPassword, "", `{"dryRun":true}`, 403, "needs an Origin"},
		{"cross-origin POST, no credentials", "POST", "api/migrate", "", "", "http://evil.example", `{}`, 403, "another origin"},
		{"bad request", "POST", "api/migrate", testUser, testPassword, self, `{"drop":["a b"]}`, 400, "not a variable name"},
		{"GET of an action", "GET", "api/migrate", testUser, testPassword, "", "", 405, "method not allowed"},
		{"graph of nobody", "GET", "api/graph?session=99", testUser, testPassword, "", "", 409, "no session 99"},
		{"graph of garbage", "GET", "api/graph?session=x", testUser, testPassword, "", "", 400, "want a session id"},
		{"dry run", "POST", "api/migrate", testUser, testPassword, self, `{"dryRun":true}`, 200, "every session would migrate"},
	} {
		resp, body := d.request(t, tc.method, tc.path, tc.user, tc.password, tc.origin, tc.body)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %s %q", tc.name, resp.Status, body)
		}
		if tc.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: 401 without a Basic challenge", tc.name)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no Content-Security-Policy", tc.name)
		}
	}
	// A wrong password is logged as a session login's is.
	if !regexp.MustCompile(`msg="wrong password" .*via=dashboard`).MatchString(d.log()) {
		t.Errorf("no wrong password in the log:\n%s", d.log())
	}
}

func TestDashboardSessionsAndGraph(t *testing.T) {
	d := startDashServer(t)
	c := loggedIn(t, d.server)
	for _, line := range []string{
		"type Point struct{ X, Y int }",
		"x := 41",
		"p := Point{1, 2}",
		"pp := &p",
		`names := []string{"ada", "grace"}`,
	} {
		if got := c.eval(line); got != "" {
			t.Fatalf("%s: %s", line, got)
		}
	}
	var st dashboard.Status
	d.getJSON(t, "api/status", &st)
	if st.Pid != d.pid() || !strings.HasPrefix(st.Version, testVersion+" ") || st.Predecessor != nil {
		t.Errorf("status: pid %d version %q predecessor %v, want pid %d, %s", st.Pid, st.Version, st.Predecessor, d.pid(), testVersion)
	}
	if len(st.Sessions) != 1 {
		t.Fatalf("status: %+v, want one session", st.Sessions)
	}
	s := st.Sessions[0]
	if s.User != testUser || s.Addr != c.conn.LocalAddr().String() || s.State != "idle" || s.Worker == 0 || s.Worker == d.pid() || s.Memory <= 0 {
		t.Errorf("session: %+v, want %s from %s, idle, in a worker with its memory", s, testUser, c.conn.LocalAddr())
	}
	if pid := c.eval(`import "os"`) + c.eval("os.Getpid()"); pid != strconv.Itoa(s.Worker) {
		t.Errorf("the session's code runs in pid %s, the dashboard says %d", pid, s.Worker)
	}

	var g namespace.Graph
	d.getJSON(t, fmt.Sprintf("api/graph?session=%d", s.ID), &g)
	vars := map[string]namespace.GraphNode{}
	for _, n := range g.Nodes {
		if n.Var != "" {
			vars[n.Var] = n
		}
	}
	for name, rows := range map[string][]string{"x": {"41"}, "p": {"X: 1", "Y: 2"}, "names": nil, "pp": nil} {
		n, ok := vars[name]
		if !ok {
			t.Errorf("graph: no variable %s in %+v", name, g.Nodes)
			continue
		}
		if rows != nil && !slices.Equal(n.Rows, rows) {
			t.Errorf("graph: %s rows %q, want %q", name, n.Rows, rows)
		}
	}
	// pp refers to p's storage: an edge into p's node.
	if !slices.ContainsFunc(g.Edges, func(e namespace.GraphEdge) bool { return e.From == vars["pp"].ID && e.To == vars["p"].ID }) {
		t.Errorf("graph: no edge pp -> p in %+v", g.Edges)
	}
	// names refers to its elements.
	if !slices.ContainsFunc(g.Edges, func(e namespace.GraphEdge) bool { return e.From == vars["names"].ID }) {
		t.Errorf("graph: no edge from names in %+v", g.Edges)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, data string }

// openEvents opens the dashboard's event stream as the admin; its events
// arrive on the channel, which is closed when the stream ends.
func openEvents(t *testing.T, d *dashServer) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", d.url("api/events"), nil)
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	c := make(chan sseEvent, 256)
	go func() { // ends with the stream
		defer close(c)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					c <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	return c
}

// nextEvent waits for the next event named name, skipping status events;
// ok is false when the stream ended first.
func nextEvent(t *testing.T, c <-chan sseEvent, name string, v any) bool {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ev, open := <-c:
			if !open {
				return false
			}
			if ev.name == "status" && name != "status" {
				continue
			}
			if ev.name != name {
				t.Fatalf("event %s %s, want %s", ev.name, ev.data, name)
			}
			if err := json.Unmarshal([]byte(ev.data), v); err != nil {
				t.Fatalf("event %s: %v: %s", name, err, ev.data)
			}
			return true
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestDashboardMigrationEvents(t *testing.T) {
	d := startDashServer(t)
	c := loggedIn(t, d.server)
	c.eval("x := 41")
	c.eval(`secret := "hunter2"`)
	events := openEvents(t, d)
	var st dashboard.Status
	if !nextEvent(t, events, "status", &st) || len(st.Sessions) != 1 {
		t.Fatalf("first status: %+v", st)
	}
	id := st.Sessions[0].ID

	// A migration that rolls back: the reason reaches the page.
	if out, err := migrateTo(t, d.server, "/nonexistent/translucent"); err == nil {
		t.Fatalf("migrating to nothing succeeded:\n%s", out)
	}
	var started dashboard.Started
	var out dashboard.Outcome
	if !nextEvent(t, events, "migration", &started) || !nextEvent(t, events, "outcome", &out) {
		t.Fatal("the stream ended")
	}
	if out.OK || !strings.Contains(out.Error, "/nonexistent/translucent") {
		t.Errorf("rolled back migration's outcome: %+v", out)
	}

	// A migration asked for from the page, breaking one reference.
	type result struct {
		res dashboard.Result
		err error
	}
	done := make(chan result, 1)
	go func() { // ends when the migration has answered
		req, _ := http.NewRequest("POST", d.url("api/migrate"), strings.NewReader(`{"drop":["secret"]}`))
		req.SetBasicAuth(testUser, testPassword)
		req.Header.Set("Origin", "http://"+d.http)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var r result
		r.err = json.NewDecoder(resp.Body).Decode(&r.res)
		done <- r
	}()
	if !nextEvent(t, events, "migration", &started) {
		t.Fatal("the stream ended")
	}
	if started.Old.Pid != d.pid() || !slices.Equal(started.Drop, []string{"secret"}) || len(started.Sessions) != 1 || started.Sessions[0].ID != id {
		t.Errorf("migration started: %+v", started)
	}
	var phases []string
	var paused dashboard.Paused
events:
	for {
		var p dashboard.PhaseEnded
		select {
		case ev := <-events:
			if ev.name == "paused" {
				json.Unmarshal([]byte(ev.data), &paused)
				continue
			}
			if ev.name == "outcome" {
				out = dashboard.Outcome{}
				json.Unmarshal([]byte(ev.data), &out)
				break events
			}
			if ev.name != "phase" {
				continue
			}
			json.Unmarshal([]byte(ev.data), &p)
			if p.Duration <= 0 || p.At < p.Duration {
				t.Errorf("phase %+v", p)
			}
			phases = append(phases, p.Name)
		case <-time.After(waitFor):
			t.Fatalf("no outcome; phases %v", phases)
		}
	}
	r := <-done
	if r.err != nil || !r.res.OK {
		t.Fatalf("POST migrate: %+v", r)
	}
	newPid := newPid(t, r.res.Output)
	t.Cleanup(func() { stopPid(t, newPid) })
	if want := []string{"start", "recheck", "quiesce", "transfer", "restore", "commit"}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if len(paused.Sessions) != 1 || paused.Sessions[0].ID != id || paused.Sessions[0].Still <= 0 {
		t.Errorf("paused: %+v", paused)
	}
	if !out.OK || out.New.Pid != newPid || !strings.HasPrefix(out.New.Version, testVersion+" ") || len(out.Sessions) != 1 ||
		out.Sessions[0].ID != id || out.Sessions[0].Duration <= 0 || out.Sessions[0].Duration > out.Pause {
		t.Errorf("outcome: %+v, want new pid %d", out, newPid)
	}
	// The old process ends the stream as it hands over.
	var ev dashboard.Status
	if nextEvent(t, events, "status", &ev) {
		t.Errorf("the old process's stream goes on: %+v", ev)
	}
	// A new stream is the new process's, which knows where it came from.
	if !nextEvent(t, openEvents(t, d), "status", &st) {
		t.Fatal("the new stream ended")
	}
	if st.Pid != newPid || st.Predecessor == nil || st.Predecessor.Pid != d.pid() || len(st.Sessions) != 1 || st.Sessions[0].ID != id {
		t.Errorf("after the migration: %+v", st)
	}
	// The session went on, without the reference broken, and was told.
	c.expect(t, "not carried by the migration: secret (string): dropped by request")
	c.expect(t, ">>> ")
	if got := c.eval("x"); got != "41" {
		t.Errorf("x = %q after the migration", got)
	}
	if got := c.eval("secret"); got != `""` {
		t.Errorf("secret = %q after a migration that dropped it", got)
	}
}
