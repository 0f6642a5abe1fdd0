package demo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"translucent/serverproc"
)

// Options says how to run the walk-through.
type Options struct {
	Out io.Writer // the transcript; required
	In  io.Reader // where Enter is read when Pause is set

	// Pause waits for Enter on In before each part, for a presenter, and
	// prints how the audience can connect sessions of their own (they
	// migrate too).
	Pause bool
	// Listen is the telnet address the server listens on; default a free
	// port on loopback. An address the room can reach (":2323", say) lets
	// the audience join from their own laptops: with Pause, the ways in are
	// printed large, once.
	Listen string
	// Web and SSH, when set, are addresses for the browser terminal and
	// SSH (serve --web, --ssh): the audience may join those ways too.
	Web, SSH string
	// Typing is the pause between the scripted client's keystrokes as the
	// transcript shows them: the audience sees each line typed.
	Typing time.Duration

	// Keep leaves the migrated server running at the end, and says how to
	// reach it and how to stop it.
	Keep bool

	// Source is the repository to build the two versions from; default ".".
	Source string
	// Binary and NewBinary are prebuilt old and new servers; each one not
	// given is built from Source, which needs a Go toolchain on PATH.
	Binary, NewBinary string
	// OldVersion and NewVersion are the versions the builds report
	// (-ldflags "-X main.version=..."); default "v1" and "v2".
	OldVersion, NewVersion string

	// Timeout bounds each wait for a server: its start, an answer, its
	// exit; default 20s. It is a failure, not a pace.
	Timeout time.Duration
}

// The transcript fits a projector of screenWidth columns and 30 lines:
// commands, the client's screen and the log are folded to it.
const (
	screenWidth = 80
	foldAt      = screenWidth - 8 // a log line: indented 4, its folds 4 more
)

// demoUser is the user the scripted client (and the audience) logs in as.
const demoUser = "demo"

// httpEvery is the request loop's pace: often enough to have requests on
// both sides of the handoff, rarely enough to leave the two cores to the
// migration.
const httpEvery = 5 * time.Millisecond

// Run runs the walk-through and writes its transcript to opts.Out. It
// returns nil only if every check held; otherwise an error saying which
// failed, or what stopped the walk-through. Every process it started is
// gone when it returns, except the migrated server with opts.Keep.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Out == nil {
		return errors.New("demo: no Options.Out")
	}
	if opts.Source == "" {
		opts.Source = "."
	}
	if opts.OldVersion == "" {
		opts.OldVersion = "v1"
	}
	if opts.NewVersion == "" {
		opts.NewVersion = "v2"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.Pause && opts.In == nil {
		return errors.New("demo: --pause needs an input to read Enter from")
	}
	d := &demo{opts: opts, out: opts.Out}
	// A short directory: the control socket's path must fit in a Unix
	// socket address (108 bytes).
	if d.dir, err = os.MkdirTemp("", "tdemo"); err != nil {
		return err
	}
	if opts.Pause {
		d.startEnter()
	}
	reachedEnd := false
	defer func() {
		ferr := d.finish(reachedEnd)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("demo: interrupted (%w)", ctx.Err())
		}
		err = errors.Join(err, ferr)
	}()

	steps := []func(context.Context) error{
		d.prepare, d.part1, d.part2, d.part3, d.part4, d.part5, d.part6,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	reachedEnd = true
	return d.report()
}

// demo is one run of the walk-through. Only Run's goroutine uses it.
type demo struct {
	opts Options
	out  io.Writer
	dir  string // temporary: builds, users file, control socket, log

	oldBin, newBin string
	built          bool // the demo built both, so it knows their versions
	password       string
	usersFile      string
	control        string

	srv        *serverproc.Chain
	logPath    string // the servers' log
	connect    string // "telnet 127.0.0.1 PORT", as the server logged it
	telnetAddr string
	httpURL    string
	cl         *client
	printer    *indenter // the scripted session's screen
	loop       *httpLoop // while it runs

	// What was seen, for the checks.
	oldPid, newPid            int
	oldVersion, newVersion    string            // sys.Version before and after, as printed
	pidBefore, pidAfter       string            // sys.Pid (the server) before and after, as printed
	workerBefore, workerAfter string            // os.Getpid() (the worker running the session's code)
	before, after             map[string]string // answers to the same lines
	rep                       MigrateReport
	http                      httpStats
	quietBytes                int    // bytes the client received during the migration
	statusOut                 string // `status` after the migration
	oldExit                   error

	enter chan struct{} // a line on In, when Pause
	quit  chan struct{} // closed when Run returns, for the Enter reader
}

