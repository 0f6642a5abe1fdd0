package repl

import "fmt"

// A session's history and the record of its inputs (for :save) grow with
// every line it types, up to historySize entries and maxRecord bytes, and
// a migration carries both. Sent whole in every pause, they made the
// pause grow with the sessions' age: in a soak of 100 sessions typing,
// the server's pause went from 13 ms at the first migration to 115 ms at
// the thirty-third. Both lists change almost only at their ends (an entry
// added at the back, the oldest dropped from the front), so the precopy
// carries them whole, before the pause, and the pause only a tail: what
// was added since, and how many of the precopy's entries to drop.

// listMark follows a list from the moment a precopy took it whole: of the
// n entries taken, how many have been dropped from its front since. It is
// off until a precopy sets it, and again once the list changed in any
// other way than entries added at its end and dropped from its front.
type listMark struct {
	on      bool
	n       int // entries the precopy took
	dropped int // of them, dropped from the front since
}

// set starts following a list of n entries, as the precopy took it.
func (m *listMark) set(n int) { *m = listMark{on: true, n: n} }

// drop notes k entries dropped from the list's front.
func (m *listMark) drop(k int) { m.dropped += k }

// cut notes the list cut to length l at its end: following it ends if
// that took any of the precopy's entries still in it.
func (m *listMark) cut(l int) {
	if l < m.n-min(m.dropped, m.n) {
		m.on = false
	}
}

// tail is how a pause sends list, now: the precopy's entries to drop from
// its front, and the entries that follow those left. ok is false when the
// list must go whole.
func (m listMark) tail(list []string) (skip int, tail []string, ok bool) {
	if !m.on {
		return 0, nil, false
	}
	skip = min(m.dropped, m.n)
	kept := m.n - skip
	if kept > len(list) {
		return 0, nil, false
	}
	return skip, list[kept:], true
}

// untail is the list a tail stands for: base (the precopy's) less its
// first skip entries, then tail.
func untail(base []string, skip int, tail []string) ([]string, error) {
	if skip < 0 || skip > len(base) {
		return nil, fmt.Errorf("a tail drops %d of the precopy's %d entries", skip, len(base))
	}
	return append(append(make([]string, 0, len(base)-skip+len(tail)), base[skip:]...), tail...), nil
}
