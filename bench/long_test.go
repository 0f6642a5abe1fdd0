package bench

import (
	"slices"
	"testing"
)

func TestLongWindows(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{1, []int{1}},
		{1000, []int{1000}},
		{1500, []int{1000, 1500}},
		{10000, []int{1000, 10000}},
		{25000, []int{1000, 10000, 20000, 25000}},
		{100000, []int{1000, 10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000, 90000, 100000}},
	} {
		if got := longWindows(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("longWindows(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}
