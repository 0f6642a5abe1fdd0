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

// restoreOnPipe restores st in srv on one end of a pipe, with p, the
// namespace built ahead if not nil; both ends close with the test. It
// reports whether the session took p.
func restoreOnPipe(t *testing.T, srv *testHost, st SessionState, p *Prebuilt) (*Session, bool) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	sess, reused, err := restore(srv, &srv.cfg, st, server, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Discard)
	return sess, reused
}

// A namespace built ahead is taken by a session whose record holds the
// same namespace, and not by one whose namespace changed since.
func TestPrebuild(t *testing.T) {
	tests := []struct {
		name   string
		change bool
		reused bool
	}{
		{"unchanged", false, true},
		{"changed since", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t)
			f := liveFile(t) // session 7: p, q, m, ch
			p := Prebuild(srv, &srv.cfg, f.Sessions[0])
			if p == nil {
				t.Fatal("nothing built ahead")
			}
			st := f.Sessions[0]
			if tt.change {
				snap := *st.Namespace
				snap.Journal = append(snap.Journal[:len(snap.Journal):len(snap.Journal)], "const extra = 1") // declared since
				st.Namespace = &snap
			}
			sess, reused := restoreOnPipe(t, srv, st, p)
			checkRestored(t, sess, reused, tt.reused)
		})
	}
}

// TestAhead: a record may name the namespace built ahead by its digest
// instead of carrying it; a record naming a namespace the new process
// does not hold fails its restore instead of arriving empty.
func TestAhead(t *testing.T) {
	live := liveFile(t) // session 7
	liveDigest := live.Sessions[0].Namespace.Digest()
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
		wantErr  string
	}{
		{"built ahead", true, liveDigest, ""},
		{"another snapshot", true, other, "is not"},
		{"nothing built", false, liveDigest, "is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testServer(t)
			var p *Prebuilt
			if tt.prebuild {
				// What the new process builds from went through the
				// file: its encoding must be the live one's, or no digest
				// would ever match.
				if p = Prebuild(srv, &srv.cfg, f.Sessions[0]); p == nil || !bytes.Equal(p.Digest(), liveDigest) {
					t.Fatalf("built ahead: %v, want the live snapshot's digest %x", p, liveDigest)
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
			sess, reused, err := restore(srv, &srv.cfg, st, server, p)
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
			checkRestored(t, sess, reused, true)
		})
	}
}

// checkRestored checks that sess took the namespace built ahead if want
// says so, and has liveFile's namespace.
func checkRestored(t *testing.T, sess *Session, reused, want bool) {
	t.Helper()
	if reused != want {
		t.Errorf("took the namespace built ahead: %v, want %v", reused, want)
	}
	res, err := sess.ns.Eval(context.Background(), "q.X + m[\"a\"]")
	if err != nil || res.Value != "2" {
		t.Errorf("q.X + m[\"a\"] = %q, %v", res.Value, err)
	}
}
