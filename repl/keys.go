package repl

import "bytes"

// keyAliases maps the sequences that other terminals send for keys
// golang.org/x/term knows by one sequence only. x/term reads `ESC [ 1 ~`
// (Home in tmux, screen and PuTTY) as an unknown key and drops it, and
// reads `ESC O H` (xterm's application mode) as an unknown `ESC O` followed
// by a typed "H".
var keyAliases = []struct{ from, to string }{
	{"\x1b[1~", "\x1b[H"}, // Home: tmux, screen, PuTTY, the Linux console
	{"\x1b[7~", "\x1b[H"}, // Home: rxvt
	{"\x1bOH", "\x1b[H"},  // Home: application mode
	{"\x1b[4~", "\x1b[F"}, // End: tmux, screen, PuTTY, the Linux console
	{"\x1b[8~", "\x1b[F"}, // End: rxvt
	{"\x1bOF", "\x1b[F"},  // End: application mode
	{"\x1bOA", "\x1b[A"},  // the arrows in application mode
	{"\x1bOB", "\x1b[B"},
	{"\x1bOC", "\x1b[C"},
	{"\x1bOD", "\x1b[D"},
}

// translateKeys rewrites the keyAliases in b into what x/term knows. A
// trailing proper prefix of an alias (`ESC [ 1`, the rest still in flight)
// is returned as hold, to be put before the next bytes read: x/term, given
// it, would wait for the rest anyway.
func translateKeys(b []byte) (out, hold []byte) {
	i := bytes.IndexByte(b, '\x1b')
	if i < 0 {
		return b, nil
	}
	out = make([]byte, 0, len(b))
	for i >= 0 {
		out = append(out, b[:i]...)
		b = b[i:]
		to, n, prefix := matchAlias(b)
		switch {
		case n > 0:
			out = append(out, to...)
			b = b[n:]
		case prefix:
			return out, append([]byte(nil), b...)
		default:
			out = append(out, b[0])
			b = b[1:]
		}
		i = bytes.IndexByte(b, '\x1b')
	}
	return append(out, b...), nil
}

// matchAlias returns the translation of the alias b starts with and its
// length, or whether all of b is the beginning of an alias.
func matchAlias(b []byte) (to string, n int, prefix bool) {
	for _, a := range keyAliases {
		if bytes.HasPrefix(b, []byte(a.from)) {
			return a.to, len(a.from), false
		}
		if len(b) < len(a.from) && bytes.HasPrefix([]byte(a.from), b) {
			prefix = true
		}
	}
	return "", 0, prefix
}
