// Command translucent is a telnet-accessible Go REPL server whose service can
// be handed, live, to a newer build of itself. See README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"

	"translucent/repl"
)

// version is set at build time with -ldflags "-X main.version=V".
var version string

// buildVersion is version, or the VCS revision the binary was built from,
// or "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && dirty {
			return "devel-" + rev + "-dirty"
		}
		if rev != "" {
			return "devel-" + rev
		}
	}
	return "devel"
}

const usage = `translucent: a telnet Go REPL server with live migration.

Usage:
  translucent serve [--listen ADDR] [--users FILE] [flags]   run the server
  translucent migrate [--control PATH] [--binary PATH]      hand the live server to a new build
  translucent migrate --dry-run [--binary PATH]             restore the live state in a staging run of a build; change nothing
  translucent migrate --incremental [--binary PATH]         move the port now, each session later (:upgrade, --session)
  translucent migrate --session ID [--drop NAME]            move one session to the other process, either way
  translucent status [--control PATH]                       the server's pid, version and sessions
  translucent snapshot [--session ID] -o FILE               write the live sessions' state to a file
  translucent verify FILE                                   restore a snapshot file here and check it
  translucent inspect [--dot | --json] FILE                 show a snapshot file: declarations, values, object graph
  translucent adduser --users FILE NAME                     add a user (password on stdin)
  translucent ssh-relay --listen ADDR --front SOCKET        terminate SSH and relay sessions to a server (serve --ssh starts it)
  translucent demo [--pause] [--keep] [--listen ADDR]       the talk's walk-through, live (builds two versions)
  translucent bench [--sessions 1,100,1000] [--out DIR]     measure migration pauses, memory and round trips
  translucent version                                       print the version

Run 'translucent COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) { // help was asked for, and given
		fmt.Fprintln(os.Stderr, "translucent:", err)
		stop()
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args, stdout, stderr)
	case "status":
		return statusCmd(ctx, args, stdout, stderr)
	case "snapshot":
		return snapshotCmd(ctx, args, stdout, stderr)
	case "verify":
		return verifyCmd(args, stdin, stdout, stderr)
	case "inspect":
		return inspectCmd(args, stdin, stdout, stderr)
	case "adduser":
		return adduser(args, stdin, stdout, stderr)
	case "demo":
		return demoCmd(ctx, args, stdin, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args, stdout, stderr)
	case "ssh-relay":
		return sshRelayCmd(ctx, args, stdout, stderr)
	case "worker":
		return workerCmd()
	case "version":
		fmt.Fprintf(stdout, "translucent %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func adduser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("adduser", flag.ContinueOnError)
	usersFile := fs.String("users", "", "htpasswd `file` to create or update (mode 0600)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *usersFile == "" || fs.NArg() != 1 {
		return errors.New("usage: translucent adduser --users FILE NAME (the password is read from standard input)")
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	if err := repl.AddUser(*usersFile, fs.Arg(0), password); err != nil {
		return fmt.Errorf("adduser: %w", err)
	}
	fmt.Fprintf(stderr, "user %s written to %s\n", fs.Arg(0), *usersFile)
	return nil
}

// parseFlags is fs.Parse(args), except that what it prints goes to stdout
// when the user asked for help (-h, --help), which is not an error, and to
// stderr otherwise. It returns flag.ErrHelp after help.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(out.Bytes())
		return err
	}
	if err != nil {
		// The flag package names the error before the usage; main names it
		// after, where it is seen.
		_, usage, _ := bytes.Cut(out.Bytes(), []byte("\n"))
		stderr.Write(usage)
	}
	return err
}

// readPassword reads one line from stdin, without echo when it is a terminal.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
