package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"context"

	"translucent/front"
	"translucent/migrate"
)

// serve parses serve's flags into a front.Config and runs the front.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg.Args = args
	cfg.Version = versionString()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Hooks = testHooks(stderr)
	return front.Run(ctx, cfg)
}

func parseServeFlags(args []string, stdout, stderr io.Writer) (front.Config, error) {
	var c front.Config
	var admins string
	var memory int64
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:2323", "telnet `address` to listen on (cleartext: keep it on loopback)")
	fs.StringVar(&c.Users, "users", "", "htpasswd `file` of users (NAME:BCRYPT); without it an admin with a random password is created")
	fs.StringVar(&c.Control, "control", migrate.DefaultControlPath(), "control socket `path` for migrate and status")
	fs.BoolVar(&c.REPL.Unrestricted, "unrestricted", false, "let sessions import os/exec, syscall and unsafe")
	fs.IntVar(&c.REPL.MaxSessions, "max-sessions", 256, "connections served at once")
	fs.IntVar(&c.REPL.MaxLogins, "max-logins", 64, "connections not yet logged in at once (within --max-sessions)")
	fs.IntVar(&c.REPL.MaxLoginsPerIP, "max-logins-per-ip", 16, "connections not yet logged in at once from one IP address")
	fs.DurationVar(&c.REPL.LoginTimeout, "login-timeout", time.Minute, "time allowed to log in")
	fs.DurationVar(&c.REPL.LoginDelay, "login-delay", time.Second, "pause after a wrong password")
	fs.DurationVar(&c.Grace, "grace", 2*time.Second, "time a running evaluation gets to finish before a migration interrupts it")
	fs.DurationVar(&c.MigrateTimeout, "migrate-timeout", 0, "time allowed for a migration (SIGHUP, :migrate); 0: 30s plus 10ms per session")
	fs.BoolVar(&c.Strict, "strict", false, "abort a migration (SIGHUP, :migrate) when a value cannot be carried")
	fs.StringVar(&admins, "admins", "admin", "comma-separated `users` who may type :migrate")
	fs.StringVar(&c.Pidfile, "pidfile", "", "`file` holding the serving process's pid, rewritten atomically by each new process")
	fs.BoolVar(&c.Announce, "announce", false, "after a migration, show each session a one-line notice (off: the session simply goes on)")
	fs.StringVar(&c.Restore, "restore", "", "a staging server: offer the namespaces of this snapshot `file` to :attach")
	fs.StringVar(&c.Precopy, "precopy", "", "(set by a migrating server for its successor) a snapshot `file` of namespaces to restore before the handoff")
	fs.StringVar(&c.SSH, "ssh", "", "also serve SSH on `address`, through a relay process that outlives migrations (see translucent ssh-relay)")
	fs.StringVar(&c.SSHHostKey, "ssh-host-key", "", "SSH host key `file` (ed25519, made on first start, mode 0600; default: in the private directory)")
	fs.StringVar(&c.HTTP, "http", "", "also serve a stateless HTTP status page (pid and version) on `address`; it moves with the telnet port")
	fs.StringVar(&c.Web, "web", "", "also serve a terminal for browsers (a page and its WebSocket) on `address`; it moves with the telnet port, and its sessions with their pages")
	fs.StringVar(&c.Isolate, "isolate", "pool", "where sessions' code runs: pool (--pool-size sessions per worker), session (a worker process each) or none (in this process: one crash ends every session)")
	fs.IntVar(&c.PoolSize, "pool-size", 16, "sessions per worker with --isolate pool")
	fs.Int64Var(&memory, "session-memory", 512, "`MiB` of resident memory a worker may use per session it holds; past it the line is rolled back (0: no limit)")
	fs.DurationVar(&c.EvalTimeout, "eval-timeout", 0, "time one line may run before it is interrupted (0: no limit)")
	fs.StringVar(&c.REPL.Home, "home", front.DefaultHome(), "`directory` of the users' own directories (0700): history kept across logins, files of :save and :load; empty: none")
	fs.StringVar(&c.REPL.Transcripts, "transcripts", "", "write each session's typed lines and output, with times, to a file (0600) in `directory` (off: none)")
	fs.BoolVar(&c.REPL.LogLines, "log-lines", false, "log the text of a line that ended its worker (off: only the session, user and reason)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	c.REPL.Admins = splitList(admins)
	c.SessionMemory = memory << 20
	return c, nil
}

func versionString() string { return fmt.Sprintf("%s (%s)", buildVersion(), runtime.Version()) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
