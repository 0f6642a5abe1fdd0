package bench

import (
	"strings"
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
	c.rolledBack, c.notices = 1, 2 // line 5's answer, as a worker's end would give it

	got := c.tally(oldPid, newPid)
	want := lineTally{sent: 6, answered: 5, duplicated: 1, lost: 1, unexpected: 1, rolledBack: 1, notices: 2, byOld: 2, byNew: 4}
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

// TestRecord files answers as the server prints them: a typed line's
// value, a line rolled back by its worker's end, a notice glued to the
// next answer, and text that is no typed line's.
func TestRecord(t *testing.T) {
	c := newClient(2) // base 3,000,000
	t0 := time.Unix(1000, 0)
	for range 4 {
		c.sent = append(c.sent, t0)
	}
	for _, text := range []string{
		"[2]int{3000001, 4242}\r\n",
		rollbackPrefix + " SIGTRAP: trace trap. The session is restored as it was before this line.\r\n",
		noticePrefix + "this session's worker process ended: SIGTRAP: trace trap. The session is restored as it was after its last line.\r\n[2]int{3000003, 4243}\r\n",
		"[2]int{2000004, 4243}\r\n", // another session's base
	} {
		c.record(text, t0.Add(time.Millisecond))
	}
	if len(c.answers) != 2 || c.answers[0] != (answer{k: 1, pid: 4242, at: t0.Add(time.Millisecond)}) || c.answers[1].k != 3 || c.answers[1].pid != 4243 {
		t.Errorf("answers %+v", c.answers)
	}
	if c.rolledBack != 1 || c.notices != 1 || c.nUnexpect != 1 || len(c.unexpected) != 1 {
		t.Errorf("rolled back %d, notices %d, unexpected %d %q", c.rolledBack, c.notices, c.nUnexpect, c.unexpected)
	}
	if c.repliesLocked() != 4 {
		t.Errorf("%d replies to 4 lines", c.repliesLocked())
	}
	tl := c.tally(4242, 4243)
	if tl.answered != 2 || tl.lost != 2 || tl.rolledBack != 1 || tl.byOld != 1 || tl.byNew != 1 {
		t.Errorf("tally %+v", tl)
	}
	if got := c.typedLine(7); got != "[2]int{base + 7, sys.Pid}\n" {
		t.Errorf("typed line %q: the serving process is sys.Pid", got)
	}
}

func TestStripNotices(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		notices  int
	}{
		{"42\r\n", "42", 0},
		{"", "", 0},
		{noticePrefix + "this session's worker process ended: x.\r\n", "", 1},
		{noticePrefix + "a\r\n" + noticePrefix + "b\r\nline 1\r\nline 2\r\n", "line 1\nline 2", 2},
		{"fmt.Println(\"" + noticePrefix + "\")", "fmt.Println(\"" + noticePrefix + "\")", 0}, // not at a line's start
	} {
		got, n := stripNotices(tc.in)
		if got != tc.want || n != tc.notices {
			t.Errorf("stripNotices(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.notices)
		}
	}
}

// TestGreetingPid finds the serving process in the greeting, with and
// without a worker.
func TestGreetingPid(t *testing.T) {
	for _, g := range []string{
		"translucent bench-v1 (go1.26.8), pid 8540. Type Go, or :help.\r\n",
		"translucent bench-v1 (go1.26.8), pid 8540 (your code runs in worker 8549). Type Go, or :help.\r\n",
	} {
		if m := rePid.FindStringSubmatch(g); m == nil || m[1] != "8540" {
			t.Errorf("%q: pid %v, want 8540", g, m)
		}
	}
	if strings.Contains(rollbackPrefix, "\n") || !strings.HasSuffix(noticePrefix, " ") {
		t.Errorf("prefixes %q, %q", rollbackPrefix, noticePrefix)
	}
}

// With Options.Assign the typed line changes the namespace and still
// answers as the plain one does.
func TestTypedLineAssign(t *testing.T) {
	c := newClient(2)
	c.assign = true
	got := c.typedLine(7)
	if !strings.Contains(got, `m["last"] = base + 7`) || !strings.HasSuffix(got, ", sys.Pid}\n") {
		t.Errorf("typedLine(7) with assign = %q", got)
	}
}
