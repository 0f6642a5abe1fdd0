package bench

import (
	"os"
	"testing"
	"time"
)

func TestSpread(t *testing.T) {
	got := spread(10*time.Second, 4)
	want := []time.Duration{1250 * time.Millisecond, 3750 * time.Millisecond, 6250 * time.Millisecond, 8750 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("spread: %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("spread: %v, want %v", got, want)
		}
	}
	if len(spread(time.Second, 0)) != 0 {
		t.Error("spread of 0 events is not empty")
	}
}

// TestWorkersNone: the test binary's children are no workers.
func TestWorkersNone(t *testing.T) {
	if ws := workers(os.Getpid()); len(ws) != 0 {
		t.Errorf("workers of the test: %v", ws)
	}
}
