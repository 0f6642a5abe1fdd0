package namespace

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// snapshotAfter evaluates srcs in a new namespace and returns its snapshot
// as another process decodes it.
func snapshotAfter(t testing.TB, srcs ...string) Snapshot {
	t.Helper()
	ns := New(Options{})
	defer ns.Close()
	for _, src := range srcs {
		if _, err := ns.Eval(context.Background(), src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
	}
	_, snap, _ := carry(t, ns)
	return snap
}

func encode(t testing.TB, s Snapshot) []byte {
	t.Helper()
	b, err := cbor.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Update brings a namespace restored from one snapshot to another of the
// same shape, as Restore of the other would; it refuses one of another
// shape and leaves the namespace as it was.
func TestUpdate(t *testing.T) {
	common := append([]string(nil), typicalSession...)
	tests := []struct {
		name   string
		before []string // after common, in the namespace restored first
		after  []string // after common, in the snapshot Update applies
		err    error
	}{
		{"values change", nil, []string{"count = 7", `names = append(names, "cy")`, `users["bob"] = &User{Name: "Bob"}`, "me = nil"}, nil},
		{"nothing changes", nil, nil, nil},
		{"shared pointers", []string{"a := &User{Name: \"a\"}", "b := a"}, []string{"a := &User{Name: \"a\"}", "b := a", `a.Name = "z"`}, nil},
		{"a value back to zero", []string{"z := 5"}, []string{"z := 0"}, nil},
		{"a new variable", nil, []string{"extra := 1"}, ErrReshaped},
		{"a new function", nil, []string{"func f() int { return 1 }"}, ErrReshaped},
		{"a new type of a variable", []string{"v := 1"}, []string{`v := "one"`}, ErrReshaped},
		{"an error value", []string{"var e error"}, []string{"var e error", `e = fmt.Errorf("x")`}, nil},
		{"a value of a dynamic type", []string{"var a any"}, []string{"var a any", `a = User{Name: "x"}`}, ErrReshaped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := snapshotAfter(t, append(common, tt.before...)...)
			next := snapshotAfter(t, append(common, tt.after...)...)
			ns, err := Restore(Options{}, base)
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Close()
			rev, _ := ns.Revision()
			err = ns.Update(base, next)
			if !errors.Is(err, tt.err) || (err != nil && tt.err == nil) {
				t.Fatalf("Update: %v, want %v", err, tt.err)
			}
			_, got, _ := carry(t, ns)
			want := next
			if err != nil {
				want = base // refused: as it was
			} else if r, _ := ns.Revision(); r == rev {
				t.Error("Update left the revision as it was")
			}
			if !bytes.Equal(encode(t, got), encode(t, want)) {
				t.Errorf("after Update the namespace snapshots as\n%+v\nwant\n%+v", got, want)
			}
			if err == nil {
				// It still evaluates, with the values it was given.
				if _, err := ns.Eval(context.Background(), "count + len(names)"); err != nil {
					t.Errorf("evaluating after Update: %v", err)
				}
			}
		})
	}
}

// BenchmarkUpdate beside BenchmarkRestore: what the pause saves on a
// namespace whose values changed after it was restored ahead.
func BenchmarkUpdate(b *testing.B) {
	base := snapshotAfter(b, typicalSession...)
	next := snapshotAfter(b, append(typicalSession, "count = 7", `names = append(names, "cy")`)...)
	ns, err := Restore(Options{}, base)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := ns.Update(base, next); err != nil {
			b.Fatal(err)
		}
	}
}
