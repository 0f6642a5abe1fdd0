package demo

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"translucent/migrate"
	"translucent/serverproc"
)

// MigrateReport is what `translucent migrate` printed on success, parsed.
// The format is main's migrator.run and migrate.Report.String:
//
//	migrating pid 4242 (v1 (go1.26.8)) to /path/translucent
//	old pid 4242 (v1 (go1.26.8))
//	new pid 4251 (v2 (go1.26.8))
//	new pid 4251, 1 session
//	  start     82.433ms
//	  recheck   187µs
//	  quiesce   221µs
//	  ...
//	longest pause a session saw: 9.279ms
//	not carried: session 1: ...
//	namespaces restored before the pause: 1 of 1
//	namespaces found unchanged before the pause (not snapshotted in it): 1
//
// It is a migrate.Summary: ParseMigrateReport reads what Summary.String
// writes.
type MigrateReport = migrate.Summary

// Phase is one timed step of a handoff.
type Phase = migrate.Phase

// ParseMigrateReport parses the output of a successful `translucent
// migrate`. Lines it does not know are skipped, so that the format can
// grow; it fails when a line it knows is malformed, when the pids
// disagree, or when the pids, the session count or the pause are missing.
func ParseMigrateReport(out string) (MigrateReport, error) {
	var r MigrateReport
	sessionsSeen, pauseSeen := false, false
	for n, line := range strings.Split(out, "\n") {
		bad := func(err error) (MigrateReport, error) {
			return MigrateReport{}, fmt.Errorf("demo: migrate output line %d %q: %w", n+1, line, err)
		}
		switch {
		case strings.HasPrefix(line, "migrating pid "):
			pid, rest, err := leadingInt(strings.TrimPrefix(line, "migrating pid "))
			if err != nil {
				return bad(err)
			}
			// The version holds parentheses itself: "(v1 (go1.26.8)) to /bin".
			i := closing(strings.TrimPrefix(rest, " "))
			if !strings.HasPrefix(rest, " (") || i < 0 || !strings.HasPrefix(rest[1+i:], ") to ") {
				return bad(errors.New("want \"(VERSION) to BINARY\""))
			}
			r.OldPid, r.OldVersion, r.Binary = pid, rest[2:1+i], rest[1+i+len(") to "):]
		case strings.HasPrefix(line, "old pid "):
			pid, v, err := pidVersion(strings.TrimPrefix(line, "old pid "))
			if err != nil {
				return bad(err)
			}
			if r.OldPid != 0 && r.OldPid != pid {
				return bad(fmt.Errorf("old pid %d, but the migration started from pid %d", pid, r.OldPid))
			}
			r.OldPid, r.OldVersion = pid, v
		case strings.HasPrefix(line, "new pid "):
			pid, rest, err := leadingInt(strings.TrimPrefix(line, "new pid "))
			if err != nil {
				return bad(err)
			}
			if r.NewPid != 0 && r.NewPid != pid {
				return bad(fmt.Errorf("new pid %d, but an earlier line said %d", pid, r.NewPid))
			}
			r.NewPid = pid
			switch {
			case strings.HasPrefix(rest, " ("):
				if closing(rest[1:]) != len(rest)-2 {
					return bad(errors.New("want \"PID (VERSION)\""))
				}
				r.NewVersion = rest[2 : len(rest)-1]
			case strings.HasPrefix(rest, ", ") && (strings.HasSuffix(rest, " sessions") || strings.HasSuffix(rest, " session")):
				n, _, _ := strings.Cut(rest[2:], " ")
				if r.Sessions, err = strconv.Atoi(n); err != nil {
					return bad(err)
				}
				sessionsSeen = true
			default:
				return bad(errors.New("want \"(VERSION)\" or \", N sessions\" after the pid"))
			}
		case strings.HasPrefix(line, "  "):
			f := strings.Fields(line)
			if len(f) != 2 {
				return bad(errors.New("want a phase and its duration"))
			}
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return bad(err)
			}
			r.Phases = append(r.Phases, Phase{Name: f[0], Duration: d})
		case strings.HasPrefix(line, "longest pause a session saw: "):
			d, err := time.ParseDuration(strings.TrimPrefix(line, "longest pause a session saw: "))
			if err != nil {
				return bad(err)
			}
			r.Pause, pauseSeen = d, true
		case strings.HasPrefix(line, "namespaces restored before the pause: "):
			n, rest, err := leadingInt(strings.TrimPrefix(line, "namespaces restored before the pause: "))
			if err != nil {
				return bad(err)
			}
			if !strings.HasPrefix(rest, " of ") {
				return bad(errors.New("want \"N of M\""))
			}
			r.Prebuilt = n
		case strings.HasPrefix(line, "namespaces found unchanged before the pause (not snapshotted in it): "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "namespaces found unchanged before the pause (not snapshotted in it): "))
			if err != nil {
				return bad(err)
			}
			r.Unchanged = n
		case strings.HasPrefix(line, "not carried: "):
			r.NotCarried = append(r.NotCarried, strings.TrimPrefix(line, "not carried: "))
		}
	}
	var missing []string
	if r.OldPid == 0 {
		missing = append(missing, "the old pid")
	}
	if r.NewPid == 0 {
		missing = append(missing, "the new pid")
	}
	if !sessionsSeen {
		missing = append(missing, "the session count")
	}
	if !pauseSeen {
		missing = append(missing, "the pause")
	}
	if len(missing) > 0 {
		return MigrateReport{}, fmt.Errorf("demo: migrate output lacks %s:\n%s", strings.Join(missing, ", "), out)
	}
	return r, nil
}

