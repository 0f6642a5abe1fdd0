package front

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"translucent/migrate"
)

// handed makes the descriptors a predecessor would hand over, of the kinds
// given ("telnet", "control", "http"), in that order.
func handed(t *testing.T, kinds ...string) []*os.File {
	t.Helper()
	var files []*os.File
	for _, k := range kinds {
		var f *os.File
		var err error
		if k == listenControl {
			dir := filepath.Join(t.TempDir(), "private")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			var ctl *migrate.ControlListener
			if ctl, err = migrate.ListenControl(filepath.Join(dir, "control.sock")); err != nil {
				t.Fatal(err)
			}
			f, err = ctl.File()
			ctl.Detach()
			ctl.Close()
		} else {
			var ln net.Listener
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			f, err = ln.(*net.TCPListener).File()
			ln.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// A successor takes its listeners by name, in whatever order they come;
// without names, in the order of the builds that did not name them.
func TestInheritListeners(t *testing.T) {
	tests := []struct {
		name     string
		kinds    []string // what the descriptors are
		names    []string // what the meta calls them
		err      string
		wantHTTP bool
	}{
		{"named", []string{"telnet", "control"}, []string{"telnet", "control"}, "", false},
		{"named, other order, with http", []string{"http", "control", "telnet"}, []string{"http", "control", "telnet"}, "", true},
		{"named, with web", []string{"web", "telnet", "control"}, []string{"web", "telnet", "control"}, "", false},
		{"unnamed: positional", []string{"telnet", "control"}, nil, "", false},
		{"unnamed with http", []string{"telnet", "control", "http"}, nil, "", true},
		{"a listener this build does not know", []string{"telnet", "control", "http"}, []string{"telnet", "control", "gopher"}, `named "gopher"`, false},
		{"twice", []string{"telnet", "telnet", "control"}, []string{"telnet", "telnet", "control"}, "twice", false},
		{"no control", []string{"telnet"}, []string{"telnet"}, "without telnet and control", false},
		{"fewer names than descriptors", []string{"telnet", "control"}, []string{"telnet"}, "1 listeners named, 2 handed over", false},
		{"a control socket named telnet", []string{"control", "telnet"}, []string{"telnet", "control"}, "listener", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := handed(t, tt.kinds...)
			l, err := inherit(tt.names, files)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("inherit: %v, want an error saying %q", err, tt.err)
				}
				if l.telnet != nil || l.control != nil || l.http != nil {
					t.Error("a failed inherit returned listeners")
				}
				return
			}
			if err != nil {
				t.Fatalf("inherit: %v", err)
			}
			defer l.abandon()
			if _, ok := l.telnet.Addr().(*net.TCPAddr); !ok {
				t.Errorf("telnet listener on %v", l.telnet.Addr())
			}
			if l.control.Path() == "" {
				t.Error("control listener without a path")
			}
			if (l.http != nil) != tt.wantHTTP {
				t.Errorf("http listener %v, want one: %v", l.http, tt.wantHTTP)
			}
			wantWeb := slices.Contains(tt.names, listenWeb)
			if (l.web != nil) != wantWeb {
				t.Errorf("web listener %v, want one: %v", l.web, wantWeb)
			}
			if got := strings.Join(l.names(), ","); tt.wantHTTP != strings.Contains(got, ",http") || wantWeb != strings.HasSuffix(got, ",web") {
				t.Errorf("names() = %s", got)
			}
			for _, f := range files {
				if f.Fd() != ^uintptr(0) {
					t.Errorf("inherit left %s open", f.Name())
				}
			}
		})
	}
}
