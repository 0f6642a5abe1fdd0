package dashboard

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Request
		err        string
	}{
		{"empty", `{}`, Request{}, ""},
		{"drop", `{"drop":["x","secret"]}`, Request{Drop: []string{"x", "secret"}}, ""},
		{"dry run", `{"dryRun":true}`, Request{DryRun: true}, ""},
		{"not a name", `{"drop":["x,y"]}`, Request{}, `drop "x,y": not a variable name`},
		{"empty name", `{"drop":[""]}`, Request{}, `not a variable name`},
		{"unknown field", `{"binary":"/bin/sh"}`, Request{}, `unknown field "binary"`},
		{"two values", `{}{}`, Request{}, "more than one JSON value"},
		{"not JSON", `drop=x`, Request{}, "invalid character"},
		{"too many", `{"drop":[` + strings.Repeat(`"a",`, maxDrop) + `"a"]}`, Request{}, "at most"},
	} {
		got, err := ParseRequest([]byte(tc.body))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
		case tc.err == "" && (!slices.Equal(got.Drop, tc.want.Drop) || got.DryRun != tc.want.DryRun):
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"drop":["x"]}`, `{"dryRun":true,"drop":["a","b"]}`, `{"drop":["x y"]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(body)
		if err != nil {
			return
		}
		// What it accepts goes comma-separated on the control socket.
		for _, name := range req.Drop {
			if name == "" || strings.ContainsAny(name, ", \t\n") {
				t.Fatalf("accepted drop name %q", name)
			}
		}
	})
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://127.0.0.1:8080", true},
		{"HTTP://127.0.0.1:8080", true},
		{"", false},
		{"null", false},
		{"http://127.0.0.1:8081", false},
		{"http://evil.example", false},
		{"http://127.0.0.1:8080.evil.example", false},
		{"ftp://127.0.0.1:8080", false},
		{"http://user@127.0.0.1:8080/x", true}, // what matters is the host
	} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/migrate", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if err := sameOrigin(r); (err == nil) != tc.ok {
			t.Errorf("Origin %q: %v, want ok %v", tc.origin, err, tc.ok)
		}
	}
}
