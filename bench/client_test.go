package bench

import (
	"testing"
	"time"

	"translucent/telnet"
)

// TestTallyAndPause checks the exactly-once count and the pause of one
// session from a made-up history of typed lines and answers.
func TestTallyAndPause(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }
	c := newClient(0)
	// Lines 1..6 sent every 10 ms from t0.
	for k := range 6 {
		c.sent = append(c.sent, at(10*k))
	}
	const oldPid, newPid = 100, 200
	c.answers = []answer{
		{k: 1, pid: oldPid, at: at(1)},   // 1 ms, before the migration
		{k: 2, pid: oldPid, at: at(12)},  // 2 ms
		{k: 3, pid: newPid, at: at(70)},  // 50 ms: sent at 20, in flight across the migration
		{k: 4, pid: newPid, at: at(71)},  // 41 ms
		{k: 4, pid: newPid, at: at(72)},  // a duplicate
		{k: 6, pid: newPid, at: at(100)}, // 50 ms, sent after the migration
		// line 5 is never answered
	}
	c.nUnexpect = 1

	got := c.tally(oldPid, newPid)
	want := lineTally{sent: 6, answered: 5, duplicated: 1, lost: 1, unexpected: 1, byOld: 2, byNew: 4}
	if got != want {
		t.Errorf("tally = %+v, want %+v", got, want)
	}

	// The migrate command ran from 15 ms to 65 ms; the server paused from
	// 40 ms.
	if p, ok := c.longestInFlight(at(15), at(65)); p != 50*time.Millisecond || !ok {
		t.Errorf("longest in flight during the migration = %v, %v; want 50ms, true", p, ok)
	}
	// During the pause only lines 3 and 4 were in flight.
	if p, ok := c.longestInFlight(at(40), at(65)); p != 50*time.Millisecond || !ok {
		t.Errorf("longest in flight during the pause = %v, %v; want 50ms, true", p, ok)
	}
	// A window no line overlaps.
	if p, ok := c.longestInFlight(at(200), at(300)); p != 0 || ok {
		t.Errorf("longest in flight after everything = %v, %v; want 0, false", p, ok)
	}
	// Sent and answered within [0, 15]: lines 1 and 2; after 65: line 6.
	if d := c.latenciesWithin(at(0), at(15)); len(d) != 2 || d[0] != time.Millisecond || d[1] != 2*time.Millisecond {
		t.Errorf("latencies before the migration = %v", d)
	}
	if d := c.latenciesWithin(at(45), at(1000)); len(d) != 1 || d[0] != 50*time.Millisecond {
		t.Errorf("latencies after the migration = %v", d)
	}
	if first, ok := c.firstAnswerBy(newPid); !ok || !first.Equal(at(70)) {
		t.Errorf("first answer by the new process = %v, %v", first, ok)
	}
	if _, ok := c.firstAnswerBy(999); ok {
		t.Errorf("an answer from a process that never answered")
	}
}

func TestIACStripper(t *testing.T) {
	// WILL ECHO, an escaped 255, SB NAWS ... SE, a two-byte NOP, text.
	stream := []byte{255, 251, 1, 'a', 255, 255, 'b', 255, 250, 31, 0, 80, 255, 255, 0, 24, 255, 240, 'c', 255, 241, 'd'}
	want := "a\xffbcd"
	// Every split of the stream into two reads gives the same text.
	for cut := 0; cut <= len(stream); cut++ {
		var st telnet.ClientDecoder
		got, _ := st.Feed(nil, nil, stream[:cut])
		got, _ = st.Feed(got, nil, stream[cut:])
		if string(got) != want {
			t.Errorf("cut at %d: got %q, want %q", cut, got, want)
		}
	}
}
