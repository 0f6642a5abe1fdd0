package bench

import (
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func seq(from, to int) []time.Duration {
	var d []time.Duration
	for i := from; i <= to; i++ {
		d = append(d, ms(i))
	}
	return d
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"one", []time.Duration{ms(7)}, Stats{N: 1, P50: ms(7), P99: ms(7), Max: ms(7)}},
		{"two", []time.Duration{ms(9), ms(1)}, Stats{N: 2, P50: ms(1), P99: ms(9), Max: ms(9)}},
		// Nearest rank: p50 of 1..100 is the 50th value, p99 the 99th.
		{"1 to 100", seq(1, 100), Stats{N: 100, P50: ms(50), P99: ms(99), Max: ms(100)}},
		// 1..101: p50 rank ceil(50.5) = 51, p99 rank ceil(99.99) = 100.
		{"1 to 101", seq(1, 101), Stats{N: 101, P50: ms(51), P99: ms(100), Max: ms(101)}},
		// With fewer than 100 values p99 is the maximum.
		{"1 to 10", seq(1, 10), Stats{N: 10, P50: ms(5), P99: ms(10), Max: ms(10)}},
		{"unsorted with repeats", []time.Duration{ms(3), ms(1), ms(3), ms(2)}, Stats{N: 4, P50: ms(2), P99: ms(3), Max: ms(3)}},
		{"one outlier in 1000", append(seq(1, 999), ms(60000)), Stats{N: 1000, P50: ms(500), P99: ms(990), Max: ms(60000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Summarize reordered its argument")
				}
			}
		})
	}
}