// part prints a part's heading, first waiting for Enter with Pause.
func (d *demo) part(ctx context.Context, n int, title string) error {
	if d.printer != nil {
		d.printer.endLine()
	}
	if d.opts.Pause {
		fmt.Fprint(d.out, "\n[press Enter] ")
		select {
		case _, ok := <-d.enter:
			if !ok {
				d.opts.Pause = false
				fmt.Fprintln(d.out, "(no more input: going on without pausing)")
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.heading(fmt.Sprintf("Migration walk-through - part %d: %s", n, title))
	return nil
}

// heading prints h, underlined, the way the slides had a title.
func (d *demo) heading(h string) {
	fmt.Fprintf(d.out, "\n%s\n%s\n", h, strings.Repeat("=", len(h)))
}

// startEnter reads lines from In for the pauses. Its goroutine ends at
// In's end, or at the next line after Run returned: a read from a
// terminal cannot be interrupted, so Run does not wait for it.
func (d *demo) startEnter() {
	d.enter, d.quit = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(d.enter)
		sc := bufio.NewScanner(d.opts.In)
		for sc.Scan() {
			select {
			case d.enter <- struct{}{}:
			case <-d.quit:
				return
			}
		}
	}()
}

// say prints narration.
func (d *demo) say(format string, args ...any) {
	if d.printer != nil {
		d.printer.endLine()
	}
	fmt.Fprintf(d.out, format+"\n", args...)
}

// show prints a command as an operator would type it, wrapped for a
// projector, the way a shell takes it.
func (d *demo) show(args []string) {
	// A flag stays on one line with its value.
	var units []string
	for i := 0; i < len(args); i++ {
		u := shellQuote(args[i])
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			u += " " + shellQuote(args[i])
		}
		units = append(units, u)
	}
	fmt.Fprintln(d.out)
	line := "  $"
	for i, u := range units {
		if i > 0 && len(line)+1+len(u) > 76 {
			fmt.Fprintln(d.out, line+` \`)
			line = "     "
		}
		line += " " + u
	}
	fmt.Fprintln(d.out, line)
}

// output prints a command's output, indented.
func (d *demo) output(s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintln(d.out, "    "+l)
	}
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?;&|<>(){}[]#~") {
		return s
	}
	if !strings.ContainsAny(s, "\"\\$`!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// run runs a command to completion, printing it and its output.
func (d *demo) run(ctx context.Context, stdin string, args ...string) (string, error) {
	d.show(args)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	d.output(stdout.String() + stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("demo: %s: %w\n%s", filepath.Base(args[0])+" "+args[1], err, stderr.String())
	}
	return stdout.String(), nil
}

// prepare makes the two builds and the users file.
func (d *demo) prepare(ctx context.Context) error {
	o := d.opts
	fmt.Fprintf(d.out, "translucent demo: the walk-through of \"Translucent Inter-Process Service\n"+
		"Migration\" (PyCon 2004), live, against real processes.\nIts files: %s\n", d.dir)
	d.heading("Preparation: two builds that report different versions")
	d.oldBin, d.newBin = o.Binary, o.NewBinary
	if d.oldBin == "" || d.newBin == "" {
		if _, err := exec.LookPath("go"); err != nil {
			return fmt.Errorf("demo: no Go toolchain on PATH to build the two versions (%v); "+
				"build two yourself, with different -ldflags \"-X main.version=...\", and pass --binary OLD --new-binary NEW", err)
		}
		src, err := checkSource(o.Source)
		if err != nil {
			return err
		}
		d.say("Two real builds of the source in %s, which differ only in the version\nthey report:", src)
		for _, b := range []struct {
			path    *string
			version string
		}{{&d.oldBin, o.OldVersion}, {&d.newBin, o.NewVersion}} {
			if *b.path != "" {
				continue
			}
			*b.path = filepath.Join(d.dir, "translucent-"+b.version)
			start := time.Now()
			args, err := build(ctx, src, *b.path, b.version)
			d.show(args)
			if err != nil {
				return err
			}
			d.output(fmt.Sprintf("(built in %.1fs)", time.Since(start).Seconds()))
		}
		d.built = o.Binary == "" && o.NewBinary == ""
	} else {
		d.say("Two prebuilt servers, as given:")
	}
	// Absolute, for the migrate command and for the instructions --keep
	// prints.
	for _, p := range []*string{&d.oldBin, &d.newBin} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	var versions [2]string
	for i, bin := range []string{d.oldBin, d.newBin} {
		out, err := d.run(ctx, "", bin, "version")
		if err != nil {
			return err
		}
		versions[i] = strings.TrimSpace(out)
	}
	if versions[0] == versions[1] {
		d.say("Both report the same version: the version check below will fail.")
	}

	d.password = randomPassword()
	d.usersFile = filepath.Join(d.dir, "users")
	d.control = filepath.Join(d.dir, "control")
	d.say("\nA user for the telnet sessions (the password is read from standard input):")
	_, err := d.run(ctx, d.password+"\n", d.oldBin, "adduser", "--users", d.usersFile, demoUser)
	return err
}

// part1: the old server starts.
func (d *demo) part1(ctx context.Context) error {
	if err := d.part(ctx, 1, "the server starts"); err != nil {
		return err
	}
	if d.opts.Listen == "" {
		d.say("The old build serves telnet and a small HTTP status page, on free\nloopback ports:")
	} else {
		d.say("The old build serves telnet on %s, and a small HTTP status page on a\nfree loopback port:", d.opts.Listen)
	}
	listen := d.opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	args := []string{d.oldBin, "serve", "--listen", listen, "--http", "127.0.0.1:0",
		"--control", d.control, "--users", d.usersFile}
	if d.opts.Web != "" {
		args = append(args, "--web", d.opts.Web)
	}
	if d.opts.SSH != "" {
		args = append(args, "--ssh", d.opts.SSH)
	}
	d.show(args)
	d.logPath = filepath.Join(d.dir, "server.log")
	srv, err := startServer(args[0], args[2:], d.logPath) // args[1] is "serve"
	if err != nil {
		return fmt.Errorf("demo: starting the server: %w", err)
	}
	d.srv, d.oldPid = srv, srv.First()
	ln, err := d.waitLog(ctx, d.oldPid, "listening", d.opts.Timeout)
	if err != nil {
		return err
	}
	hl, err := d.waitLog(ctx, d.oldPid, "http listening", d.opts.Timeout)
	if err != nil {
		return err
	}
	d.output(folded(ln, foldAt, "time") + "\n" + folded(hl, foldAt, "time"))
	d.connect, d.telnetAddr = ln.Get("connect"), dialable(ln.Get("addr"))
	d.httpURL = "http://" + hl.Get("addr") + "/"

	c := newHTTPClient()
	_, body, _, err := getStatus(ctx, c, d.httpURL)
	c.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("demo: the status page: %w\n%s", err, d.logTail())
	}
	d.say("\nIts status page answers with the pid and version of the process serving it:")
	d.output("GET " + d.httpURL + "  ->  " + strings.TrimSpace(body))
	if d.opts.Pause {
		ways := []way{{"telnet", ln.Get("addr")}}
		for _, w := range []struct{ kind, flag, msg string }{{"ssh", d.opts.SSH, "ssh listening"}, {"web", d.opts.Web, "web listening"}} {
			if w.flag == "" {
				continue
			}
			l, err := d.waitLog(ctx, d.oldPid, w.msg, d.opts.Timeout)
			if err != nil {
				return err
			}
			ways = append(ways, way{w.kind, l.Get("addr")})
		}
		d.say("%s", joinBanner(ways, hostAddrs(), d.password))
	}
	return nil
}

// part2: the client logs in and fills a namespace.
func (d *demo) part2(ctx context.Context) error {
	if err := d.part(ctx, 2, "a client logs in and fills its namespace"); err != nil {
		return err
	}
	d.say("A scripted telnet client (the demo's own, in line mode: it echoes what it\ntypes) connects, logs in and types:\n")
	fmt.Fprintf(d.out, "  $ %s\n", d.connect)
	var err error
	if d.cl, err = dial(ctx, d.telnetAddr); err != nil {
		return fmt.Errorf("demo: connecting the client: %w", err)
	}
	d.printer = &indenter{w: d.out, prefix: "    ", atStart: true}
	if err := d.expectPrint(ctx, "username: "); err != nil {
		return err
	}
	if err := d.typeLine(demoUser); err != nil {
		return err
	}
	if err := d.expectPrint(ctx, "password: "); err != nil {
		return err
	}
	// Not echoed, as a terminal does not show a password.
	if err := d.cl.send(d.password); err != nil {
		return err
	}
	d.printer.WriteString("\n")
	if err := d.expectPrint(ctx, ">>> "); err != nil {
		return err
	}
	for _, step := range []struct {
		line string
		into *string
	}{
		{`import "os"`, nil},
		{`import "sys"`, nil},
		{`sys.Version`, &d.oldVersion},
		{`sys.Pid`, &d.pidBefore},
		{`os.Getpid()`, &d.workerBefore},
		{`before := sys.Pid`, nil},
		{`type Point struct{ X, Y int }`, nil},
	} {
		out, err := d.eval(ctx, step.line)
		if err != nil {
			return err
		}
		if step.into != nil {
			*step.into = out
		}
	}
	if _, err := d.evalLines(ctx, "func scale(p Point, k int) Point {", "    return Point{p.X * k, p.Y * k}", "}"); err != nil {
		return err
	}
	d.before = map[string]string{}
	for _, line := range []string{"p := Point{1, 2}", "p", "scale(p, 10)"} {
		out, err := d.eval(ctx, line)
		if err != nil {
			return err
		}
		d.before[line] = out
	}
	return nil
}

// part3: the migration, seen from the server's side.
func (d *demo) part3(ctx context.Context) error {
	if err := d.part(ctx, 3, "the migration, from the server's side"); err != nil {
		return err
	}
	d.say("Meanwhile a loop asks the status page for its pid every %v, a new\nconnection each time (results in part 4).", httpEvery)
	d.loop = startHTTPLoop(ctx, d.httpURL, httpEvery)
	if err := poll(ctx, d.opts.Timeout, func() (bool, error) {
		s := d.loop.snapshot()
		return s.ByPid[d.oldPid] >= 10 || s.Failed > 0, nil
	}); err != nil {
		return fmt.Errorf("demo: the old server's status page: %w", err)
	}
	d.say("\nThe operator asks the running server to hand itself over to the new build:")
	quiet := d.cl.received()
	mctx, cancel := context.WithTimeout(ctx, 3*d.opts.Timeout)
	defer cancel()
	out, err := d.run(mctx, "", d.newBin, "migrate", "--control", d.control, "--binary", d.newBin)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, d.logTail())
	}
	d.quietBytes = d.cl.received() - quiet
	if d.rep, err = ParseMigrateReport(out); err != nil {
		return err
	}
	d.newPid = d.rep.NewPid
	d.srv.Follow(d.newPid)

	// Requests on the new side too, then the loop has done its part.
	err = poll(ctx, d.opts.Timeout, func() (bool, error) {
		return d.loop.snapshot().ByPid[d.newPid] >= 10, nil
	})
	d.http = d.loop.Stop()
	d.loop = nil
	if err != nil {
		return fmt.Errorf("demo: no answer from the new process's status page: %w", err)
	}
	return nil
}

// part4: the migration, seen from the clients' side.
func (d *demo) part4(ctx context.Context) error {
	if err := d.part(ctx, 4, "the migration, from the clients' side"); err != nil {
		return err
	}
	sessions := "1 session"
	if d.rep.Sessions != 1 {
		sessions = fmt.Sprintf("%d sessions", d.rep.Sessions)
	}
	carried := "nothing left behind"
	if len(d.rep.NotCarried) > 0 {
		carried = "not carried: " + strings.Join(d.rep.NotCarried, "; ")
	}
	d.say("What moved, over a socket pair between the two processes:\n"+
		"  - the listening sockets (telnet, HTTP, control) as descriptors\n"+
		"    (SCM_RIGHTS);\n"+
		"  - %s: each connection as a descriptor, each session's state\n"+
		"    (telnet options, history, namespace) as a CBOR record;\n"+
		"    %s.",
		sessions, carried)
	start, restore := "starts and says HELLO", "every namespace rebuilt; READY"
	recheck := ""
	if d.rep.Prebuilt > 0 {
		recheck = "  recheck   the old process finds, live, the namespaces unchanged since,\n" +
			"            and sends those that changed: the pause carries only later changes\n"
		// main's precopy: the old process's live snapshot, restored by the
		// new one before it says HELLO, while every session still runs.
		start = "starts, restores a live copy of the namespaces,\n            says HELLO"
		restore = "each namespace kept if unchanged since, else rebuilt; READY"
	}
	d.say("The phases:\n"+
		"  start     pid %d %s;\n"+
		"            no session waits for any of it\n"+
		"%s"+
		"  quiesce   the sessions parked at their prompts, their records made:\n"+
		"            the pause begins\n"+
		"  transfer  descriptors and records sent\n"+
		"  restore   %s\n"+
		"  commit    COMMIT: the old process lets go, the pause ends\n"+
		"The longest any session waited: %v.",
		d.rep.NewPid, start, recheck, restore, d.rep.Pause)

	saw := "its user saw nothing"
	if d.quietBytes > 0 {
		saw = "what its user saw"
	}
	d.say("\nThe telnet client's connection %s -> %s stayed open\n"+
		"throughout; it received %d bytes while the migration ran: %s.",
		d.cl.conn.LocalAddr(), d.cl.conn.RemoteAddr(), d.quietBytes, saw)
	s := d.http
	d.say("\nThe simple (stateless) migration: the HTTP loop made %d requests, %d failed.", s.Requests, s.Failed)
	for _, pid := range s.Pids {
		d.say("    answered by pid %-7d %5d", pid, s.ByPid[pid])
	}
	switches := "once"
	if s.Switches != 1 {
		switches = fmt.Sprintf("%d times", s.Switches)
	}
	d.say("The answering pid changed %s; the slowest request took %v.", switches, s.Slowest.Round(10*time.Microsecond))
	for _, e := range s.Errors {
		d.say("    failed: %s", e)
	}
	return nil
}

// part5: the old server shuts down.
func (d *demo) part5(ctx context.Context) error {
	if err := d.part(ctx, 5, "the old server shuts down"); err != nil {
		return err
	}
	select {
	case <-d.srv.Exited():
	case <-time.After(d.opts.Timeout):
		return fmt.Errorf("demo: the old server, pid %d, still runs %v after the migration\n%s", d.oldPid, d.opts.Timeout, d.logTail())
	case <-ctx.Done():
		return ctx.Err()
	}
	d.oldExit = d.srv.ExitErr()
	status := "exit status 0"
	if d.oldExit != nil {
		status = d.oldExit.Error()
	}
	d.say("The old process, pid %d, has exited (%s),\n"+
		"without closing a single connection: it left them to the new process.\n"+
		"Both write to the same log (shown without time stamps, and without the\n"+
		"phases of part 3).\n", d.oldPid, status)
	var oldLines, newLines []string
	started := false
	old, nu := strconv.Itoa(d.oldPid), strconv.Itoa(d.newPid)
	for _, l := range d.srv.Lines() {
		started = started || l.Get("msg") == "migration starting"
		switch {
		case started && l.Get("pid") == old:
			oldLines = append(oldLines, folded(l, foldAt, "time", "phases"))
		case l.Get("pid") == nu:
			newLines = append(newLines, folded(l, foldAt, "time", "phases"))
		}
	}
	d.say("  The old process, pid %d:", d.oldPid)
	d.output(strings.Join(oldLines, "\n"))
	d.say("  The new process, pid %d:", d.newPid)
	d.output(strings.Join(newLines, "\n"))
	d.say("\nThe control socket now reaches the new process:")
	var err error
	d.statusOut, err = d.run(ctx, "", d.newBin, "status", "--control", d.control)
	return err
}

// part6: the client goes on, in the same connection.
func (d *demo) part6(ctx context.Context) error {
	if err := d.part(ctx, 6, "the client's experience"); err != nil {
		return err
	}
	d.say("The same connection, the same session, typing on:\n")
	d.printer.WriteString(">>> ") // the prompt still on its screen
	d.after = map[string]string{}
	for _, step := range []struct{ expr, comment string }{
		{"sys.Version", ""},
		{"sys.Pid", ""},
		{"os.Getpid()", ""},
		{"before", "  // the old pid, kept in the namespace"},
		{"p", ""},
		{"scale(p, 10)", ""},
		{"Point{3, 4}", "  // the type, declared in part 2"},
	} {
		out, err := d.eval(ctx, step.expr+step.comment)
		if err != nil {
			return err
		}
		d.after[step.expr] = out
	}
	d.newVersion, d.pidAfter, d.workerAfter = d.after["sys.Version"], d.after["sys.Pid"], d.after["os.Getpid()"]
	return nil
}

// report prints the checks and fails if one did not hold.
func (d *demo) report() error {
	if d.printer != nil {
		d.printer.endLine()
	}
	type check struct {
		ok   bool
		what string
	}
	var checks []check
	add := func(ok bool, format string, args ...any) {
		checks = append(checks, check{ok, fmt.Sprintf(format, args...)})
	}
	old, nu := strconv.Itoa(d.oldPid), strconv.Itoa(d.newPid)
	add(d.pidBefore == old && d.pidAfter == nu && d.newPid != d.oldPid,
		"pid changed: sys.Pid was %s, is %s (migrate said %d -> %d)", d.pidBefore, d.pidAfter, d.oldPid, d.newPid)
	add(d.workerBefore != "" && d.workerAfter != d.workerBefore,
		"the code runs in a new process: os.Getpid() (the session's worker) was %s, is %s", d.workerBefore, d.workerAfter)
	versionOK := d.oldVersion != d.newVersion && strings.HasPrefix(d.oldVersion, `"`) && strings.HasPrefix(d.newVersion, `"`)
	if d.built {
		versionOK = versionOK && strings.HasPrefix(d.oldVersion, `"`+d.opts.OldVersion+" ") &&
			strings.HasPrefix(d.newVersion, `"`+d.opts.NewVersion+" ")
	}
	add(versionOK, "version changed: sys.Version was %s, is %s", d.oldVersion, d.newVersion)
	// The values as the REPL prints them; p and scale(p, 10) must also
	// read as they did before the migration.
	want := map[string]string{"before": old, "p": "Point{X:1, Y:2}", "scale(p, 10)": "Point{X:10, Y:20}", "Point{3, 4}": "Point{X:3, Y:4}"}
	var wrong []string
	for _, k := range []string{"before", "p", "scale(p, 10)", "Point{3, 4}"} {
		if d.after[k] != want[k] {
			wrong = append(wrong, fmt.Sprintf("%s = %q, want %q", k, d.after[k], want[k]))
		} else if b, ok := d.before[k]; ok && b != d.after[k] {
			wrong = append(wrong, fmt.Sprintf("%s = %q, was %q", k, d.after[k], b))
		}
	}
	if len(wrong) == 0 {
		add(true, "namespace intact: the variables before and p, the type Point, the func scale")
	} else {
		add(false, "namespace intact: %s", strings.Join(wrong, "; "))
	}
	local := d.cl.conn.LocalAddr().String()
	add(d.cl.closed() == nil && strings.Contains(d.statusOut, local),
		"same connection: %s never closed, and the new process serves it (status)", local)
	add(d.oldExit == nil, "the old server exited cleanly after the handoff (%v)", exitText(d.oldExit))
	s := d.http
	add(s.Failed == 0 && s.ByPid[d.oldPid] > 0 && s.ByPid[d.newPid] > 0,
		"no failed HTTP request: %d requests, %d failed, %d answered by the old pid, %d by the new",
		s.Requests, s.Failed, s.ByPid[d.oldPid], s.ByPid[d.newPid])

	fmt.Fprintf(d.out, "\nChecks\n======\n")
	failed := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark, failed = "FAIL", failed+1
		}
		fmt.Fprintf(d.out, "  %s  %s\n", mark, wrapWords(c.what, screenWidth-8, "        "))
	}
	if failed > 0 {
		fmt.Fprintf(d.out, "%d of %d checks failed.\n", failed, len(checks))
		return fmt.Errorf("demo: %d of %d checks failed", failed, len(checks))
	}
	fmt.Fprintf(d.out, "All %d checks held: the same connection and namespace, now served by pid %d\nrunning %s, after a pause of %v.\n",
		len(checks), d.newPid, strings.Trim(d.newVersion, `"`), d.rep.Pause)
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// finish ends what Run started: the client, the loop, the servers (unless
// kept) and the temporary files (unless a kept server needs them).
func (d *demo) finish(reachedEnd bool) error {
	if d.quit != nil {
		close(d.quit)
	}
	if d.loop != nil {
		d.loop.Stop()
	}
	if d.cl != nil {
		d.cl.Close()
	}
	if d.printer != nil {
		d.printer.endLine()
	}
	if d.srv == nil {
		return os.RemoveAll(d.dir)
	}
	if d.opts.Keep && reachedEnd && d.newPid != 0 && serverproc.Alive(d.newPid) {
		d.srv.Release()
		port := d.telnetAddr[strings.LastIndex(d.telnetAddr, ":")+1:]
		fmt.Fprintf(d.out, "\nThe new server keeps running (--keep), pid %d. Go on playing:\n\n"+
			"    telnet 127.0.0.1 %s        username %s, password %s\n"+
			"    curl %s\n"+
			"    %s status --control %s\n"+
			"    %s migrate --control %s --binary %s     (and back)\n\n"+
			"Its log is %s. To stop it:\n\n    kill %d; rm -r %s\n",
			d.newPid, port, demoUser, d.password, d.httpURL, d.newBin, d.control,
			d.newBin, d.control, d.oldBin, d.logPath, d.newPid, d.dir)
		return nil
	}
	err := d.srv.Stop(10 * time.Second)
	if d.newPid != 0 && err == nil {
		fmt.Fprintf(d.out, "\nStopped the new server, pid %d.\n", d.newPid)
	}
	return errors.Join(err, os.RemoveAll(d.dir))
}

// expectPrint waits for want and prints what arrived up to it.
func (d *demo) expectPrint(ctx context.Context, want string) error {
	got, err := d.cl.expect(ctx, want, d.opts.Timeout)
	d.printer.WriteString(got)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, d.logTail())
	}
	return nil
}

