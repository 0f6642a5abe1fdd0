package bench

import "time"

// Window is the lines typed during one slice of time around a migration,
// and how long they waited: where in the migration a user's wait comes
// from.
type Window struct {
	From  time.Duration `json:"from_ns"` // since the migrate command started; negative is before it
	Phase string        `json:"phase"`   // what the server did then (see phaseAt)
	Lines Stats         `json:"lines"`   // send → answer of the lines sent in the window
}

// sentLine is one typed line: when it left and how long its answer took.
type sentLine struct {
	sent    time.Time
	latency time.Duration
}

// phases of a migration, as the windows name them.
const (
	phaseBefore  = "before"
	phaseStart   = "precopy, start" // the old process serves; the new one starts and restores ahead
	phaseRecheck = "recheck"        // the old process serves, and checks namespaces live
	phasePause   = "server's pause" // quiesce → commit
	phaseAfter   = "after"          // the new process serves
)

// timeline cuts [migStart − 2 windows, end) into windows of a width that
// gives about 20 over the migration, and summarises the lines sent in
// each. recheckFrom starts the recheck phase, and pauseFrom and migEnd
// bound the server's own pause.
func timeline(lines []sentLine, migStart, recheckFrom, pauseFrom, migEnd, end time.Time) []Window {
	width := windowWidth(migEnd.Sub(migStart))
	from := migStart.Add(-2 * width)
	if !end.After(from) {
		return nil
	}
	n := int((end.Sub(from) + width - 1) / width)
	samples := make([][]time.Duration, n)
	for _, l := range lines {
		if l.sent.Before(from) || !l.sent.Before(end) {
			continue
		}
		i := int(l.sent.Sub(from) / width)
		samples[i] = append(samples[i], l.latency)
	}
	out := make([]Window, n)
	for i := range out {
		at := from.Add(time.Duration(i) * width)
		out[i] = Window{From: at.Sub(migStart), Phase: phaseAt(at, at.Add(width), migStart, recheckFrom, pauseFrom, migEnd), Lines: Summarize(samples[i])}
	}
	return out
}

// phaseAt names what the server did during [at, until): the pause if the
// window touches it at all, since that is what its lines waited for, and
// the recheck likewise.
func phaseAt(at, until, migStart, recheckFrom, pauseFrom, migEnd time.Time) string {
	switch {
	case at.Before(migEnd) && until.After(pauseFrom):
		return phasePause
	case !until.After(migStart):
		return phaseBefore
	case at.Before(pauseFrom) && until.After(recheckFrom):
		return phaseRecheck
	case at.Before(pauseFrom):
		return phaseStart
	}
	return phaseAfter
}

// windowWidth is a round width that cuts a migration of length total into
// about 20 windows, at least 10 ms.
func windowWidth(total time.Duration) time.Duration {
	want := total / 20
	for _, w := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second} {
		if w >= want {
			return w
		}
	}
	return 10 * time.Second
}
