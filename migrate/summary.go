package migrate

import (
	"fmt"
	"strings"
	"time"
)

// A Summary is what a committed migration did, as `translucent migrate`
// reports it: for people (Heading, then Body), or for tools as JSON
// (--json). Durations are in nanoseconds in JSON.
type Summary struct {
	OldPid     int           `json:"old_pid"`
	OldVersion string        `json:"old_version"`
	Binary     string        `json:"binary"` // the build migrated to
	NewPid     int           `json:"new_pid"`
	NewVersion string        `json:"new_version"`
	Sessions   int           `json:"sessions"`
	Phases     []Phase       `json:"phases"`
	Pause      time.Duration `json:"pause_ns"` // the longest a session waited, as the old process timed it
	NotCarried []string      `json:"not_carried,omitempty"`
	Prebuilt   int           `json:"prebuilt"`  // namespaces the new process restored before the pause
	Unchanged  int           `json:"unchanged"` // of those, found unchanged live before the pause (or brought up to date): not snapshotted in it
	// Updates is how many namespaces changed since the precopy were sent
	// to the new process before the pause, which brought those it built
	// up to date; one that changed again during the rounds is counted again.
	Updates int `json:"updates,omitempty"`
}

// Phase returns the duration of the named phase, or 0.
func (s Summary) Phase(name string) time.Duration {
	for _, p := range s.Phases {
		if p.Name == name {
			return p.Duration
		}
	}
	return 0
}

// Heading is the line printed when the migration starts.
func (s Summary) Heading() string {
	return fmt.Sprintf("migrating pid %d (%s) to %s\n", s.OldPid, s.OldVersion, s.Binary)
}

// Body is the rest, printed once it has committed.
func (s Summary) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "old pid %d (%s)\nnew pid %d (%s)\n", s.OldPid, s.OldVersion, s.NewPid, s.NewVersion)
	b.WriteString(Report{NewPid: s.NewPid, Sessions: s.Sessions, Phases: s.Phases, Pause: s.Pause, Lost: s.NotCarried}.String())
	if s.Prebuilt > 0 {
		fmt.Fprintf(&b, "namespaces restored before the pause: %d of %d\n", s.Prebuilt, s.Sessions)
		fmt.Fprintf(&b, "namespaces found unchanged before the pause (not snapshotted in it): %d\n", s.Unchanged)
		if s.Updates > 0 {
			fmt.Fprintf(&b, "namespace updates sent before the pause (changed since the precopy): %d\n", s.Updates)
		}
	}
	return b.String()
}

// String is the whole report for people.
func (s Summary) String() string { return s.Heading() + s.Body() }
