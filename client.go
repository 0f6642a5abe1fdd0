package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"translucent/front"
	"translucent/migrate"
	"translucent/repl"
)

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	control := fs.String("control", migrate.DefaultControlPath(), "the server's control socket `path`")
	binary := fs.String("binary", "", "the new build (default: the executable the server was first started from, as it is on disk now, whatever builds it migrated to since)")
	timeout := fs.Duration("timeout", 0, "time allowed for the whole migration (default 30s plus 10ms per session)")
	grace := fs.Duration("grace", 2*time.Second, "time a running evaluation gets before it is interrupted")
	strict := fs.Bool("strict", false, "abort when a value cannot be carried")
	var drop []string
	fs.Func("drop", "leave variable `NAME` out of every namespace: it arrives at its zero value (repeatable)", func(s string) error {
		if s == "" || strings.ContainsAny(s, ", ") {
			return errors.New("one variable name")
		}
		drop = append(drop, s)
		return nil
	})
	incremental := fs.Bool("incremental", false, "move the listener to the new build now and each session later (:upgrade, --session)")
	session := fs.Uint64("session", 0, "move only the session with this `id` to the other process of an incremental migration (either way)")
	dryRun := fs.Bool("dry-run", false, "restore every session's state in a staging run of the new build, report, and change nothing")
	asJSON := fs.Bool("json", false, "print the report of a committed migration as one JSON object, for tools")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	req := migrate.Request{Command: "migrate", Args: map[string]string{
		"timeout": timeout.String(), "grace": grace.String(), "strict": strconv.FormatBool(*strict),
		"dry-run": strconv.FormatBool(*dryRun), "drop": strings.Join(drop, ","),
		"incremental": strconv.FormatBool(*incremental), "json": strconv.FormatBool(*asJSON),
	}}
	if *session != 0 {
		req.Args["session"] = strconv.FormatUint(*session, 10)
	}
	if *binary != "" {
		// The server resolves paths from its own directory, not ours.
		abs, err := filepath.Abs(*binary)
		if err != nil {
			return fmt.Errorf("migrate: --binary: %w", err)
		}
		req.Args["binary"] = abs
	}
	resp, err := callServer(ctx, "migrate", *control, req, stdout)
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	return nil
}

// callServer is migrate.Call for the operator's command cmd: when no
// server listens on the control socket, the error says so in the command's
// name, and how to go on.
func callServer(ctx context.Context, cmd, control string, req migrate.Request, progress io.Writer) (migrate.Response, error) {
	resp, err := migrate.Call(ctx, control, req, progress)
	if errors.Is(err, migrate.ErrNoServer) {
		err = &noServerError{cmd: cmd, control: control, err: err}
	}
	return resp, err
}

// noServerError is a command's ErrNoServer, told to a person.
type noServerError struct {
	cmd, control string
	err          error // wraps migrate.ErrNoServer
}

func (e *noServerError) Error() string {
	why := "nothing answers there"
	var errno syscall.Errno
	if errors.As(e.err, &errno) {
		why = errno.Error() // no such file (none started), connection refused (one died)
	}
	return fmt.Sprintf("%s: no server is running at %s (%s). Start one with 'translucent serve', "+
		"or name the control socket of a server started with --control: translucent %s --control PATH", e.cmd, e.control, why, e.cmd)
}

func (e *noServerError) Unwrap() error { return e.err }

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	control := fs.String("control", migrate.DefaultControlPath(), "the server's control socket `path`")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	resp, err := callServer(ctx, "status", *control, migrate.Request{Command: "status"}, stdout)
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	fmt.Fprint(stdout, resp.Output)
	return nil
}

func snapshotCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	control := fs.String("control", migrate.DefaultControlPath(), "the server's control socket `path`")
	session := fs.Uint64("session", 0, "only the session with this `id` (default: every session)")
	out := fs.String("o", "", "the `file` to write (- for standard output)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New("snapshot: usage: translucent snapshot [--control PATH] [--session ID] -o FILE")
	}
	req := migrate.Request{Command: "snapshot"}
	if *session != 0 {
		req.Args = map[string]string{"session": strconv.FormatUint(*session, 10)}
	}
	resp, err := callServer(ctx, "snapshot", *control, req, stderr)
	if err != nil {
		return err
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if *out == "-" {
		_, err := stdout.Write(resp.Data)
		return err
	}
	// Namespaces may hold secrets: the file is private, like the socket.
	if err := repl.WriteFileAtomic(*out, resp.Data, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%swrote %s\n", resp.Output, *out)
	return nil
}

// verifyCmd restores a snapshot file in this process and checks it: the
// staging side of a dry run, and a way to test a build against saved state.
func verifyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	unrestricted := fs.Bool("unrestricted", false, "restore with the unrestricted symbol set")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("verify: usage: translucent verify FILE (- for standard input)")
	}
	f, err := front.OpenSnapshot(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	verifyHook(stderr)
	fmt.Fprintf(stdout, "staging pid %d (%s): restoring %s of pid %d (%s)\n", os.Getpid(), versionString(), plural(len(f.Sessions), "session"), f.Pid, f.ServerVersion)
	checks := f.Verify(repl.Config{Version: versionString(), Unrestricted: *unrestricted})
	failed := 0
	for _, c := range checks {
		fmt.Fprintf(stdout, "  session %d (%s): ", c.ID, c.User)
		if c.Err != nil {
			failed++
			fmt.Fprintf(stdout, "FAILED after %v: %v\n", c.Restore.Round(time.Microsecond), c.Err)
		} else {
			fmt.Fprintf(stdout, "%s restored in %v, re-encoded identically (%v)\n", plural(c.Vars, "variable"), c.Restore.Round(time.Microsecond), c.Check.Round(time.Microsecond))
		}
		for _, l := range c.Lost {
			fmt.Fprintf(stdout, "    not carried: %s\n", l)
		}
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d of %d sessions would not migrate", failed, len(checks))
	}
	fmt.Fprintf(stdout, "every session would migrate (%d)\n", len(checks))
	return nil
}
