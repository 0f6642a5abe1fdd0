package repl

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// A command is a REPL meta-command, typed as `:name` at the primary prompt.
type command struct {
	name, help string
	run        func(s *Session, args []string) (quit bool)
}

// commands is filled in init: :help lists commands, which refers to itself.
var commands []command

func init() {
	commands = []command{
		{"help", "this list", (*Session).cmdHelp},
		{"vars", "the variables of this session and their types", (*Session).cmdVars},
		{"imports", "the packages this session imported", (*Session).cmdImports},
		{"who", "who is connected: session id, user, address, since", (*Session).cmdWho},
		{"migrate", "(admins) hand the whole server to the build now on disk, live", (*Session).cmdMigrate},
		{"upgrade", "move this session to the newer process of an incremental migration", (*Session).cmdUpgrade},
		{"drop", "NAME: leave a variable out of the next migration (-NAME: take it back)", (*Session).cmdDrop},
		{"attach", "[-f] ID: replace this namespace with a copy of snapshot session ID's (serve --restore); no ID lists them", (*Session).cmdAttach},
		{"quit", "log out (as does Ctrl-D on an empty line)", (*Session).cmdQuit},
	}
}

// command runs the meta-command in line and reports whether the session
// should end.
func (s *Session) command(line string) (quit bool) {
	fields := strings.Fields(strings.TrimPrefix(line, ":"))
	if len(fields) == 0 {
		s.printf("error: missing command after ':' (try :help)\n")
		return false
	}
	for _, c := range commands {
		if c.name == fields[0] {
			return c.run(s, fields[1:])
		}
	}
	s.printf("error: unknown command :%s (try :help)\n", fields[0])
	return false
}

func (s *Session) cmdHelp([]string) bool {
	var b strings.Builder
	b.WriteString("Type Go: expressions print their value; declarations (import, type, func, const, var)\n" +
		"and statements run in this session's own namespace. Unfinished input (an open brace,\n" +
		"an unfinished call) continues on a '... ' line. Ctrl-C interrupts an evaluation or\n" +
		"abandons the input; Ctrl-D on an empty line logs out. `import \"sys\"` gives sys.Version.\n\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  :%s\t%s\n", c.name, c.help)
	}
	tw.Flush()
	s.printf("%s", b.String())
	return false
}

func (s *Session) cmdVars([]string) bool {
	vars := s.ns.Vars()
	if len(vars) == 0 {
		s.printf("no variables\n")
		return false
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, v := range vars {
		fmt.Fprintf(tw, "%s\t%s\n", v.Name, v.Type)
	}
	tw.Flush()
	s.printf("%s", b.String())
	return false
}

func (s *Session) cmdImports([]string) bool {
	imports := s.ns.Imports()
	if len(imports) == 0 {
		s.printf("no imports\n")
		return false
	}
	for _, path := range imports {
		s.printf("%q\n", path)
	}
	return false
}

func (s *Session) cmdWho([]string) bool {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tADDRESS\tSINCE\tSTATE\tWORKER\t")
	for _, info := range s.srv.Sessions() {
		user, since := info.User, "-"
		if user == "" {
			user = "(logging in)"
		} else {
			since = info.Since.Format(time.DateTime)
		}
		me := ""
		if info.ID == s.id {
			me = "(you)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", info.ID, user, info.Addr, since, info.State, info.WorkerString(), me)
	}
	tw.Flush()
	s.printf("%s", b.String())
	return false
}

// plural is n and what, in the plural unless n is 1: "1 variable", "2
// variables".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (s *Session) cmdQuit([]string) bool {
	s.printf("bye\n")
	return true
}

func (s *Session) cmdMigrate([]string) bool {
	user := s.info().User
	s.srv.mu.Lock()
	start := s.srv.migrate
	s.srv.mu.Unlock()
	switch {
	case !slices.Contains(s.srv.cfg.Admins, user):
		s.printf("error: only admins may migrate the server (see serve --admins)\n")
	case start == nil:
		s.printf("error: this server cannot migrate\n")
	default:
		s.printf("migrating; your session will carry on in the new process\n")
		start((*sessionOutput)(s))
	}
	return false
}
