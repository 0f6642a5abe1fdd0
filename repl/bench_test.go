package repl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"translucent/namespace"
)

// benchState is a session record like the bench's: a namespace with
// strings, sort, fmt and os imported, a struct type and ten variables,
// and a history of typed lines.
func benchState(b *testing.B) SessionState {
	ns := namespace.New(namespace.Options{})
	b.Cleanup(func() { ns.Close() })
	for _, src := range []string{
		`import "os"`, `import "strings"`, `import "sort"`, `import "fmt"`,
		"type Point struct { X, Y int; Label string }",
		"base := 1000000", "x := 41", `m := map[string]int{"one": 1, "two": 2, "three": 3}`,
		"l3 := []int{1, 2, 3, 3}", "v4 := 4", `s5 := "ababababab"`, `p6 := Point{X: 6, Y: 1, Label: "p"}`,
		"l7 := []int{1, 2, 3, 7}", "v8 := 8", `s9 := "ababababababababab"`,
	} {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			b.Fatalf("%s: %v", src, err)
		}
	}
	snap, _, err := ns.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	st := SessionState{Version: StateVersion, ID: 1, User: "bench", Since: time.Now(), Addr: "127.0.0.1:4242", Namespace: &snap}
	for k := range historySize {
		st.History = append(st.History, fmt.Sprintf("[2]int{base + %d, os.Getpid()}", k))
	}
	return st
}

// BenchmarkSessionRecordEncode is what Export does per session after the
// namespace snapshot: CBOR of the whole session record.
func BenchmarkSessionRecordEncode(b *testing.B) {
	st := benchState(b)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, err := cbor.Marshal(st)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkSessionRecordDecode is what Adopt does per session before
// restoring the namespace: decoding and checking the record.
func BenchmarkSessionRecordDecode(b *testing.B) {
	data, err := cbor.Marshal(benchState(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeSessionState(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionRestore is the CPU of adopting one of the bench's
// sessions in the new process, its socket aside: decoding the record and
// restoring the namespace (replaying four imports and a type, setting ten
// variables). A migration pays it in the pause for every namespace the
// precopy could not reuse.
func BenchmarkSessionRestore(b *testing.B) {
	data, err := cbor.Marshal(benchState(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := decodeSessionState(data)
		if err != nil {
			b.Fatal(err)
		}
		ns, err := namespace.Restore(namespace.Options{}, *st.Namespace)
		if err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}

// BenchmarkReceive is what the new process does in the pause for each
// session whose namespace it built ahead (the record names it by its
// digest, and carries its lists as tails): decode the record, take the
// connection's descriptor, rebuild the session. Its descriptors are made
// first (loopback TCP, as another process receives them): run it with
// -benchtime Nx, N within a third of the descriptor limit.
func BenchmarkReceive(b *testing.B) {
	h := newTestHost(b, Config{})
	st := benchState(b)
	skip := len(st.History) - 10
	st.Namespace, st.HistorySkip, st.History = nil, &skip, st.History[skip:]
	st.HistorySkip = nil // no precopy's lists here: a short history, whole
	data, err := cbor.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	files := receivedTCP(b, b.N)
	sessions := make([]*Session, 0, b.N)
	none := func(uint64) *Prebuilt { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sess, _, err := Receive(h, &h.cfg, data, files[i], none)
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, sess)
	}
	b.StopTimer()
	for _, sess := range sessions {
		sess.Discard()
	}
}
