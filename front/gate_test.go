package front

import (
	"context"
	"testing"
	"time"
)

// TestGateBudget: an address gets burst checks at once, then one every
// refill; a right password gives its token back; addresses are apart.
func TestGateBudget(t *testing.T) {
	g := newGate(1, 3, time.Second)
	now := time.Unix(1e9, 0)
	for i := range 3 {
		if wait := g.take("a", now); wait != 0 {
			t.Fatalf("check %d of the burst waits %v", i+1, wait)
		}
	}
	if wait := g.take("a", now); wait != time.Second {
		t.Fatalf("past the burst: wait %v, want 1s", wait)
	}
	if wait := g.take("b", now); wait != 0 {
		t.Fatalf("another address waits %v", wait)
	}
	if wait := g.take("a", now.Add(500*time.Millisecond)); wait != 500*time.Millisecond {
		t.Fatalf("half a refill later: wait %v, want 500ms", wait)
	}
	if wait := g.take("a", now.Add(time.Second)); wait != 0 {
		t.Fatalf("a refill later: wait %v", wait)
	}
	g.refund("a") // that check's password was right
	if wait := g.take("a", now.Add(time.Second)); wait != 0 {
		t.Fatalf("after a refund: wait %v", wait)
	}
}

// TestGateSlots: a check waits for a free slot, and gives up when its
// context ends.
func TestGateSlots(t *testing.T) {
	g := newGate(1, 100, time.Second)
	release, err := g.enter(context.Background(), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	entered := make(chan error, 1)
	go func() { // ends when enter returns: at the slot's release or cancel
		r, err := g.enter(ctx, "127.0.0.2:1")
		if err == nil {
			r(false)
		}
		entered <- err
	}()
	select {
	case err := <-entered:
		t.Fatalf("a second check entered while the only slot was taken (err %v)", err)
	case <-time.After(50 * time.Millisecond): // it must still be waiting: a bound on a failure, not on success
	}
	cancel()
	if err := <-entered; err == nil {
		t.Fatal("a cancelled wait entered")
	}
	release(true)
	r, err := g.enter(context.Background(), "127.0.0.2:1")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r(true)
}

func TestGateForgets(t *testing.T) {
	g := newGate(1, 2, time.Second)
	now := time.Unix(1e9, 0)
	for i := range maxBudgets {
		g.take(string(rune(i)), now)
	}
	g.take("late", now.Add(time.Hour))
	if len(g.addrs) != 1 {
		t.Fatalf("%d budgets kept, want only the new one: the others had refilled", len(g.addrs))
	}
}
