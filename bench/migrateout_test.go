package bench

import (
	"strings"
	"testing"
	"time"

	"translucent/telnet"
)

// readmeOutput is the migrate command's output as the README shows it.
const readmeOutput = `migrating pid 4242 (v1 (go1.26.8)) to /home/me/translucent/translucent
old pid 4242 (v1 (go1.26.8))
new pid 4251 (v2 (go1.26.8))
new pid 4251, 1 sessions
  start     84.386ms
  recheck   187µs
  quiesce   223µs
  transfer  63µs
  restore   441µs
  commit    22µs
longest pause a session saw: 750µs
namespaces restored before the pause: 1 of 1
namespaces found unchanged before the pause (not snapshotted in it): 1
`

func TestParseMigrateOutput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    MigrateReport
		wantErr string
	}{
		{
			name: "readme",
			in:   readmeOutput,
			want: MigrateReport{
				OldPid: 4242, OldVersion: "v1 (go1.26.8)", NewPid: 4251, NewVersion: "v2 (go1.26.8)", Sessions: 1,
				Phases: []Phase{
					{"start", 84386 * time.Microsecond}, {"recheck", 187 * time.Microsecond}, {"quiesce", 223 * time.Microsecond},
					{"transfer", 63 * time.Microsecond}, {"restore", 441 * time.Microsecond},
					{"commit", 22 * time.Microsecond},
				},
				Pause:     750 * time.Microsecond,
				Prebuilt:  1,
				Unchanged: 1,
			},
		},
		{
			name: "seconds, zero, not carried, CRLF",
			in: strings.ReplaceAll(`old pid 1 (a)
new pid 2 (b)
new pid 2, 10000 sessions
  start     1.5s
  recheck   250ms
  quiesce   0s
  transfer  2m3s
  restore   12.000001s
  commit    1ns
longest pause a session saw: 2m15.5s
namespaces restored before the pause: 9998 of 10000
namespaces found unchanged before the pause (not snapshotted in it): 9000
not carried: session 3: c (chan int)
not carried: session 4: f (func())
`, "\n", "\r\n"),
			want: MigrateReport{
				OldPid: 1, OldVersion: "a", NewPid: 2, NewVersion: "b", Sessions: 10000,
				Phases: []Phase{
					{"start", 1500 * time.Millisecond}, {"recheck", 250 * time.Millisecond}, {"quiesce", 0},
					{"transfer", 123 * time.Second}, {"restore", 12*time.Second + time.Microsecond},
					{"commit", time.Nanosecond},
				},
				Pause:      135500 * time.Millisecond,
				Prebuilt:   9998,
				Unchanged:  9000,
				NotCarried: []string{"session 3: c (chan int)", "session 4: f (func())"},
			},
		},
		{name: "empty", in: "", wantErr: "no new pid"},
		{name: "only the start line (a failed migration)", in: "migrating pid 1 (a) to /x\n", wantErr: "no new pid"},
		{name: "a phase missing", in: strings.Replace(readmeOutput, "  commit    22µs\n", "", 1), wantErr: "5 phases"},
		{name: "recheck out of place", in: strings.Replace(strings.Replace(readmeOutput, "  recheck   187µs\n", "", 1), "  commit    22µs\n", "  commit    22µs\n  recheck   187µs\n", 1), wantErr: "6 phases"},
		{name: "no pause", in: strings.Replace(readmeOutput, "longest pause a session saw: 750µs\n", "", 1), wantErr: "no pause"},
		{name: "bad phase duration", in: strings.Replace(readmeOutput, "223µs", "223 µs", 1), wantErr: "5 phases"},
		{name: "bad pause duration", in: strings.Replace(readmeOutput, "saw: 750µs", "saw: soon", 1), wantErr: "pause"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMigrateOutput(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalReports(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if got.Phase("restore") != tc.want.Phases[len(tc.want.Phases)-2].Duration || got.Phase("nosuch") != 0 {
				t.Errorf("Phase lookup wrong")
			}
		})
	}
}

func equalReports(a, b MigrateReport) bool {
	if a.OldPid != b.OldPid || a.OldVersion != b.OldVersion || a.NewPid != b.NewPid || a.NewVersion != b.NewVersion ||
		a.Sessions != b.Sessions || a.Pause != b.Pause || a.Prebuilt != b.Prebuilt || a.Unchanged != b.Unchanged || len(a.Phases) != len(b.Phases) || len(a.NotCarried) != len(b.NotCarried) {
		return false
	}
	for i := range a.Phases {
		if a.Phases[i] != b.Phases[i] {
			return false
		}
	}
	for i := range a.NotCarried {
		if a.NotCarried[i] != b.NotCarried[i] {
			return false
		}
	}
	return true
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
