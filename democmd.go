package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"translucent/demo"
)

// demoCmd runs the talk's walk-through against real processes (package
// demo); it fails unless every check held.
func demoCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var o demo.Options
	fs.BoolVar(&o.Pause, "pause", false, "wait for Enter before each part (for a presenter) and show how the audience can connect")
	fs.BoolVar(&o.Keep, "keep", false, "leave the migrated server running at the end")
	fs.StringVar(&o.Listen, "listen", "", "the telnet `address` to serve on (default: a free port on loopback); e.g. :2323 lets the audience join from the room's network")
	fs.StringVar(&o.Web, "web", "", "also serve the browser terminal on `address` (serve --web), for the audience")
	fs.StringVar(&o.SSH, "ssh", "", "also serve SSH on `address` (serve --ssh), for the audience")
	typing := fs.Duration("typing", -1, "the pause between the scripted client's keystrokes as shown (default 40ms with --pause, none without)")
	fs.StringVar(&o.Source, "source", ".", "the repository `dir` to build the two versions from (needs go on PATH)")
	fs.StringVar(&o.Binary, "binary", "", "a prebuilt old server to use instead of building one")
	fs.StringVar(&o.NewBinary, "new-binary", "", "a prebuilt new server to use instead of building one")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected argument %q", fs.Arg(0))
	}
	o.In, o.Out = stdin, stdout
	switch {
	case *typing >= 0:
		o.Typing = *typing
	case o.Pause:
		o.Typing = 40 * time.Millisecond
	}
	return demo.Run(ctx, o)
}