// typeLine types line and shows it, as the client's local echo: a key at
// a time, at the pace of Options.Typing.
func (d *demo) typeLine(line string) error {
	if d.opts.Typing > 0 {
		for _, r := range line {
			d.printer.WriteString(string(r))
			time.Sleep(d.opts.Typing) // a pace for people, not a wait for a condition
		}
		d.printer.WriteString("\n")
	} else {
		d.printer.WriteString(line + "\n")
	}
	if err := d.cl.send(line); err != nil {
		return fmt.Errorf("demo: typing %q: %w", line, err)
	}
	return nil
}

// eval types one line and returns the server's answer before the next
// prompt, which the screen shows.
func (d *demo) eval(ctx context.Context, line string) (string, error) {
	return d.evalLines(ctx, line)
}

// evalLines types lines, each but the last answered by the continuation
// prompt, and returns the answer to the last.
func (d *demo) evalLines(ctx context.Context, lines ...string) (string, error) {
	var got string
	for i, line := range lines {
		prompt := ">>> "
		if i < len(lines)-1 {
			prompt = "... "
		}
		if err := d.typeLine(line); err != nil {
			return "", err
		}
		var err error
		got, err = d.cl.expect(ctx, prompt, d.opts.Timeout)
		d.printer.WriteString(got)
		if err != nil {
			return "", fmt.Errorf("%w\n%s", err, d.logTail())
		}
	}
	return strings.TrimSpace(strings.TrimSuffix(got, ">>> ")), nil
}

