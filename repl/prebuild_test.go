package repl

import (
	"context"
	"net"
	"testing"
)

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
			server, client := net.Pipe()
			defer client.Close()
			sess, err := srv.restore(st, server)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.discard()
			if got := srv.DropPrebuilt(); got != tt.reused {
				t.Errorf("reused %d, want %d", got, tt.reused)
			}
			res, err := sess.ns.Eval(context.Background(), "q.X + m[\"a\"]")
			if err != nil || res.Value != "2" {
				t.Errorf("q.X + m[\"a\"] = %q, %v", res.Value, err)
			}
		})
	}
}
