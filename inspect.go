package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"translucent/front"
	"translucent/namespace"
	"translucent/repl"
)

// inspect shows a snapshot file (translucent snapshot -o FILE) before it is
// used: what each session declared, the value of each variable, what a
// migration would not carry, and the object graph (the talk's "UI for
// managing migrations"). It reads the file the way every other command
// does, bounded and checked, and trusts nothing in it: a value it cannot
// make sense of is shown as such, and nothing from the file reaches the
// terminal as a control character.

const inspectUsage = "inspect: usage: translucent inspect [--session ID] [--dot | --json] FILE (- for standard input)"

// inspectReport is what --json prints: the file's header and, per session,
// its namespace described and drawn.
type inspectReport struct {
	Format        string           `json:"format"`
	Version       int              `json:"version"`
	Taken         time.Time        `json:"taken"`
	Pid           int              `json:"pid"`
	ServerVersion string           `json:"serverVersion"`
	Skipped       []string         `json:"skipped,omitempty"` // sessions the snapshot could not take
	Sessions      []inspectSession `json:"sessions"`
}

type inspectSession struct {
	ID           uint64                     `json:"id"`
	User         string                     `json:"user"`
	Addr         string                     `json:"addr"`
	Since        time.Time                  `json:"since"`
	Empty        bool                       `json:"empty,omitempty"` // no namespace yet: nothing evaluated
	Error        string                     `json:"error,omitempty"` // the namespace could not be described
	Imports      []string                   `json:"imports"`
	Declarations []string                   `json:"declarations"`
	Vars         []namespace.VarDescription `json:"vars"`
	NotCarried   []string                   `json:"notCarried"` // what the snapshot lost, one note per value
	Graph        *namespace.Graph           `json:"graph,omitempty"`
}

func inspectCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	dot := fs.Bool("dot", false, "print the object graph as Graphviz DOT (translucent inspect --dot FILE | dot -Tsvg)")
	asJSON := fs.Bool("json", false, "print the report as JSON, for tools, with the object graph")
	session := fs.Uint64("session", 0, "only the session with this `id`")
	// Flags may follow the file too: inspect FILE --dot.
	var files []string
	for {
		if err := parseFlags(fs, args, stdout, stderr); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 || *dot && *asJSON {
		return errors.New(inspectUsage)
	}
	f, err := front.OpenSnapshot(files[0], stdin)
	if err != nil {
		return err
	}
	sessions := f.Sessions
	if *session != 0 {
		i := slices.IndexFunc(sessions, func(st repl.SessionState) bool { return st.ID == *session })
		if i < 0 {
			return fmt.Errorf("inspect: no session %d in the snapshot (it has %s)", *session, sessionIDs(sessions))
		}
		sessions = sessions[i : i+1]
	}
	out := bufio.NewWriter(stdout)
	switch {
	case *dot:
		writeInspectDOT(out, f, sessions)
	case *asJSON:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(inspectReportOf(f, sessions, true)); err != nil {
			return err
		}
	default:
		writeInspectText(out, inspectReportOf(f, sessions, false))
	}
	return out.Flush()
}

func sessionIDs(sessions []repl.SessionState) string {
	if len(sessions) == 0 {
		return "none"
	}
	ids := make([]string, len(sessions))
	for k, st := range sessions {
		ids[k] = strconv.FormatUint(st.ID, 10)
	}
	return strings.Join(ids, ", ")
}

func inspectReportOf(f *repl.SnapshotFile, sessions []repl.SessionState, graphs bool) inspectReport {
	r := inspectReport{
		Format: f.Format, Version: f.Version, Taken: f.Taken, Pid: f.Pid, ServerVersion: f.ServerVersion,
		Skipped: f.Skipped, Sessions: []inspectSession{},
	}
	for _, st := range sessions {
		s := inspectSession{
			ID: st.ID, User: st.User, Addr: st.Addr, Since: st.Since,
			Imports: []string{}, Declarations: []string{}, Vars: []namespace.VarDescription{}, NotCarried: []string{},
		}
		if st.Lost != nil {
			s.NotCarried = st.Lost
		}
		if st.Namespace == nil {
			s.Empty = true
			r.Sessions = append(r.Sessions, s)
			continue
		}
		d, err := st.Namespace.Describe()
		if err != nil {
			s.Error = err.Error()
			r.Sessions = append(r.Sessions, s)
			continue
		}
		s.Imports, s.Declarations, s.Vars = d.Imports, d.Declarations, d.Vars
		if graphs {
			if g, err := st.Namespace.Graph(); err == nil {
				s.Graph = &g
			}
		}
		r.Sessions = append(r.Sessions, s)
	}
	return r
}

