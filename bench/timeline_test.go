package bench

import (
	"testing"
	"time"
)

func TestWindowWidth(t *testing.T) {
	tests := []struct {
		total, want time.Duration
	}{
		{0, 10 * time.Millisecond},
		{150 * time.Millisecond, 10 * time.Millisecond},
		{220 * time.Millisecond, 20 * time.Millisecond},
		{3 * time.Second, 200 * time.Millisecond},
		{40 * time.Second, 2 * time.Second},
		{time.Hour, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := windowWidth(tt.total); got != tt.want {
			t.Errorf("windowWidth(%v) = %v, want %v", tt.total, got, tt.want)
		}
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// A 2 s migration (100 ms windows) whose last 300 ms are the pause,
	// after a recheck of 250 ms.
	migStart, recheckFrom, pauseFrom, migEnd, end := at(0), at(1450), at(1700), at(2000), at(2200)
	lines := []sentLine{
		{at(-250), ms(1)}, // before the first window: left out
		{at(-150), ms(2)}, // window 0, before
		{at(50), ms(3)},   // window 2, start
		{at(60), ms(5)},   // window 2
		{at(1500), ms(7)}, // window 17, recheck
		{at(1750), ms(250)},
		{at(2150), ms(4)},
		{at(2200), ms(9)}, // at end: left out
	}
	got := timeline(lines, migStart, recheckFrom, pauseFrom, migEnd, end)
	if len(got) != 24 {
		t.Fatalf("%d windows, want 24 (from -200 ms to 2200 ms)", len(got))
	}
	checks := []struct {
		i     int
		from  time.Duration
		phase string
		n     int
		max   time.Duration
	}{
		{0, ms(-200), phaseBefore, 1, ms(2)},
		{1, ms(-100), phaseBefore, 0, 0},
		{2, 0, phaseStart, 2, ms(5)},
		{15, ms(1300), phaseStart, 0, 0},
		{16, ms(1400), phaseRecheck, 0, 0},
		{17, ms(1500), phaseRecheck, 1, ms(7)},
		{18, ms(1600), phaseRecheck, 0, 0},
		{19, ms(1700), phasePause, 1, ms(250)},
		{21, ms(1900), phasePause, 0, 0},
		{22, ms(2000), phaseAfter, 0, 0},
		{23, ms(2100), phaseAfter, 1, ms(4)},
	}
	for _, c := range checks {
		w := got[c.i]
		if w.From != c.from || w.Phase != c.phase || w.Lines.N != c.n || w.Lines.Max != c.max {
			t.Errorf("window %d = %+v, want from %v, %s, %d lines, max %v", c.i, w, c.from, c.phase, c.n, c.max)
		}
	}
}
