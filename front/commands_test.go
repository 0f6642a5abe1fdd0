package front

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"translucent/migrate"
)

// A migrate request's string arguments become a typed request over the
// server's defaults, or an error naming the argument.
func TestParseMigrate(t *testing.T) {
	m := &migrator{cfg: &Config{Grace: 3 * time.Second, MigrateTimeout: time.Minute, Strict: true}}
	tests := []struct {
		name string
		args map[string]string
		want migrateRequest
		err  string
	}{
		{"defaults", nil, migrateRequest{migration: migration{timeout: time.Minute, grace: 3 * time.Second, strict: true}}, ""},
		{"as the client sends them", map[string]string{"timeout": "5s", "grace": "100ms", "strict": "false", "dry-run": "true", "drop": "a,b", "incremental": "false", "json": "false", "binary": "/x"},
			migrateRequest{migration: migration{binary: "/x", timeout: 5 * time.Second, grace: 100 * time.Millisecond, drop: []string{"a", "b"}}, dryRun: true}, ""},
		{"one session, local", map[string]string{"session": "42", "local": "true"}, migrateRequest{migration: migration{timeout: time.Minute, grace: 3 * time.Second, strict: true}, session: 42, local: true}, ""},
		{"a bad duration", map[string]string{"grace": "soon"}, migrateRequest{}, "grace: "},
		{"a bad session", map[string]string{"session": "-1"}, migrateRequest{}, "session: "},
		{"a bad boolean", map[string]string{"dry-run": "maybe"}, migrateRequest{}, "dry-run: "},
		{"json of a dry run", map[string]string{"json": "true", "dry-run": "true"}, migrateRequest{}, "--json reports a whole migration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.parseMigrate(migrate.Request{Command: "migrate", Args: tt.args})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.binary != tt.want.binary || got.timeout != tt.want.timeout || got.grace != tt.want.grace || got.strict != tt.want.strict ||
				strings.Join(got.drop, ",") != strings.Join(tt.want.drop, ",") || got.json != tt.want.json ||
				got.session != tt.want.session || got.local != tt.want.local || got.incremental != tt.want.incremental || got.dryRun != tt.want.dryRun {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A command nobody knows gets an answer saying so.
func TestUnknownCommand(t *testing.T) {
	m := &migrator{cfg: &Config{}}
	resp := m.handle(context.Background(), migrate.Request{Command: "reboot"}, io.Discard)
	if resp.OK || !strings.Contains(resp.Error, `unknown command "reboot"`) {
		t.Errorf("reboot: %+v", resp)
	}
}
