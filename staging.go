package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"translucent/migrate"
	"translucent/repl"
)

// The commands that test a migration without making one: snapshot (the
// live state to a file), verify (restore a file here, as a new build
// would) and migrate --dry-run (verify the live state in a staging run of
// a new build, which gets no descriptor and so can break nothing).

// snapshotReply answers the control command "snapshot".
func (m *migrator) snapshotReply(req migrate.Request) migrate.Response {
	var ids []uint64
	if v := req.Args["session"]; v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return migrate.Response{Error: "session: " + err.Error()}
		}
		ids = append(ids, id)
	}
	f, err := m.srv.Snapshot(ids)
	if err != nil {
		return migrate.Response{Error: err.Error()}
	}
	var b bytes.Buffer
	if err := repl.WriteSnapshotFile(&b, f); err != nil {
		return migrate.Response{Error: err.Error()}
	}
	return migrate.Response{OK: true, Data: b.Bytes(), Output: snapshotSummary(f)}
}

func snapshotSummary(f *repl.SnapshotFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot of pid %d (%s): %s\n", f.Pid, f.ServerVersion, plural(len(f.Sessions), "session"))
	for _, s := range f.Skipped {
		fmt.Fprintf(&b, "  skipped %s\n", s)
	}
	return b.String()
}

// dryRun answers "migrate" with dry-run set: the live state goes, on
// standard input, to `BINARY verify -`, which restores it and reports. The
// staging process gets no descriptor: whatever it does, crash or hang
// until the timeout, production goes on untouched.
func (m *migrator) dryRun(ctx context.Context, req migration, progress io.Writer) error {
	if !m.busy.TryLock() {
		return migrate.ErrInProgress
	}
	defer m.busy.Unlock()
	binary, err := m.binary(req.binary)
	if err != nil {
		return err
	}
	f, err := m.srv.Snapshot(nil)
	if err != nil {
		return err
	}
	var state bytes.Buffer
	if err := repl.WriteSnapshotFile(&state, f); err != nil {
		return err
	}
	fmt.Fprintf(progress, "dry run: pid %d (%s) -> %s, %s, no connection handed over\n", os.Getpid(), versionString(), binary, plural(len(f.Sessions), "session"))
	for _, s := range f.Skipped {
		fmt.Fprintf(progress, "  skipped %s\n", s)
	}
	timeout := m.timeoutFor(req.timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "verify", "-")
	cmd.Stdin = &state
	cmd.Stdout = progress
	cmd.Stderr = progress
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("the staging process did not finish within %v and was killed; production untouched", timeout)
	case err != nil:
		return fmt.Errorf("the staging process failed (%v); production untouched", err)
	}
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
	if err := writeFileAtomic(*out, resp.Data, 0o600); err != nil {
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
	f, err := openSnapshot(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	switch os.Getenv("TRANSLUCENT_TEST_FAIL") { // failure injection for the end-to-end tests
	case "verify-crash":
		fmt.Fprintln(stderr, "TRANSLUCENT_TEST_FAIL: crashing while restoring")
		os.Exit(3)
	case "verify-hang":
		select {}
	}
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

func openSnapshot(name string, stdin io.Reader) (*repl.SnapshotFile, error) {
	if name == "-" && stdin != nil {
		return repl.ReadSnapshotFile(stdin)
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := repl.ReadSnapshotFile(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}
