package dashboard

import (
	"encoding/json"
	"fmt"
	"go/token"
	"net/http"
	"net/url"
	"strings"
)

// maxDrop bounds the variables one request may name.
const maxDrop = 256

// ParseRequest reads a migration request from the page: JSON, with
// every name in Drop a Go identifier (the control socket carries them
// comma-separated). It fails on anything else, naming it.
func ParseRequest(body []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("dashboard: request: %w", err)
	}
	if dec.More() {
		return Request{}, fmt.Errorf("dashboard: request: more than one JSON value")
	}
	if len(req.Drop) > maxDrop {
		return Request{}, fmt.Errorf("dashboard: request: %d variables to drop, at most %d", len(req.Drop), maxDrop)
	}
	for _, name := range req.Drop {
		if !token.IsIdentifier(name) {
			return Request{}, fmt.Errorf("dashboard: request: drop %q: not a variable name", name)
		}
	}
	return req, nil
}

// sameOrigin refuses a request sent by a page of another origin: its
// Origin header must name the host the request was sent to. Browsers
// set Origin on every POST, and a page cannot forge it.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return fmt.Errorf("dashboard: a request that changes something needs an Origin header naming this server (http://%s)", r.Host)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) || u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("dashboard: request from another origin (%q) refused", origin)
	}
	return nil
}
