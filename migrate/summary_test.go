package migrate

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	sum := Summary{
		OldPid: 4242, OldVersion: "v1 (go1.26.8)", Binary: "/bin/translucent",
		NewPid: 4251, NewVersion: "v2 (go1.26.8)", Sessions: 2,
		Phases: []Phase{
			{"start", 84386 * time.Microsecond}, {"recheck", 187 * time.Microsecond}, {"quiesce", 223 * time.Microsecond},
			{"transfer", 63 * time.Microsecond}, {"restore", 441 * time.Microsecond}, {"commit", 22 * time.Microsecond},
		},
		Pause:      750 * time.Microsecond,
		NotCarried: []string{"session 2: ch (chan int): channels cannot be carried"},
		Prebuilt:   2, Unchanged: 2, Updates: 1,
	}
	const want = `migrating pid 4242 (v1 (go1.26.8)) to /bin/translucent
old pid 4242 (v1 (go1.26.8))
new pid 4251 (v2 (go1.26.8))
new pid 4251, 2 sessions
  start     84.386ms
  recheck   187µs
  quiesce   223µs
  transfer  63µs
  restore   441µs
  commit    22µs
longest pause a session saw: 750µs
not carried: session 2: ch (chan int): channels cannot be carried
namespaces restored before the pause: 2 of 2
namespaces found unchanged before the pause (not snapshotted in it): 2
namespace updates sent before the pause (changed since the precopy): 1
`
	if got := sum.String(); got != want {
		t.Errorf("String():\n%s\nwant:\n%s", got, want)
	}
	if sum.Heading()+sum.Body() != sum.String() {
		t.Error("Heading and Body are not String")
	}
	if got := sum.Phase("restore"); got != 441*time.Microsecond {
		t.Errorf("Phase(restore) = %v", got)
	}
	if got := sum.Phase("nosuch"); got != 0 {
		t.Errorf("Phase(nosuch) = %v, want 0", got)
	}

	// The JSON that tools read: field names, durations in nanoseconds.
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for _, k := range []string{"old_pid", "old_version", "binary", "new_pid", "new_version", "sessions", "phases", "pause_ns", "not_carried", "prebuilt", "unchanged", "updates"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if p := fields["phases"].([]any)[0].(map[string]any); p["name"] != "start" || p["ns"] != float64(84386000) {
		t.Errorf("first phase in JSON = %v", p)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, sum) {
		t.Errorf("JSON round trip: %v\n%+v\nwant %+v", err, back, sum)
	}

	// Without a precopy there is nothing to say about it.
	sum.Prebuilt, sum.Unchanged = 0, 0
	if got := sum.Body(); strings.Contains(got, "namespaces") {
		t.Errorf("Body without a precopy mentions namespaces:\n%s", got)
	}
}
