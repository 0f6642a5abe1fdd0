package front

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"translucent/dashboard"
)

// statusPage is the HTTP status page of --http: the talk's "simple
// (stateless) migration", where only the listening socket has to move. It
// serves the process's metrics at /metrics.
type statusPage struct {
	version string
	metrics http.Handler
}

func (p statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		p.metrics.ServeHTTP(w, r)
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "pid %d version %s\n", os.Getpid(), p.version)
}

// statusServer serves HTTP on a listener a migration moves: the status
// page, or the browser terminal (connections it upgrades to WebSockets
// leave its count: they are sessions, which the migration moves).
type statusServer struct {
	hs        *http.Server
	events    *dashboard.Hub // the dashboard's streams, ended before the page stops
	ln        net.Listener
	conns     atomic.Int64 // open connections
	handedOff atomic.Bool
}

// newStatusPage serves the status page on ln, if not nil, until stop or
// handOff, with the metrics at /metrics and the dashboard dash below
// /dashboard/; a failure of its accept loop goes to errc.
func newStatusPage(version string, metrics, dash http.Handler, events *dashboard.Hub, ln net.Listener, log *slog.Logger, errc chan<- error) *statusServer {
	mux := http.NewServeMux()
	mux.Handle("/", statusPage{version, metrics})
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dash))
	return newHTTPServer("http", mux, events, ln, log, errc)
}

// newHTTPServer serves h on ln, if not nil, until stop or handOff; a
// failure of its accept loop goes to errc. ReadHeaderTimeout bounds a
// client that opens a connection and never finishes its request (a
// slow-loris upgrade too). events are the dashboard's streams h serves,
// if any, ended before the server stops or hands off. It logs its
// address, with attrs.
func newHTTPServer(name string, h http.Handler, events *dashboard.Hub, ln net.Listener, log *slog.Logger, errc chan<- error, attrs ...any) *statusServer {
	s := &statusServer{ln: ln, events: events}
	if ln == nil {
		return s
	}
	s.hs = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.conns.Add(-1)
			}
		}}
	log.Info(name+" listening", append([]any{"addr", ln.Addr().String()}, attrs...)...)
	go func() { // ends when hs is shut down or its listener handed off
		if err := s.hs.Serve(ln); err != http.ErrServerClosed && !s.handedOff.Load() {
			errc <- err
		}
	}()
	return s
}

// stop shuts the page down: requests under way finish.
func (s *statusServer) stop() {
	s.events.Close() // a stream would hold Shutdown to its deadline
	if s.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.hs.Shutdown(ctx)
}

// handOff lets the successor have the status page. Not Shutdown: a server
// shutting down drops, unanswered, a request it reads from a connection it
// accepted just before (net/http conn.serve checks shuttingDown after
// reading), and a request loop saw EOF at every few migrations. Instead
// stop accepting (the successor accepts on its own copy of the socket),
// end keep-alive, and answer every connection already accepted.
func (s *statusServer) handOff() {
	s.events.Close() // the browser reconnects, to the successor
	if s.hs == nil {
		return
	}
	s.handedOff.Store(true)
	s.ln.Close()
	s.hs.SetKeepAlivesEnabled(false) // closes idle connections; clients retry those
	for deadline := time.Now().Add(5 * time.Second); s.conns.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // as Shutdown itself polls
	}
}
