package web

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// acceptGUID is RFC 6455's constant of the handshake (§1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshakeWait bounds the write of the handshake's answer.
const handshakeWait = 10 * time.Second

// acceptKey is Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Upgrade answers a client's opening handshake (RFC 6455 §4.2) and takes
// the connection from net/http. A request that is not a version 13
// WebSocket handshake, or whose Origin is another site's (SameOrigin),
// gets an HTTP error that says why, and Upgrade returns an error.
func Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	fail := func(code int, msg string) (*Conn, error) {
		http.Error(w, msg, code)
		return nil, errors.New("web: " + msg)
	}
	switch {
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		return fail(http.StatusMethodNotAllowed, "a WebSocket handshake is a GET")
	case !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket"):
		w.Header().Set("Upgrade", "websocket")
		return fail(http.StatusUpgradeRequired, "this address takes WebSocket connections only (Connection: Upgrade, Upgrade: websocket)")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusUpgradeRequired, fmt.Sprintf("WebSocket version %q is not served; this server speaks version 13 (RFC 6455)", r.Header.Get("Sec-WebSocket-Version")))
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fail(http.StatusBadRequest, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	if !SameOrigin(r) {
		return fail(http.StatusForbidden, fmt.Sprintf("a page of %s may not connect to %s: only this server's own page may", r.Header.Get("Origin"), r.Host))
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return fail(http.StatusInternalServerError, "this connection cannot be upgraded")
	}
	sock, brw, err := hj.Hijack()
	if err != nil {
		return fail(http.StatusInternalServerError, "upgrade: "+err.Error())
	}
	// What the client sent after its request (it may send frames before
	// our answer arrives) is in net/http's reader: the decoder's first
	// bytes. At most the decoder's buffer: a client must wait for our
	// answer before it sends (§4.1), so one that sent more is not one.
	if brw.Reader.Buffered() > bufSize {
		sock.Close()
		return nil, errors.New("web: the client sent frames before the handshake ended")
	}
	d := newDecoder()
	d.w, _ = brw.Reader.Read(d.raw[:brw.Reader.Buffered()])
	sock.SetDeadline(time.Time{})
	sock.SetWriteDeadline(time.Now().Add(handshakeWait))
	_, err = fmt.Fprintf(sock, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(key))
	sock.SetWriteDeadline(time.Time{})
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("web: upgrade: %w", err)
	}
	return newConn(sock, d), nil
}

// SameOrigin reports whether r may open a WebSocket: its Origin, if any,
// names the host r was sent to. Browsers send Origin with every WebSocket
// handshake, and a page cannot forge it, so a page of another site (or a
// file, Origin "null") is refused: it could otherwise drive a session
// with the cookies, network position and typed passwords of whoever
// opened it. A request without Origin comes from a program, not a page.
func SameOrigin(r *http.Request) bool {
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	if len(origin) > 1 {
		return false
	}
	u, err := url.Parse(origin[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// hasToken reports whether header name's comma-separated values include
// token, case-insensitively.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
