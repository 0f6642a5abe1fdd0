package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MigrateReport is what `translucent migrate` printed about a migration
// that succeeded (see migrate.Report.String and migration.go).
type MigrateReport struct {
	OldPid     int           `json:"old_pid"`
	OldVersion string        `json:"old_version"`
	NewPid     int           `json:"new_pid"`
	NewVersion string        `json:"new_version"`
	Sessions   int           `json:"sessions"`
	Phases     []Phase       `json:"phases"`
	Pause      time.Duration `json:"pause_ns"`  // "longest pause a session saw", as the old server timed it
	Prebuilt   int           `json:"prebuilt"`  // namespaces the new process restored before the pause (precopy)
	Unchanged  int           `json:"unchanged"` // of those, found unchanged live (recheck): not snapshotted in the pause
	NotCarried []string      `json:"not_carried,omitempty"`
}

// Phase is one timed step of a migration.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"ns"`
}

func (r MigrateReport) phaseNames() []string {
	names := make([]string, len(r.Phases))
	for i, p := range r.Phases {
		names[i] = p.Name
	}
	return names
}

// Phase returns the duration of the named phase, or 0.
func (r MigrateReport) Phase(name string) time.Duration {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.Duration
		}
	}
	return 0
}

var (
	reOldPid   = regexp.MustCompile(`^old pid (\d+) \((.*)\)$`)
	reNewPid   = regexp.MustCompile(`^new pid (\d+) \((.*)\)$`)
	reSessions = regexp.MustCompile(`^new pid (\d+), (\d+) sessions$`)
	rePhase    = regexp.MustCompile(`^\s+(start|recheck|quiesce|transfer|restore|commit)\s+(\S+)$`)
	rePause    = regexp.MustCompile(`^longest pause a session saw: (\S+)$`)
	rePrebuilt = regexp.MustCompile(`^namespaces restored before the pause: (\d+) of \d+$`)
	reVouched  = regexp.MustCompile(`^namespaces found unchanged before the pause \(not snapshotted in it\): (\d+)$`)
)

// ParseMigrateOutput reads the standard output of a successful
// `translucent migrate`. It fails when the new pid, a phase or the pause
// is missing, or a duration does not parse: a format change in the
// command must not turn into zeros in the results.
func ParseMigrateOutput(out string) (MigrateReport, error) {
	var r MigrateReport
	var sawPause bool
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if m := reOldPid.FindStringSubmatch(line); m != nil {
			r.OldPid, _ = strconv.Atoi(m[1])
			r.OldVersion = m[2]
		} else if m := reNewPid.FindStringSubmatch(line); m != nil {
			r.NewPid, _ = strconv.Atoi(m[1])
			r.NewVersion = m[2]
		} else if m := reSessions.FindStringSubmatch(line); m != nil {
			r.Sessions, _ = strconv.Atoi(m[2])
		} else if m := rePhase.FindStringSubmatch(line); m != nil {
			d, err := time.ParseDuration(m[2])
			if err != nil {
				return r, fmt.Errorf("migrate output: phase %s: %w", m[1], err)
			}
			r.Phases = append(r.Phases, Phase{m[1], d})
		} else if m := rePause.FindStringSubmatch(line); m != nil {
			d, err := time.ParseDuration(m[1])
			if err != nil {
				return r, fmt.Errorf("migrate output: pause: %w", err)
			}
			r.Pause, sawPause = d, true
		} else if m := rePrebuilt.FindStringSubmatch(line); m != nil {
			r.Prebuilt, _ = strconv.Atoi(m[1])
		} else if m := reVouched.FindStringSubmatch(line); m != nil {
			r.Unchanged, _ = strconv.Atoi(m[1])
		} else if l, ok := strings.CutPrefix(line, "not carried: "); ok {
			r.NotCarried = append(r.NotCarried, l)
		}
	}
	switch {
	case r.NewPid == 0:
		return r, fmt.Errorf("migrate output: no new pid in %q", out)
	case !slices.Equal(r.phaseNames(), []string{"start", "quiesce", "transfer", "restore", "commit"}) &&
		!slices.Equal(r.phaseNames(), []string{"start", "recheck", "quiesce", "transfer", "restore", "commit"}):
		return r, fmt.Errorf("migrate output: %d phases %v, want start, (recheck,) quiesce, transfer, restore and commit, in %q", len(r.Phases), r.phaseNames(), out)
	case !sawPause:
		return r, fmt.Errorf("migrate output: no pause line in %q", out)
	}
	return r, nil
}
