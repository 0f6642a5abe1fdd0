package front

import (
	"log/slog"
	"net"

	"translucent/repl"
	"translucent/web"
)

// newWebTerminal serves the browser terminal (package web) on ln, if not
// nil: its WebSockets become sessions of srv like telnet connections, and
// a migration carries them with their framing's state.
func newWebTerminal(srv *repl.Server, ln net.Listener, log *slog.Logger, errc chan<- error) *statusServer {
	var open []any
	if ln != nil {
		open = []any{"open", "http://" + ln.Addr().String() + "/"}
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			log.Warn("the browser terminal listens beyond loopback: HTTP and its WebSocket are cleartext, so passwords and code cross the network unencrypted")
		}
	}
	serve := func(c net.Conn) error { return srv.ServeConn(c) }
	return newHTTPServer("web", web.Handler(serve, log), ln, log, errc, open...)
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
