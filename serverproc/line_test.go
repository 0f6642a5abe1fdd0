package serverproc

import (
	"slices"
	"testing"
)

func TestParseLine(t *testing.T) {
	line := `time=2026-11-27T01:49:34.123+00:00 level=INFO msg="migration committed" pid=11997 new_version="v2 (go1.26.8)" phases="[{Name:start Duration:1ms}]" quote="a \"b\" c" not_carried=[]`
	l, ok := ParseLine(line)
	if !ok || l.Text != line {
		t.Fatalf("not parsed: %q", line)
	}
	for k, want := range map[string]string{
		"level": "INFO", "msg": "migration committed", "pid": "11997", "new_version": "v2 (go1.26.8)",
		"quote": `a "b" c`, "not_carried": "[]", "absent": "",
	} {
		if got := l.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var raw []string
	for _, a := range l.Attrs {
		raw = append(raw, a.Raw)
	}
	if want := []string{"time=2026-11-27T01:49:34.123+00:00", "level=INFO", `msg="migration committed"`, "pid=11997", `new_version="v2 (go1.26.8)"`, `phases="[{Name:start Duration:1ms}]"`, `quote="a \"b\" c"`, "not_carried=[]"}; !slices.Equal(raw, want) {
		t.Errorf("raw attributes:\n got %q\nwant %q", raw, want)
	}
	for _, bad := range []string{
		"",
		"panic: boom",
		"WARNING: DATA RACE",
		`time=x msg="unterminated`,
		"level=INFO pid=1", // no time, no msg
		"time=x level=INFO",
		`time=x msg="a"b`,
		`time=x msg="\q"`,
		"time=x =y msg=z",
	} {
		if l, ok := ParseLine(bad); ok || len(l.Attrs) != 0 || l.Text != bad {
			t.Errorf("%q parsed as %+v, %v", bad, l, ok)
		}
	}
}

func TestListening(t *testing.T) {
	for _, tt := range []struct {
		line string
		want Listening // Pid 0: not a listening line
	}{
		{`time=x level=INFO msg=listening pid=42 addr=127.0.0.1:2323 connect="telnet 127.0.0.1 2323"`, Listening{Pid: 42, Addr: "127.0.0.1:2323"}},
		{`time=x level=INFO msg=listening pid=42 addr=[::1]:23`, Listening{Pid: 42, Addr: "[::1]:23"}},
		{`time=x level=INFO msg="http listening" pid=42 addr=127.0.0.1:80`, Listening{}},
		{`time=x level=INFO msg=listening addr=127.0.0.1:23`, Listening{}}, // whose?
		{`time=x level=INFO msg=listening pid=x addr=127.0.0.1:23`, Listening{}},
		{`time=x level=INFO msg=listening pid=42`, Listening{}},
		{`msg=listening pid=42 addr=127.0.0.1:23`, Listening{}}, // not slog's: no time
	} {
		l, _ := ParseLine(tt.line)
		got, ok := listening(l)
		if ok != (tt.want.Pid != 0) || got.Pid != tt.want.Pid || got.Addr != tt.want.Addr {
			t.Errorf("listening(%q) = %d %q %v, want %d %q", tt.line, got.Pid, got.Addr, ok, tt.want.Pid, tt.want.Addr)
		}
	}
}
