package front

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"translucent/migrate"
)

// A command answers one request on the control socket.
type command func(m *migrator, ctx context.Context, req migrate.Request, progress io.Writer) migrate.Response

// commands are the control socket's, by name: those of translucent's
// client commands (status, snapshot, migrate) and those one process of an
// incremental migration sends the other (adopt, commit, abort).
var commands = map[string]command{
	"status":   (*migrator).statusReply,
	"snapshot": (*migrator).snapshotReply,
	"migrate":  (*migrator).migrateReply,
	"adopt":    (*migrator).adoptReply,
	"commit":   (*migrator).commitReply,
	"abort":    (*migrator).abortReply,
}

// handle answers the control socket.
func (m *migrator) handle(ctx context.Context, req migrate.Request, progress io.Writer) migrate.Response {
	c, ok := commands[req.Command]
	if !ok {
		return migrate.Response{Error: fmt.Sprintf("unknown command %q", req.Command)}
	}
	return c(m, ctx, req, progress)
}

// failed is a command's answer when it fails.
func failed(err error) migrate.Response { return migrate.Response{Error: err.Error()} }

// args reads a request's arguments, which the control wire carries as
// strings (migrate.Request.Args), as the types the commands want: the
// first malformed one is kept in err, naming it.
type args struct {
	m   map[string]string
	err error
}

func (a *args) fail(name string, err error) {
	if a.err == nil {
		a.err = fmt.Errorf("%s: %w", name, err)
	}
}

func (a *args) str(name string) string { return a.m[name] }

// flag is a boolean argument: "true" or "false", absent false.
func (a *args) flag(name string) bool {
	v, ok := a.m[name]
	if !ok || v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		a.fail(name, err)
	}
	return b
}

// duration is a duration argument, def when absent.
func (a *args) duration(name string, def time.Duration) time.Duration {
	v := a.m[name]
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		a.fail(name, err)
	}
	return d
}

// session is a session id argument, 0 when absent.
func (a *args) session(name string) uint64 {
	v := a.m[name]
	if v == "" {
		return 0
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		a.fail(name, err)
	}
	return id
}

// list is a comma-separated argument.
func (a *args) list(name string) []string { return splitList(a.m[name]) }

// migrateRequest is what a migrate request asks for.
type migrateRequest struct {
	migration
	session     uint64 // move only this one (incremental)
	local       bool   // this process's sessions only: do not forward to the peer
	incremental bool
	dryRun      bool
}

// parseMigrate reads a migrate request's arguments over m's defaults.
func (m *migrator) parseMigrate(req migrate.Request) (migrateRequest, error) {
	a := &args{m: req.Args}
	d := m.defaults()
	r := migrateRequest{
		migration: migration{
			binary:  a.str("binary"),
			timeout: a.duration("timeout", d.timeout),
			grace:   a.duration("grace", d.grace),
			strict:  d.strict,
			drop:    a.list("drop"),
			json:    a.flag("json"),
		},
		session:     a.session("session"),
		local:       a.flag("local"),
		incremental: a.flag("incremental"),
		dryRun:      a.flag("dry-run"),
	}
	if _, ok := req.Args["strict"]; ok {
		r.strict = a.flag("strict")
	}
	if a.err != nil {
		return r, a.err
	}
	if r.json && (r.session != 0 || r.incremental || r.dryRun) {
		return r, fmt.Errorf("--json reports a whole migration, not --session, --incremental or --dry-run")
	}
	return r, nil
}

func (m *migrator) migrateReply(ctx context.Context, req migrate.Request, progress io.Writer) migrate.Response {
	r, err := m.parseMigrate(req)
	if err != nil {
		return failed(err)
	}
	switch {
	case r.session != 0:
		return m.moveReply(ctx, req, r, progress)
	case r.incremental:
		if err := m.runIncremental(context.WithoutCancel(ctx), r.migration, progress); err != nil {
			return migrate.Response{Error: "incremental migration failed, nothing changed: " + err.Error()}
		}
		return migrate.Response{OK: true}
	case r.dryRun:
		if err := m.dryRun(ctx, r.migration, progress); err != nil {
			return migrate.Response{Error: "dry run failed: " + err.Error()}
		}
		return migrate.Response{OK: true}
	}
	// The migration must not end with the client's connection: a half
	// done handoff is worse than a finished one nobody watched.
	if _, err := m.run(context.WithoutCancel(ctx), r.migration, progress); err != nil {
		return migrate.Response{Error: "migration failed, the old process goes on: " + err.Error()}
	}
	return migrate.Response{OK: true}
}

func (m *migrator) statusReply(ctx context.Context, req migrate.Request, _ io.Writer) migrate.Response {
	local := (&args{m: req.Args}).flag("local")
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d\nversion %s\n", os.Getpid(), m.cfg.Version)
	if pid := m.relay.Pid(); pid != 0 && !local {
		fmt.Fprintf(&b, "ssh relay pid %d, ssh %s\n", pid, m.ls.ssh.Addr())
	}
	if !local {
		if home, err := m.binary(""); err == nil {
			fmt.Fprintf(&b, "migrate goes to %s unless told --binary\n", home)
		}
	}
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tADDRESS\tSINCE\tSTATE\tWORKER")
	for _, s := range m.srv.list() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.User, s.Addr, s.Since.Format(time.DateTime), s.State, s.WorkerString())
	}
	tw.Flush()
	if !local {
		b.WriteString(m.peerStatus(ctx))
	}
	return migrate.Response{OK: true, Output: b.String()}
}
