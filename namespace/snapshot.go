package namespace

import (
	"context"
	"fmt"
)

// Snapshot is a namespace as plain data, for another process: the journal
// of declarations, replayed in order by Restore.
//
// This first version carries declarations only; variable values are
// reported as not carried.
type Snapshot struct {
	Journal []string
}

// Snapshot returns ns as plain data and names what it could not carry.
func (ns *Namespace) Snapshot() (Snapshot, []string, error) {
	var lost []string
	for _, v := range ns.Vars() {
		lost = append(lost, fmt.Sprintf("%s (%s): variable values are not carried yet", v.Name, v.Type))
	}
	return Snapshot{Journal: ns.Journal()}, lost, nil
}

// Restore builds a namespace from s by replaying its journal.
func Restore(opts Options, s Snapshot) (*Namespace, error) {
	ns := New(opts)
	for _, src := range s.Journal {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			ns.Close()
			return nil, fmt.Errorf("replaying %q: %w", src, err)
		}
	}
	return ns, nil
}
