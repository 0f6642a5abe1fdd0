package front

import (
	"slices"
	"testing"
)

// TestSuccessorArgs: a successor's arguments are the same after any number
// of migrations.
func TestSuccessorArgs(t *testing.T) {
	args := []string{"--listen", "127.0.0.1:0", "--isolate=pool"}
	want := []string{"serve", "--listen", "127.0.0.1:0", "--isolate=pool", "--users", "/run/admin-users"}
	for i := range 12 {
		got := successorArgs(args, "/run/admin-users")
		if !slices.Equal(got, want) {
			t.Fatalf("migration %d: successor arguments %q, want %q", i+1, got, want)
		}
		args = append(got[1:], "--precopy", "/run/precopy-1.cbor") // as migrator.run adds it
	}
	for _, users := range [][]string{{"--users", "u"}, {"-users", "u"}, {"--users=u"}} {
		got := successorArgs(append(users, "--precopy=p"), "u")
		if want := []string{"serve", "--users", "u"}; !slices.Equal(got, want) {
			t.Errorf("successorArgs(%q) = %q, want %q", users, got, want)
		}
	}
}
