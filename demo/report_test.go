package demo

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"translucent/migrate"
	"translucent/serverproc"
	"translucent/telnet"
)

// A real migrate output, from README.md.
const migrateOut = `migrating pid 4242 (v1 (go1.26.8)) to /home/me/translucent/translucent
old pid 4242 (v1 (go1.26.8))
new pid 4251 (v2 (go1.26.8))
new pid 4251, 1 session
  start     82.433ms
  quiesce   221µs
  transfer  185µs
  restore   8.825ms
  commit    46µs
longest pause a session saw: 9.279ms
`

// TestParseMigrateReportReadsSummary: the parser reads back everything
// migrate.Summary writes for people, phases by name and all.
func TestParseMigrateReportReadsSummary(t *testing.T) {
	sum := migrate.Summary{
		OldPid: 4242, OldVersion: "v1 (go1.26.8)", Binary: "/bin/translucent",
		NewPid: 4251, NewVersion: "v2 (go1.26.8)", Sessions: 2,
		Phases: []migrate.Phase{
			{Name: "start", Duration: 84386 * time.Microsecond}, {Name: "recheck", Duration: 187 * time.Microsecond},
			{Name: "quiesce", Duration: 223 * time.Microsecond}, {Name: "transfer", Duration: 63 * time.Microsecond},
			{Name: "restore", Duration: 441 * time.Microsecond}, {Name: "commit", Duration: 22 * time.Microsecond},
		},
		Pause:      750 * time.Microsecond,
		NotCarried: []string{"session 2: ch (chan int): channels cannot be carried"},
		Prebuilt:   2, Unchanged: 1,
	}
	got, err := ParseMigrateReport(sum.String())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sum) {
		t.Errorf("got  %+v\nwant %+v", got, sum)
	}
}

