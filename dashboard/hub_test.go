package dashboard

import (
	"testing"
)

// A stream whose client does not read misses events, counted, and never
// holds the publisher; Close delivers what a stream holds, then ends it.
func TestHubSlowStream(t *testing.T) {
	h := NewHub()
	if h.Listening() {
		t.Error("a hub without streams is listening")
	}
	slow, leaveSlow := h.subscribe()
	if !h.Listening() {
		t.Error("a hub with a stream is not listening")
	}
	defer leaveSlow()
	for i := range streamQueue + 10 {
		h.Publish("phase", i) // would block forever if a full queue held it
	}
	if got := slow.dropped.Load(); got != 10 {
		t.Errorf("slow stream dropped %d events, want 10", got)
	}
	if got := h.Dropped(); got != 10 {
		t.Errorf("hub counted %d dropped, want 10", got)
	}
	fresh, leaveFresh := h.subscribe()
	defer leaveFresh()
	h.Publish("outcome", map[string]bool{"ok": true})
	h.Close()
	n := 0
	for range slow.c {
		n++
	}
	if n != streamQueue {
		t.Errorf("slow stream delivered %d events after Close, want its queue of %d", n, streamQueue)
	}
	m, ok := <-fresh.c
	if v, _ := m.v.(map[string]bool); !ok || m.event != "outcome" || !v["ok"] {
		t.Errorf("fresh stream got %q %v (open %v), want the outcome", m.event, m.v, ok)
	}
	if _, ok := <-fresh.c; ok {
		t.Error("fresh stream still open after Close")
	}
	late, _ := h.subscribe()
	if _, ok := <-late.c; ok {
		t.Error("a stream opened after Close is open")
	}
	h.Publish("phase", 1) // after Close: goes nowhere, does not panic
	var none *Hub
	none.Publish("phase", 1)
	none.Close()
}

// Leaving twice, or after Close, is harmless.
func TestHubLeave(t *testing.T) {
	h := NewHub()
	_, leave := h.subscribe()
	leave()
	leave()
	_, leave2 := h.subscribe()
	h.Close()
	leave2()
}
