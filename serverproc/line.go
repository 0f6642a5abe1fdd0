package serverproc

import (
	"strconv"
	"strings"
)

// Line is one line of a chain's log. A server writes log/slog's text
// format: key=value pairs, a value quoted as Go quotes it when it holds a
// space, a quote or an equals sign. Other lines (a panic, a race report)
// have no Attrs.
type Line struct {
	Text  string // as written, without the newline
	Attrs []Attr // in the order written
}

// Attr is one key=value pair of a Line.
type Attr struct {
	Key   string
	Value string // unquoted
	Raw   string // key=value as written
}

// Get returns the value of key, or "" if the line has none.
func (l Line) Get(key string) string {
	for _, a := range l.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// ParseLine parses one line of a log. A line that is not log/slog's text
// format, or has no time or no msg, comes back with no Attrs and ok
// false.
func ParseLine(text string) (l Line, ok bool) {
	notSlog := Line{Text: text}
	l = Line{Text: text}
	rest := text
	for rest != "" {
		start := rest
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || strings.ContainsAny(rest[:eq], " \"") {
			return notSlog, false
		}
		key := rest[:eq]
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := quotedEnd(rest)
			if end < 0 {
				return notSlog, false
			}
			v, err := strconv.Unquote(rest[:end])
			if err != nil {
				return notSlog, false
			}
			val, rest = v, rest[end:]
		} else {
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 {
				sp = len(rest)
			}
			val, rest = rest[:sp], rest[sp:]
		}
		if rest != "" && rest[0] != ' ' {
			return notSlog, false
		}
		l.Attrs = append(l.Attrs, Attr{Key: key, Value: val, Raw: start[:len(start)-len(rest)]})
		rest = strings.TrimPrefix(rest, " ")
	}
	if !l.has("time") || !l.has("msg") {
		return notSlog, false
	}
	return l, true
}

func (l Line) has(key string) bool {
	for _, a := range l.Attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

// parse is ParseLine for a line that may not be slog's.
func parse(text string) Line {
	l, _ := ParseLine(text)
	return l
}

// quotedEnd returns the index just past the Go-quoted string s starts
// with, or -1.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// Listening is what a process of the chain said when it began to serve.
type Listening struct {
	Pid  int
	Addr string // the telnet listener's host:port
	Line Line   // the whole line (it names the control socket, the version, ...)
}

// listening reports whether l is a process's `msg=listening` line.
func listening(l Line) (Listening, bool) {
	if l.Get("msg") != "listening" {
		return Listening{}, false
	}
	pid, err := strconv.Atoi(l.Get("pid"))
	if err != nil || pid <= 0 || l.Get("addr") == "" {
		return Listening{}, false
	}
	return Listening{Pid: pid, Addr: l.Get("addr"), Line: l}, true
}
