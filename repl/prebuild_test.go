package repl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// restoreOnPipe restores st in srv on one end of a pipe, both ended with
// the test.
func restoreOnPipe(t *testing.T, srv *Server, st SessionState) *Session {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	sess, err := srv.restore(st, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Discard)
	return sess
}

// A namespace built ahead is taken by a session whose record holds the
// same namespace, and not by one whose namespace changed since.
func TestPrebuild(t *testing.T) {
	tests := []struct {
		name   string
		change bool
		reused int
	}{
		{"unchanged", false, 1},
		{"changed since", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t)
			f := liveFile(t) // session 7: p, q, m, ch
			if built, _ := srv.Prebuild(f); built != 1 {
				t.Fatalf("built %d namespaces, want 1", built)
			}
			st := f.Sessions[0]
			if tt.change {
				snap := *st.Namespace
				snap.Journal = append(snap.Journal[:len(snap.Journal):len(snap.Journal)], "const extra = 1") // declared since
				st.Namespace = &snap
			}
			checkRestored(t, srv, restoreOnPipe(t, srv, st), tt.reused)
		})
	}
}

// TestAhead: the new process names the namespaces it built (Ahead), the
// old one sends a digest instead of an unchanged namespace, and a record
// naming a namespace the new process does not hold fails its restore
// instead of arriving empty.
func TestAhead(t *testing.T) {
	live := liveFile(t) // session 7
	liveDigest := digest(*live.Sessions[0].Namespace)
	// What the new process reads went through the file: its encoding must
	// be the live one's, or no digest would ever match.
	f, err := ReadSnapshotFile(bytes.NewReader(encodeFile(t, live)))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{1}, sha256.Size)
	tests := []struct {
		name     string
		prebuild bool
		ahead    []byte
		reused   int
		wantErr  string
	}{
		{"built ahead", true, liveDigest, 1, ""},
		{"another snapshot", true, other, 0, "is not"},
		{"nothing built", false, liveDigest, 0, "is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t)
			if tt.prebuild {
				srv.Prebuild(f)
				built, err := DecodeAhead(srv.Ahead())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(built[7], liveDigest) || built.Sessions() != 1 || built[aheadTails] == nil {
					t.Fatalf("Ahead = %x, want session 7 with the live snapshot's digest %x, and that tails are taken", built, liveDigest)
				}
			}
			st := f.Sessions[0]
			st.Namespace, st.Ahead = nil, tt.ahead
			data, err := cbor.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if st, err = decodeSessionState(data); err != nil {
				t.Fatal(err)
			}
			server, client := net.Pipe()
			defer client.Close()
			sess, err := srv.restore(st, server)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("restore: %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Discard()
			checkRestored(t, srv, sess, tt.reused)
		})
	}
}

// checkRestored checks that sess took reused namespaces built ahead and
// has liveFile's namespace.
func checkRestored(t *testing.T, srv *Server, sess *Session, reused int) {
	t.Helper()
	if got := srv.DropPrebuilt(); got != reused {
		t.Errorf("reused %d, want %d", got, reused)
	}
	res, err := sess.ns.Eval(context.Background(), "q.X + m[\"a\"]")
	if err != nil || res.Value != "2" {
		t.Errorf("q.X + m[\"a\"] = %q, %v", res.Value, err)
	}
}

// FuzzAhead: the new process's list of namespaces built ahead, as the old
// one decodes it, never panics, and a list that decodes names digests
// that Export can compare.
func FuzzAhead(f *testing.F) {
	for _, m := range []map[uint64][]byte{nil, {7: make([]byte, sha256.Size)}, {1: nil, 2: []byte("x")}} {
		b, err := cbor.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeAhead(b)
		if err != nil {
			return
		}
		if len(m) > maxAhead {
			t.Fatalf("%d entries past the bound", len(m))
		}
		for _, d := range m {
			bytes.Equal(d, make([]byte, sha256.Size)) // what export does with it
		}
	})
}