// inspectTime is how the report writes a time: to the second, with its
// zone, for people.
func inspectTime(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") }

func writeInspectText(w io.Writer, r inspectReport) {
	fmt.Fprintf(w, "snapshot taken %s from pid %d (%s), %s\n",
		inspectTime(r.Taken), r.Pid, clean(r.ServerVersion), plural(len(r.Sessions), "session"))
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped %s\n", clean(s))
	}
	for _, s := range r.Sessions {
		fmt.Fprintf(w, "\nsession %d: %s from %s, since %s\n", s.ID, clean(s.User), clean(s.Addr), inspectTime(s.Since))
		switch {
		case s.Empty:
			fmt.Fprintln(w, "  nothing evaluated yet")
		case s.Error != "":
			fmt.Fprintf(w, "  cannot be shown: %s\n", clean(s.Error))
		}
		if len(s.Imports) > 0 {
			fmt.Fprintln(w, "  imports:")
			for _, imp := range s.Imports {
				fmt.Fprintf(w, "    %s\n", clean(imp))
			}
		}
		if len(s.Declarations) > 0 {
			fmt.Fprintln(w, "  declarations:")
			for _, d := range s.Declarations {
				// Multi-line declarations keep their lines, indented
				// under the first; tabs become spaces, as on a slide.
				for _, line := range strings.Split(d, "\n") {
					fmt.Fprintf(w, "    %s\n", clean(strings.ReplaceAll(line, "\t", "    ")))
				}
			}
		}
		if !s.Empty && s.Error == "" {
			writeInspectVars(w, s)
		}
		if len(s.NotCarried) > 0 {
			fmt.Fprintln(w, "  not carried (these arrive at their zero value, or in part):")
			for _, l := range s.NotCarried {
				fmt.Fprintf(w, "    %s\n", clean(l))
			}
		}
	}
}

func writeInspectVars(w io.Writer, s inspectSession) {
	if len(s.Vars) == 0 {
		fmt.Fprintln(w, "  variables: none")
		return
	}
	// A note names its value by a path from the variable: x, x.F, x[2].
	noted := map[string]bool{}
	for _, l := range s.NotCarried {
		if i := strings.IndexAny(l, " .[:"); i > 0 {
			noted[l[:i]] = true
		}
	}
	fmt.Fprintln(w, "  variables:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "    NAME\tTYPE\tVALUE")
	legend := false
	for _, v := range s.Vars {
		legend = legend || strings.Contains(v.Value, "#")
		value := clean(v.Value)
		switch {
		case !v.Carried && noted[v.Name]:
			value += "   (not carried)"
		case noted[v.Name]:
			value += "   (in part)"
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", clean(v.Name), clean(v.Type), value)
	}
	tw.Flush()
	if legend {
		fmt.Fprintln(w, "    (#N= marks a value that more than one reference leads to; <same as #N> and <cycle: #N> lead back to it)")
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// clean replaces the control characters of s (a file's bytes must not
// drive the terminal) and invalid UTF-8.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// writeInspectDOT writes one digraph with a cluster per session, and a
// note of what each would not carry.
func writeInspectDOT(w io.Writer, f *repl.SnapshotFile, sessions []repl.SessionState) {
	fmt.Fprintln(w, "digraph translucent {")
	fmt.Fprintf(w, "\tlabel=%s;\n\tlabelloc=t;\n", dotString(fmt.Sprintf("snapshot of pid %d (%s), taken %s", f.Pid, f.ServerVersion, inspectTime(f.Taken))))
	fmt.Fprintln(w, "\trankdir=LR;\n\tnode [fontname=\"monospace\", fontsize=10];\n\tedge [fontname=\"monospace\", fontsize=9];")
	for _, st := range sessions {
		prefix := "s" + strconv.FormatUint(st.ID, 10)
		label := fmt.Sprintf("session %d: %s from %s", st.ID, st.User, st.Addr)
		var err error
		if st.Namespace == nil {
			err = errors.New("nothing evaluated yet")
		} else {
			err = st.Namespace.WriteDOT(w, prefix, label)
		}
		if err != nil {
			// A cluster of its own all the same, saying why it is empty.
			fmt.Fprintf(w, "subgraph \"cluster_%s\" {\n\tlabel=%s;\n\t\"%s_none\" [shape=plaintext, label=%s];\n}\n",
				prefix, dotString(label), prefix, dotString(err.Error()))
		}
		if len(st.Lost) > 0 {
			var b strings.Builder
			b.WriteString("not carried:")
			for _, l := range st.Lost {
				b.WriteString("\n" + l)
			}
			// The same subgraph again: Graphviz adds to the cluster.
			fmt.Fprintf(w, "subgraph \"cluster_%s\" {\n\t\"%s_lost\" [shape=note, fontcolor=\"#a00000\", label=%s];\n}\n", prefix, prefix, dotString(b.String()))
		}
	}
	fmt.Fprintln(w, "}")
}

// dotString quotes s for a DOT label: lines left-justified, backslashes
// doubled so that Graphviz expands none of them.
func dotString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	lines := strings.Split(s, "\n")
	for k, l := range lines {
		lines[k] = r.Replace(clean(l))
	}
	if len(lines) == 1 {
		return `"` + lines[0] + `"`
	}
	return `"` + strings.Join(lines, `\l`) + `\l"`
}
