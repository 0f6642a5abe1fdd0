package worker

import (
	"bytes"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// TestCheckpointDigest: a worker's checkpoint is named by the digest that
// a snapshot of the same namespace has (namespace.Snapshot.Digest), which
// is what lets a migration name a namespace built ahead, in a worker or
// not, instead of sending it again.
func TestCheckpointDigest(t *testing.T) {
	pl := testPool(t, Config{})
	s := openSession(t, pl)
	s.mustEval("type P struct{ X int }", "")
	s.mustEval("p := &P{41}", "")
	var state, sum []byte
	waitFor(t, "the checkpoint of the last line", func() bool {
		var ok bool
		state, sum, _, ok = s.ns.Checkpoint()
		return ok
	})
	var snap namespace.Snapshot
	if err := cbor.Unmarshal(state, &snap); err != nil {
		t.Fatal(err)
	}
	if d := snap.Digest(); !bytes.Equal(sum, d) {
		t.Errorf("checkpoint digest %x, snapshot digest %x", sum, d)
	}
}

// TestCollect: Collect has each worker collect its garbage and waits for
// its answer (it would wait a minute for one that does not answer, and
// the test would end first), one worker after another; the sessions go
// on as they were.
func TestCollect(t *testing.T) {
	defer func(d time.Duration) { collectWait = d }(collectWait)
	collectWait = time.Hour
	pl := testPool(t, Config{}) // a worker each
	a, b := openSession(t, pl), openSession(t, pl)
	a.mustEval("x := 7", "")
	b.mustEval("y := 8", "")
	if a.pid() == b.pid() {
		t.Fatal("one worker for two sessions; want one each")
	}
	pl.Collect()
	a.mustEval("x", "7")
	b.mustEval("y", "8")
}
