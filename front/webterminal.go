package front

import (
	"log/slog"
	"net"
	"net/http"

	"translucent/dashboard"
	"translucent/repl"
	"translucent/web"
)

// newWebTerminal serves the browser terminal (package web) on ln, if not
// nil: its WebSockets become sessions of srv like telnet connections, and
// a migration carries them with their framing's state. The metrics and the
// dashboard (with its streams, events) are served there too, as on --http.
func newWebTerminal(srv *registry, metrics, dash http.Handler, events *dashboard.Hub, ln net.Listener, log *slog.Logger, errc chan<- error) *statusServer {
	var open []any
	if ln != nil {
		open = []any{"open", "http://" + ln.Addr().String() + "/"}
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			log.Warn("the browser terminal listens beyond loopback: HTTP and its WebSocket are cleartext, so passwords and code cross the network unencrypted")
		}
	}
	serve := func(c net.Conn) error { return srv.serveConn(c) }
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler(serve, log))
	mux.Handle("/metrics", metrics)
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dash))
	return newHTTPServer("web", mux, events, ln, log, errc, open...)
}

// withWeb adds the WebSocket's framing to the transports sessions may
// arrive with from another process, whether or not this one serves --web:
// a predecessor's browser sessions move here all the same.
func withWeb(t map[string]repl.Transport) map[string]repl.Transport {
	out := map[string]repl.Transport{web.Kind: web.Resume}
	for k, v := range t {
		out[k] = v
	}
	return out
}
