package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the terminal page at /, its scripts under /static/ and
// the WebSocket at /ws, whose connections it gives to serve (a REPL
// server's ServeConn, which owns them from then on).
func Handler(serve func(net.Conn) error, log *slog.Logger) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // embedded at build time
	}
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page loads its own files only, and no other site may frame
		// it (and have a user type into it unawares).
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		http.ServeFileFS(w, r, files, "index.html")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r)
		if err != nil {
			log.Warn("websocket refused", "addr", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
			return
		}
		if err := serve(c); err != nil {
			log.Info("websocket not served", "addr", r.RemoteAddr, "err", err)
		}
	})
	return mux
}