// leadingInt splits "4242 (v1)" into 4242 and " (v1)".
func leadingInt(s string) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, "", fmt.Errorf("want a pid: %w", err)
	}
	return n, s[i:], nil
}

// closing returns the index of the parenthesis that closes the one s
// starts with, or -1.
func closing(s string) int {
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
		if depth == 0 {
			return -1
		}
	}
	return -1
}

// pidVersion parses "4242 (v1 (go1.26.8))".
func pidVersion(s string) (int, string, error) {
	pid, rest, err := leadingInt(s)
	if err != nil {
		return 0, "", err
	}
	if !strings.HasPrefix(rest, " (") || closing(rest[1:]) != len(rest)-2 {
		return 0, "", errors.New("want \"PID (VERSION)\"")
	}
	return pid, rest[2 : len(rest)-1], nil
}

// without is a log line without the named attributes (a time stamp, the
// phases already shown), for people to read.
func without(l serverproc.Line, keys ...string) string {
	if len(l.Attrs) == 0 {
		return l.Text
	}
	var kept []string
	for _, a := range l.Attrs {
		if !slices.Contains(keys, a.Key) {
			kept = append(kept, a.Raw)
		}
	}
	return strings.Join(kept, " ")
}

// folded is a log line without the named attributes, folded between its
// attributes to lines of at most width columns (a projector's), the lines
// after the first indented: a wrapped log line stays readable, and a
// value is never cut.
func folded(l serverproc.Line, width int, keys ...string) string {
	if len(l.Attrs) == 0 {
		return l.Text
	}
	var b strings.Builder
	col := 0
	for _, a := range l.Attrs {
		if slices.Contains(keys, a.Key) {
			continue
		}
		kv := a.Raw
		switch {
		case col == 0:
		case col+1+len(kv) > width:
			b.WriteString("\n    ")
			col = 4
		default:
			b.WriteByte(' ')
			col++
		}
		if len(kv) > width-4 { // a long message: folded between its words
			kv = wrapWords(kv, width-4, "    ")
			col = len(kv) - strings.LastIndexByte(kv, '\n') - 1
			if col == len(kv) {
				col += 4
			}
			b.WriteString(kv)
			continue
		}
		b.WriteString(kv)
		col += len(kv)
	}
	return b.String()
}
