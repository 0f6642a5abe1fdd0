package repl

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"translucent/namespace"
)

// liveFile is a snapshot file of one session whose namespace holds a
// pointer shared by two variables, a map and a value that cannot be
// carried.
func liveFile(t testing.TB) *SnapshotFile {
	ns := namespace.New(namespace.Options{})
	defer ns.Close()
	for _, src := range []string{
		`type P struct{ X, Y int }`, `p := &P{1, 2}`, `q := p`, `m := map[string]int{"a": 1}`, `ch := make(chan int)`,
	} {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	snap, lost, err := ns.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return &SnapshotFile{
		Format: SnapshotFormat, Version: SnapshotFileVersion, Taken: time.Now(), Pid: 1, ServerVersion: "test",
		Sessions: []SessionState{{Version: StateVersion, ID: 7, User: "ann", Namespace: &snap, Lost: lost}},
	}
}

func encodeFile(t testing.TB, f *SnapshotFile) []byte {
	var b bytes.Buffer
	if err := WriteSnapshotFile(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSnapshotFileRoundTripAndVerify(t *testing.T) {
	data := encodeFile(t, liveFile(t))
	f, err := ReadSnapshotFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	checks := f.Verify(Config{Version: "test"})
	if len(checks) != 1 || checks[0].Err != nil || checks[0].Vars != 4 || checks[0].ID != 7 {
		t.Fatalf("verify: %+v", checks)
	}
	if len(checks[0].Lost) != 1 || !strings.Contains(checks[0].Lost[0], "ch") {
		t.Fatalf("lost: %q", checks[0].Lost)
	}
}

func TestSnapshotFileErrors(t *testing.T) {
	good := encodeFile(t, liveFile(t))
	other := liveFile(t)
	other.Version = 99
	dup := liveFile(t)
	dup.Sessions = append(dup.Sessions, dup.Sessions[0])
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("hello, world\n"), "not a translucent snapshot file"},
		{"truncated", good[:len(good)/2], "corrupt or truncated"},
		{"newer version", encodeFile(t, other), "file version 99"},
		{"duplicate session", encodeFile(t, dup), "session 7 twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSnapshotFile(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestVerifyReportsABrokenNamespace(t *testing.T) {
	f := liveFile(t)
	f.Sessions[0].Namespace.Journal = append(f.Sessions[0].Namespace.Journal, "func broken() { undefined() }")
	checks := f.Verify(Config{})
	if checks[0].Err == nil {
		t.Fatal("a journal that does not compile restored")
	}
}

// FuzzSnapshotFile feeds hostile files to the reader and, when one reads,
// to the dry run's restore: an error is fine, a panic or a hang is not.
func FuzzSnapshotFile(f *testing.F) {
	good := encodeFile(f, liveFile(f))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{0xa1})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := ReadSnapshotFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		sf.Verify(Config{})
	})
}
