package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"translucent/bench"
)

// benchCmd runs the benchmark of issue 6 and prints where the results are.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sessions := fs.String("sessions", "1,100,1000,10000", "comma-separated session `counts`, one measurement each")
	vars := fs.Int("vars", 10, "variables per session's namespace (at least 3)")
	imports := fs.String("imports", "strings,sort,fmt", "comma-separated `packages` each namespace imports (besides os)")
	out := fs.String("out", "bench-out", "`dir` for results.md, results.json, pause.svg and the server logs")
	binary := fs.String("binary", "", "the build to migrate from (default: build one from --source)")
	newBinary := fs.String("new-binary", "", "the build to migrate to (default: build one from --source)")
	source := fs.String("source", ".", "the repository `dir` to build both from when --binary or --new-binary is missing")
	interval := fs.Duration("interval", 0, "how often each session types a line (default: max(2ms, N × 0.5ms))")
	timeout := fs.Duration("timeout", time.Hour, "time allowed for each session count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	var counts []int
	for _, s := range splitList(*sessions) {
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n < 1 {
			return fmt.Errorf("bench: --sessions: %q is not a positive count", s)
		}
		counts = append(counts, n)
	}
	opts := bench.Options{
		Sessions: counts, Vars: *vars, Imports: splitList(*imports), Out: *out,
		Binary: absPath(*binary), NewBinary: absPath(*newBinary), Source: *source,
		Interval: *interval, Timeout: *timeout, Progress: stderr,
	}
	if opts.Imports == nil {
		opts.Imports = []string{} // --imports "": none, not the default
	}
	res, err := bench.Run(ctx, opts)
	if len(res.Runs) > 0 {
		if werr := bench.WriteMarkdown(stdout, res); werr != nil {
			err = errors.Join(err, werr)
		}
		fmt.Fprintf(stderr, "results in %s\n", filepath.Join(*out, "results.md"))
	}
	return err
}

// absPath makes p absolute, so that the server can migrate to it from
// any working directory; "" stays "".
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
