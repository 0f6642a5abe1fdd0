package front

import (
	"strings"
	"testing"
)

func TestParseMemAvailable(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		ok       bool
	}{
		{"linux", "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n", 20000000 << 10, true},
		{"missing (old kernels)", "MemTotal:       24576000 kB\nMemFree:         1000 kB\n", 0, false},
		{"not a number", "MemAvailable:   lots kB\n", 0, false},
		{"other unit", "MemAvailable:   20000000 MB\n", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseMemAvailable(strings.NewReader(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: parseMemAvailable = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
