package web

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3's example.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("acceptKey = %s", got)
	}
}

// Every handshake that is not ours gets the HTTP error that says why.
func TestUpgradeRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := Upgrade(w, r); err == nil {
			c.Close()
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	good := map[string]string{"Connection": "keep-alive, Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	tests := []struct {
		name   string
		method string
		change map[string]string
		status int
		says   string
	}{
		{"ok", "GET", nil, 101, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		{"same origin", "GET", map[string]string{"Origin": "http://" + host}, 101, "Switching"},
		{"another site", "GET", map[string]string{"Origin": "http://evil.example"}, 403, "may not connect"},
		{"another port", "GET", map[string]string{"Origin": "http://127.0.0.1:1"}, 403, "may not connect"},
		{"a file", "GET", map[string]string{"Origin": "null"}, 403, "may not connect"},
		{"version 8", "GET", map[string]string{"Sec-WebSocket-Version": "8"}, 426, "version 13"},
		{"no upgrade", "GET", map[string]string{"Upgrade": ""}, 426, "WebSocket connections only"},
		{"bad key", "GET", map[string]string{"Sec-WebSocket-Key": "short"}, 400, "16 bytes"},
		{"POST", "POST", nil, 405, "GET"},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		req := tt.method + " /ws HTTP/1.1\r\nHost: " + host + "\r\n"
		for k, v := range good {
			if nv, ok := tt.change[k]; ok {
				v = nv
			}
			if v != "" {
				req += k + ": " + v + "\r\n"
			}
		}
		if o, ok := tt.change["Origin"]; ok {
			req += "Origin: " + o + "\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			c.Close()
			continue
		}
		var body strings.Builder
		if resp.StatusCode != 101 {
			bufio.NewReader(resp.Body).WriteTo(&body)
		}
		all := body.String() + resp.Header.Get("Sec-WebSocket-Accept") + resp.Status
		if resp.StatusCode != tt.status || !strings.Contains(all, tt.says) {
			t.Errorf("%s: %s %q, want %d saying %q", tt.name, resp.Status, all, tt.status, tt.says)
		}
		c.Close()
	}
}