// indenter writes a session's screen, indented, and knows whether the
// cursor is at the start of a line.
// It wraps a line at the projector's width, as the client's terminal
// would.
type indenter struct {
	w       io.Writer
	prefix  string
	atStart bool
	col     int // columns written on the current line, after prefix
}

func (p *indenter) WriteString(s string) {
	width := screenWidth - len(p.prefix)
	for s != "" {
		if p.atStart {
			io.WriteString(p.w, p.prefix)
			p.atStart, p.col = false, 0
		}
		line, rest, nl := strings.Cut(s, "\n")
		if room := width - p.col; utf8.RuneCountInString(line) > room {
			// Folded after the last space that fits, as a reader would
			// fold it, or at the edge, as a terminal does.
			cut, space := len(line), -1
			for i, r := range line {
				if room == 0 {
					cut = i
					break
				}
				if r == ' ' {
					space = i + 1
				}
				room--
			}
			if space > 0 {
				cut = space
			}
			io.WriteString(p.w, strings.TrimRight(line[:cut], " ")+"\n")
			p.atStart = true
			s = line[cut:] + s[len(line):]
			continue
		}
		io.WriteString(p.w, line)
		p.col += utf8.RuneCountInString(line)
		if nl {
			io.WriteString(p.w, "\n")
			p.atStart = true
		}
		s = rest
	}
}

// endLine ends a line left open (a prompt waiting for input).
func (p *indenter) endLine() {
	if !p.atStart {
		io.WriteString(p.w, "\n")
		p.atStart = true
	}
}

// wrapWords folds s between words to lines of at most width columns, the
// lines after the first starting with indent.
func wrapWords(s string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && col+1+len(w) > width {
			b.WriteString("\n" + indent)
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// randomPassword is a password easy to read off a projector and type.
func randomPassword() string {
	const letters = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
