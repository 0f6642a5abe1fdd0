package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

//go:embed static
var static embed.FS

// Handler serves the dashboard; see the package doc.
type Handler struct {
	src      Source
	hub      *Hub
	auth     *authCache
	files    http.Handler
	status   time.Duration // how often a stream looks for changed sessions
	terminal string        // the browser terminal's path beside this dashboard; "" for none
}

// New returns the dashboard of src, whose events come from hub.
func New(src Source, hub *Hub) *Handler {
	sub, _ := fs.Sub(static, "static")
	return &Handler{src: src, hub: hub, auth: newAuthCache(), files: http.FileServerFS(sub), status: time.Second}
}

// WithTerminal says that the browser terminal is served at path on the
// same address as h, so that the page links each session to a watch of
// it there (path?watch=ID). It returns h.
func (h *Handler) WithTerminal(path string) *Handler {
	h.terminal = path
	return h
}

// statusNow is the Source's status, with what this address serves beside.
func (h *Handler) statusNow() Status {
	st := h.src.Status()
	st.Terminal = h.terminal
	return st
}

// writeTimeout bounds one write to a client: a stream whose client never
// reads ends rather than holding its goroutine.
const writeTimeout = 10 * time.Second

// maxRequest bounds a POST's body.
const maxRequest = 64 << 10

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Not framed by another site (a click on Migrate must be the admin's),
	// and nothing loaded from elsewhere.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := sameOrigin(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	user, password, ok := r.BasicAuth()
	if !ok || !h.auth.check(r.Context(), h.src, r.RemoteAddr, user, password) {
		hd.Set("WWW-Authenticate", `Basic realm="translucent dashboard", charset="UTF-8"`)
		http.Error(w, "the dashboard needs an admin's user name and password", http.StatusUnauthorized)
		return
	}
	if !h.src.IsAdmin(user) {
		http.Error(w, fmt.Sprintf("%s is not an admin of this server (serve --admins)", user), http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case "/api/status":
		h.get(w, r, func() (any, error) { return h.statusNow(), nil })
	case "/api/graph":
		h.get(w, r, func() (any, error) {
			id, err := strconv.ParseUint(r.URL.Query().Get("session"), 10, 64)
			if err != nil {
				return nil, badRequest{fmt.Errorf("session: want a session id: %w", err)}
			}
			return h.src.Graph(id)
		})
	case "/api/events":
		h.events(w, r)
	case "/api/migrate":
		h.migrate(w, r)
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.files.ServeHTTP(w, r)
	}
}

// badRequest is an error of the request, not of the server.
type badRequest struct{ error }

// get answers a GET with f's value as JSON.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, f func() (any, error)) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	v, err := f()
	if err != nil {
		code := http.StatusConflict // the session is busy, gone, or logging in
		if errors.As(err, new(badRequest)) {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Result is POST /api/migrate's answer.
type Result struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Output string `json:"output"` // the report, as translucent migrate prints it
}

func (h *Handler) migrate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var out bytes.Buffer
	// A migration must not end with the page that asked for it.
	err = h.src.Migrate(context.WithoutCancel(r.Context()), req, &out)
	res := Result{OK: err == nil, Output: out.String()}
	if err != nil {
		res.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// events streams the process's status, when it changes, and the events
// of the Hub, as Server-Sent Events, until the client leaves or the Hub
// closes.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s, leave := h.hub.subscribe()
	defer leave()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data []byte) error {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return err
		}
		return rc.Flush()
	}
	// The browser reconnects a second after the stream ends: to the
	// successor, after a migration.
	fmt.Fprint(w, "retry: 1000\n\n")
	var last []byte
	status := func() error {
		b, _ := json.Marshal(h.statusNow())
		if bytes.Equal(b, last) {
			return nil
		}
		last = b
		return send("status", b)
	}
	if status() != nil {
		return
	}
	tick := time.NewTicker(h.status)
	defer tick.Stop()
	for {
		var err error
		select {
		case m, ok := <-s.c:
			if !ok {
				return // handed over or stopping: the browser reconnects
			}
			b, merr := json.Marshal(m.v)
			if merr != nil {
				b, _ = json.Marshal(map[string]string{"error": merr.Error()})
			}
			err = send(m.event, b)
			if n := s.dropped.Swap(0); n > 0 && err == nil {
				err = send("dropped", []byte(strconv.FormatInt(n, 10)))
			}
		case <-tick.C:
			err = status()
		case <-r.Context().Done():
			return
		}
		if err != nil {
			return
		}
	}
}
