package namespace

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Digest is the SHA-256 of the snapshot's CBOR encoding, nil if it has
// none. Two processes that hold snapshots of the same digest hold the
// same namespace: a migration names a namespace the new process built
// ahead by its digest rather than sending it again. A worker's
// checkpoint is the same encoding, so its digest is comparable.
func (s *Snapshot) Digest() []byte {
	b, err := cbor.Marshal(s)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// SameValues reports how t's variables and values differ from s's, if
// they do: what a dry run checks of a namespace restored and snapshotted
// again. The journals may differ (a replay normalises them).
func (s *Snapshot) SameValues(t *Snapshot) error {
	type values struct {
		Vars  []SnapshotVar
		Types []string
		Nodes []Node
	}
	es, err := cbor.Marshal(values{s.Vars, s.Types, s.Nodes})
	if err != nil {
		return err
	}
	et, err := cbor.Marshal(values{t.Vars, t.Types, t.Nodes})
	if err != nil {
		return err
	}
	if bytes.Equal(es, et) {
		return nil
	}
	if len(s.Vars) != len(t.Vars) {
		return fmt.Errorf("re-encodes differently: %d variables, %d after the restore", len(s.Vars), len(t.Vars))
	}
	for i := range s.Vars {
		if s.Vars[i].Name != t.Vars[i].Name || s.Vars[i].Type != t.Vars[i].Type {
			return fmt.Errorf("re-encodes differently: %s %s came back as %s %s", s.Vars[i].Name, s.Vars[i].Type, t.Vars[i].Name, t.Vars[i].Type)
		}
	}
	return errors.New("re-encodes differently: the values changed in the restore")
}
