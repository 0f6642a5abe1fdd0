package demo

import (
	"strings"
	"testing"

	"translucent/serverproc"
)

func TestJoinBanner(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		hosts      []string
		want       []string
		not        []string
	}{
		{"loopback", "127.0.0.1:4242", []string{"10.0.0.5"},
			[]string{"telnet 127.0.0.1 4242", "this machine only", "username demo    password pw"}, []string{"10.0.0.5"}},
		{"wildcard v4", "0.0.0.0:2323", []string{"10.0.0.5", "192.168.1.20"},
			[]string{"telnet 10.0.0.5 2323", "telnet 192.168.1.20 2323"}, []string{"this machine only", "0.0.0.0"}},
		{"wildcard v6", "[::]:2323", []string{"10.0.0.5"}, []string{"telnet 10.0.0.5 2323"}, []string{"[::]"}},
		{"wildcard, no other address", "[::]:2323", nil, []string{"telnet 127.0.0.1 2323", "this machine only"}, nil},
		{"one address", "10.0.0.5:2323", []string{"10.0.0.5", "10.0.0.6"}, []string{"telnet 10.0.0.5 2323"}, []string{"10.0.0.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := joinBanner([]way{{"telnet", tc.addr}}, tc.hosts, "pw")
			for _, w := range tc.want {
				if !strings.Contains(b, w) {
					t.Errorf("banner lacks %q:\n%s", w, b)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b, n) {
					t.Errorf("banner has %q:\n%s", n, b)
				}
			}
			lines := strings.Split(strings.TrimPrefix(b, "\n"), "\n")
			for _, l := range lines {
				if len(l) != len(lines[0]) || len(l) > screenWidth {
					t.Errorf("line %q: %d columns, the box is %d (at most %d)", l, len(l), len(lines[0]), screenWidth)
				}
			}
		})
	}
}

func TestJoinBannerWays(t *testing.T) {
	b := joinBanner([]way{{"telnet", "[::]:2323"}, {"ssh", "0.0.0.0:2222"}, {"web", "10.0.0.5:8023"}}, []string{"10.0.0.5", "10.0.0.6"}, "pw")
	for _, w := range []string{"telnet 10.0.0.6 2323", "ssh -p 2222 demo@10.0.0.5", "ssh -p 2222 demo@10.0.0.6", "http://10.0.0.5:8023/"} {
		if !strings.Contains(b, w) {
			t.Errorf("banner lacks %q:\n%s", w, b)
		}
	}
	if strings.Contains(b, "http://10.0.0.6") || strings.Contains(b, "this machine only") {
		t.Errorf("banner:\n%s", b)
	}
	b = joinBanner([]way{{"telnet", "[::]:2323"}, {"web", "127.0.0.1:8023"}}, []string{"10.0.0.5"}, "pw")
	if !strings.Contains(b, "http://127.0.0.1:8023/    (this machine only)") || strings.Count(b, "this machine only") != 1 {
		t.Errorf("banner:\n%s", b)
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:2323": "127.0.0.1:2323", "[::]:2323": "127.0.0.1:2323", ":2323": "127.0.0.1:2323",
		"10.0.0.5:2323": "10.0.0.5:2323", "127.0.0.1:1": "127.0.0.1:1",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFitsProjector(t *testing.T) {
	var b strings.Builder
	p := &indenter{w: &b, prefix: "    ", atStart: true}
	p.WriteString(strings.Repeat("x", 200) + "\n>>> ")
	p.WriteString("ab")
	p.endLine()
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if len(l) > screenWidth || !strings.HasPrefix(l, "    ") {
			t.Errorf("screen line %q: %d columns, or not indented", l, len(l))
		}
	}
	if !strings.HasSuffix(b.String(), "    >>> ab\n") || strings.Count(b.String(), "x") != 200 {
		t.Errorf("screen:\n%s", b.String())
	}
	for _, text := range []string{
		`time=2026-12-06T00:00:00Z level=INFO msg="migration committed" pid=1 new_pid=2 new_version="v2 (go1.26.8)" sessions=1000 pause=1.273163ms not_carried=[]`,
		`time=2026-12-06T00:00:00Z level=WARN msg="listening beyond loopback: telnet is cleartext, so passwords and code cross the network unencrypted" pid=2567`,
	} {
		l, ok := serverproc.ParseLine(text)
		if !ok {
			t.Fatal("not parsed:", text)
		}
		f := folded(l, foldAt, "time")
		for _, fl := range strings.Split(f, "\n") {
			if len(fl) > foldAt {
				t.Errorf("folded line %q longer than %d", fl, foldAt)
			}
		}
		if strings.Contains(f, "time=") || strings.Join(strings.Fields(f), " ") != without(l, "time") {
			t.Errorf("folded:\n%s\nwant the line without time:\n%s", f, without(l, "time"))
		}
	}
}
