package front

import (
	"bytes"
	"context"
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
func (m *migrator) snapshotReply(_ context.Context, req migrate.Request, _ io.Writer) migrate.Response {
	a := &args{m: req.Args}
	var ids []uint64
	if id := a.session("session"); id != 0 {
		ids = append(ids, id)
	}
	if a.err != nil {
		return failed(a.err)
	}
	f, err := m.srv.snapshot(ids)
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
	f, err := m.srv.snapshot(nil, req.drop...)
	if err != nil {
		return err
	}
	var state bytes.Buffer
	if err := repl.WriteSnapshotFile(&state, f); err != nil {
		return err
	}
	fmt.Fprintf(progress, "dry run: pid %d (%s) -> %s, %s, no connection handed over\n", os.Getpid(), m.cfg.Version, binary, plural(len(f.Sessions), "session"))
	if len(req.drop) > 0 {
		fmt.Fprintf(progress, "  left out of every namespace, as --drop asks: %s\n", strings.Join(req.drop, ", "))
	}
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

func OpenSnapshot(name string, stdin io.Reader) (*repl.SnapshotFile, error) {
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

// plural is "1 session", "2 sessions".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
