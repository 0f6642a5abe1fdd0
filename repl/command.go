package repl

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"translucent/namespace"
	"translucent/synopsis"
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
		{"type", "EXPR: the type of an expression, found without running your code", (*Session).cmdType},
		{"doc", "NAME: the declaration and doc line of a standard library name (strings.HasPrefix, time.Duration, fmt)", (*Session).cmdDoc},
		{"history", "[N]: the last N lines you typed (20), kept across logins", (*Session).cmdHistory},
		{"save", "FILE: write the inputs of this session that ran to FILE, in your own directory", (*Session).cmdSave},
		{"load", "FILE: run FILE from your own directory, line by line, as if typed", (*Session).cmdLoad},
		{"reset", "[-f]: start again with an empty namespace", (*Session).cmdReset},
		{"who", "who is connected: session id, user, address, since, who shares and who watches whom", (*Session).cmdWho},
		{"share", "[off]: let others :watch this session, read only (admins always may)", (*Session).cmdShare},
		{"watch", "ID: see what session ID's user sees, read only, until Enter, Ctrl-C or Ctrl-D; a migration carries the watch", (*Session).cmdWatch},
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
	s.rawArgs = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, ":"), fields[0]))
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
	b.WriteString("Type Go: expressions print their value, and _ holds the last one printed; declarations\n" +
		"(import, type, func, const, var) and statements run in this session's own namespace.\n" +
		"Unfinished input (an open brace, an unfinished call) continues on a '... ' line. Up\n" +
		"recalls what you typed; a multi-line input comes back at its first line, and each Enter\n" +
		"brings the next. Ctrl-C interrupts an evaluation or abandons the input; Ctrl-D on an\n" +
		"empty line logs out. `import \"sys\"` gives sys.Version.\n" +
		"Not there (the interpreter, yaegi, lacks them): range over a function (Go 1.23); and\n" +
		"fmt's %T of a type declared here names what it is made of (float64, not Celsius;\n" +
		":type names it).\n\n")
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
	fmt.Fprintln(tw, "ID\tUSER\tADDRESS\tSINCE\tSTATE\tWORKER\tSHARE\t")
	for _, info := range s.host.SessionList() {
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
		share := "-"
		switch {
		case info.Shared && info.Watching != 0:
			share = fmt.Sprintf("shared, watching %d", info.Watching)
		case info.Shared:
			share = "shared"
		case info.Watching != 0:
			share = fmt.Sprintf("watching %d", info.Watching)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", info.ID, user, info.Addr, since, info.State, info.WorkerString(), share, me)
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
	user := s.Info().User
	start := s.host.Migrator()
	switch {
	case !s.cfg.IsAdmin(user):
		s.printf("error: only admins may migrate the server (see serve --admins)\n")
	case start == nil:
		s.printf("error: this server cannot migrate\n")
	default:
		s.printf("migrating; your session will carry on in the new process\n")
		start((*sessionOutput)(s))
	}
	return false
}

// typer is implemented by namespaces that can tell an expression's type
// (namespace.Namespace, worker.Namespace).
type typer interface {
	TypeOf(ctx context.Context, src string) (string, error)
}

func (s *Session) cmdType([]string) bool {
	if s.rawArgs == "" {
		s.printf("error: :type EXPR tells the type of an expression\n")
		return false
	}
	t, ok := s.ns.(typer)
	if !ok {
		s.printf("error: this namespace cannot tell types\n")
		return false
	}
	ctx, done := s.in.evaluating(context.Background())
	typ, err := t.TypeOf(ctx, s.rawArgs)
	done()
	switch {
	case errors.Is(err, namespace.ErrNotStatic) || err != nil && strings.Contains(err.Error(), namespace.ErrNotStatic.Error()):
		s.printf("%s calls a function: :type runs none of your code, so it tells the type of one call (f(x)), not of an expression around it\n", s.rawArgs)
	case err != nil:
		s.printf("error: %v\n", err)
	default:
		s.printf("%s\n", typ)
	}
	return false
}

func (s *Session) cmdDoc(args []string) bool {
	if len(args) != 1 {
		s.printf("error: :doc NAME shows a standard library name's declaration and doc line (:doc strings.HasPrefix)\n")
		return false
	}
	pkgPath, name := s.docTarget(args[0])
	entries := synopsis.Lookup(pkgPath, name, true)
	if len(entries) == 0 {
		s.printf("no documentation for %s: :doc knows the standard library's packages and exported names (:type tells the type of your own)\n", args[0])
		return false
	}
	var b strings.Builder
	for k, e := range entries {
		if k == 0 || !strings.Contains(e.Name, ".") {
			fmt.Fprintf(&b, "%s\n    %s\n", e.Decl, e.Doc)
			continue
		}
		fmt.Fprintf(&b, "  %s\n", e.Decl) // a type's methods: declarations only
	}
	if name == "" {
		fmt.Fprintf(&b, "(import %q; Tab after %s. lists its names)\n", pkgPath, path.Base(pkgPath))
	}
	s.printf("%s", b.String())
	return false
}

// docTarget splits a :doc NAME into an import path and a name in it:
// "strings.Builder.WriteString" is strings, Builder.WriteString;
// "encoding/json.Marshal" is encoding/json, Marshal; a package name the
// session imported stands for its import path (json for encoding/json).
func (s *Session) docTarget(arg string) (pkgPath, name string) {
	dir, rest := "", arg
	if i := strings.LastIndexByte(arg, '/'); i >= 0 {
		dir, rest = arg[:i+1], arg[i+1:]
	}
	pkgName, name, _ := strings.Cut(rest, ".")
	pkgPath = dir + pkgName
	if dir == "" {
		for _, imp := range s.ns.Imports() {
			if path.Base(imp) == pkgName {
				pkgPath = imp
			}
		}
	}
	return pkgPath, name
}

func (s *Session) cmdHistory(args []string) bool {
	n := 20
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v <= 0 || len(args) > 1 {
			s.printf("error: :history [N] shows the last N lines typed\n")
			return false
		}
		n = v
	}
	entries := s.hist.Entries()
	// The :history just typed is the newest entry; it is not news.
	if len(entries) > 0 && strings.HasPrefix(entries[len(entries)-1], ":history") {
		entries = entries[:len(entries)-1]
	}
	first := max(0, len(entries)-n)
	var b strings.Builder
	for k := first; k < len(entries); k++ {
		// A multi-line input under its number, as it was typed.
		fmt.Fprintf(&b, "%5d  %s\n", k+1, strings.ReplaceAll(entries[k], "\n", "\n       "))
	}
	s.printf("%s", b.String())
	return false
}

func (s *Session) cmdReset(args []string) bool {
	force := len(args) == 1 && args[0] == "-f"
	if len(args) > 0 && !force {
		s.printf("error: :reset [-f] starts again with an empty namespace\n")
		return false
	}
	if held := s.holds(); held != "" && !force {
		s.printf("error: :reset empties this session's namespace, which holds %s, lost if emptied. "+
			":reset -f empties it all the same (:save FILE keeps what ran)\n", held)
		return false
	}
	ns, err := s.cfg.Namespaces.New(s.namespaceOptions())
	if err != nil {
		s.printf("error: no new namespace: %v\n", err)
		return false
	}
	s.mu.Lock()
	old := s.ns
	s.ns = ns
	s.record, s.recordBytes, s.recordMark = nil, 0, listMark{}
	s.mu.Unlock()
	old.Close()
	s.printf("the namespace is empty%s\n", workerNote(ns))
	return false
}