func TestParseMigrateReport(t *testing.T) {
	full := MigrateReport{
		OldPid: 4242, OldVersion: "v1 (go1.26.8)", NewPid: 4251, NewVersion: "v2 (go1.26.8)",
		Binary: "/home/me/translucent/translucent", Sessions: 1,
		Phases: []Phase{
			{Name: "start", Duration: 82433 * time.Microsecond}, {Name: "quiesce", Duration: 221 * time.Microsecond},
			{Name: "transfer", Duration: 185 * time.Microsecond}, {Name: "restore", Duration: 8825 * time.Microsecond},
			{Name: "commit", Duration: 46 * time.Microsecond},
		},
		Pause: 9279 * time.Microsecond,
	}
	withLost := full
	withLost.NotCarried = []string{"session 1: c (chan int)", "session 2: f (func())"}
	prebuilt := full
	prebuilt.Prebuilt = 1
	noSessions := full
	noSessions.Sessions, noSessions.Phases = 0, full.Phases[:1]

	for _, tc := range []struct {
		name    string
		out     string
		want    MigrateReport
		wantErr string
	}{
		{name: "README", out: migrateOut, want: full},
		{name: "not carried",
			out:  migrateOut + "not carried: session 1: c (chan int)\nnot carried: session 2: f (func())\n",
			want: withLost},
		{name: "precopy", out: migrateOut + "namespaces restored before the pause: 1 of 1\n", want: prebuilt},
		{name: "bad precopy line",
			out:     migrateOut + "namespaces restored before the pause: 1/1\n",
			wantErr: "want \"N of M\""},
		{name: "lines it does not know are skipped",
			out:  "a progress line\n" + migrateOut + "something new\n",
			want: full},
		{name: "no sessions",
			out: "migrating pid 4242 (v1 (go1.26.8)) to /home/me/translucent/translucent\nold pid 4242 (v1 (go1.26.8))\n" +
				"new pid 4251 (v2 (go1.26.8))\nnew pid 4251, 0 sessions\n  start     82.433ms\nlongest pause a session saw: 9.279ms\n",
			want: noSessions},
		{name: "binary path with a parenthesis",
			out: strings.Replace(migrateOut, "to /home/me/translucent/translucent", "to /tmp/a) to b/translucent", 1),
			want: func() MigrateReport {
				r := full
				r.Binary = "/tmp/a) to b/translucent"
				return r
			}()},
		{name: "unbalanced version",
			out:     strings.Replace(migrateOut, "new pid 4251 (v2 (go1.26.8))", "new pid 4251 (v2 (go1.26.8)", 1),
			wantErr: "want \"PID (VERSION)\""},
		{name: "rolled back: no new pid",
			out:     "migrating pid 4242 (v1 (go1.26.8)) to /x\n",
			wantErr: "lacks the new pid, the session count, the pause"},
		{name: "no pause",
			out:     strings.Replace(migrateOut, "longest pause a session saw: 9.279ms\n", "", 1),
			wantErr: "lacks the pause"},
		{name: "pids disagree",
			out:     strings.Replace(migrateOut, "new pid 4251, 1", "new pid 4252, 1", 1),
			wantErr: "earlier line said 4251"},
		{name: "old pids disagree",
			out:     strings.Replace(migrateOut, "old pid 4242", "old pid 4243", 1),
			wantErr: "started from pid 4242"},
		{name: "bad duration",
			out:     strings.Replace(migrateOut, "221µs", "221 parsecs", 1),
			wantErr: "want a phase and its duration"},
		{name: "bad pid",
			out:     strings.Replace(migrateOut, "old pid 4242", "old pid x", 1),
			wantErr: "want a pid"},
		{name: "bad session count",
			out:     strings.Replace(migrateOut, "1 session", "one session", 1),
			wantErr: "line 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMigrateReport(tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestWithout: a line for people leaves the named attributes out, and a
// line that is not slog's is shown as it is. (serverproc tests the
// parsing.)
func TestWithout(t *testing.T) {
	line := `time=2026-11-27T01:49:34.123+00:00 level=INFO msg="migration committed" pid=11997 new_version="v2 (go1.26.8)" phases="[{Name:start Duration:1ms}]" quote="a \"b\" c" not_carried=[]`
	l, ok := serverproc.ParseLine(line)
	if !ok {
		t.Fatalf("not parsed: %q", line)
	}
	if got, want := without(l, "time", "phases"), `level=INFO msg="migration committed" pid=11997 new_version="v2 (go1.26.8)" quote="a \"b\" c" not_carried=[]`; got != want {
		t.Errorf("without:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{"panic: boom", "WARNING: DATA RACE", `time=x msg="unterminated`} {
		l, _ := serverproc.ParseLine(bad)
		if got := without(l, "time"); got != bad {
			t.Errorf("without(%q) = %q", bad, got)
		}
		if got := folded(l, foldAt, "time"); got != bad {
			t.Errorf("folded(%q) = %q", bad, got)
		}
	}
}

func TestParseStatusPage(t *testing.T) {
	pid, v, err := parseStatusPage("pid 4242 version v1 (go1.26.8)\n")
	if err != nil || pid != 4242 || v != "v1 (go1.26.8)" {
		t.Errorf("got %d %q %v", pid, v, err)
	}
	for _, bad := range []string{"", "404 page not found\n", "pid x version v1\n", "pid 12\n"} {
		if _, _, err := parseStatusPage(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestTelnetParser feeds the server's negotiation, split at every byte,
// and checks the client refuses every offer and keeps only the text.
func TestTelnetParser(t *testing.T) {
	in := []byte{
		telnet.IAC, telnet.WILL, 1, telnet.IAC, telnet.WILL, 3, telnet.IAC, telnet.DO, 3, telnet.IAC, telnet.DO, 31, telnet.IAC, telnet.DO, 24, // WILL ECHO, SGA; DO SGA, NAWS, TTYPE
		'u', 's', 'e', 'r', ':', ' ',
		telnet.IAC, telnet.SB, 24, 1, telnet.IAC, telnet.SE, // SB TTYPE SEND … SE
		'a', '\r', '\n', 'b', '\r', 0, telnet.IAC, telnet.IAC, // CR LF, CR NUL, an escaped 255
		telnet.IAC, 241, // NOP
		telnet.IAC, telnet.WONT, 1, telnet.IAC, telnet.DONT, 3, // no answer needed
		'c',
	}
	wantData := []byte("user: a\nb\xffc")
	wantReply := []byte{telnet.IAC, telnet.DONT, 1, telnet.IAC, telnet.DONT, 3, telnet.IAC, telnet.WONT, 3, telnet.IAC, telnet.WONT, 31, telnet.IAC, telnet.WONT, 24}
	for _, split := range []int{len(in), 1, 2, 3, 7} {
		var p telnetParser
		var data, reply []byte
		for i := 0; i < len(in); i += split {
			d, r := p.feed(in[i:min(i+split, len(in))])
			data, reply = append(data, d...), append(reply, r...)
		}
		if string(data) != string(wantData) {
			t.Errorf("split %d: data %q, want %q", split, data, wantData)
		}
		if string(reply) != string(wantReply) {
			t.Errorf("split %d: reply %v, want %v", split, reply, wantReply)
		}
	}
}
