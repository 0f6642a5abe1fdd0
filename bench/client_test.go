package bench

import (
	"testing"
	"time"
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
	p, inFlight, blackout := c.pause(at(15), at(65), at(40))
	if p != 50*time.Millisecond || !inFlight || !blackout {
		t.Errorf("pause = %v, %v, %v; want 50ms, true, true", p, inFlight, blackout)
	}
	// A window no line overlaps.
	if p, inFlight, _ := c.pause(at(200), at(300), at(250)); p != 0 || inFlight {
		t.Errorf("pause after everything = %v, %v; want 0, false", p, inFlight)
	}
	if first, ok := c.firstAnswerBy(newPid); !ok || !first.Equal(at(70)) {
		t.Errorf("first answer by the new process = %v, %v", first, ok)
	}
	if _, ok := c.firstAnswerBy(999); ok {
		t.Errorf("an answer from a process that never answered")
	}
}
