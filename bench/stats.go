package bench

import (
	"slices"
	"time"
)

// Stats summarises a sample of durations.
type Stats struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summarize returns the sample's size, median, 99th percentile and
// maximum. Percentiles are nearest-rank (the smallest value with at least
// p% of the sample at or below it), so every figure is one that was
// measured, never an interpolation. An empty sample gives zero Stats.
func Summarize(d []time.Duration) Stats {
	if len(d) == 0 {
		return Stats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return Stats{N: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	// rank = ceil(p/100 * n), 1-based, in integers to avoid rounding.
	rank := (p*len(sorted) + 99) / 100
	rank = max(rank, 1)
	return sorted[rank-1]
}
