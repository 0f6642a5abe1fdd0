package namespace

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDigestAndSameValues: snapshots of namespaces that hold the same
// digest alike; a changed value or variable changes the digest, and
// SameValues says what differs.
func TestDigestAndSameValues(t *testing.T) {
	snapOf := func(src ...string) *Snapshot {
		t.Helper()
		ns := New(Options{})
		defer ns.Close()
		for _, line := range src {
			if _, err := ns.Eval(context.Background(), line); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		}
		s, _, err := ns.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return &s
	}
	base := snapOf("type P struct{ X int }", "p := &P{1}", "q := p")
	tests := []struct {
		name    string
		other   *Snapshot
		same    bool
		differs string // in SameValues' error
	}{
		{"the same lines", snapOf("type P struct{ X int }", "p := &P{1}", "q := p"), true, ""},
		{"a value changed", snapOf("type P struct{ X int }", "p := &P{2}", "q := p"), false, "values changed"},
		{"a variable more", snapOf("type P struct{ X int }", "p := &P{1}", "q := p", "r := 1"), false, "2 variables, 3 after"},
		{"another type", snapOf("type P struct{ X int }", "p := &P{1}", "q := 1"), false, "came back as"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := base.Digest(); d == nil || bytes.Equal(d, tt.other.Digest()) != tt.same {
				t.Errorf("digests %x and %x, want the same: %v", d, tt.other.Digest(), tt.same)
			}
			err := base.SameValues(tt.other)
			if tt.same && err != nil {
				t.Errorf("SameValues: %v", err)
			}
			if !tt.same && (err == nil || !strings.Contains(err.Error(), tt.differs)) {
				t.Errorf("SameValues: %v, want %q in it", err, tt.differs)
			}
		})
	}
}
