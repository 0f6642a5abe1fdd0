// Package web is the browser's way in: a page with a terminal (xterm.js,
// embedded in the binary with its licence) and the server side of the
// WebSocket (RFC 6455) that page opens, as a net.Conn that carries telnet.
//
// The page speaks telnet over the WebSocket (static/term.js is a minimal
// telnet client), so a REPL server serves a browser exactly as it serves a
// telnet client: same login, editing, completion, limits, and the same
// bound on a client that does not read (the telnet layer's stall
// timeout closes the Conn, which unblocks its writer).
//
// The page has a watch view, /?watch=ID: after the user has logged in as
// always, it types :watch ID for them and says on a banner that the view
// is read only, how it ends, or why the server refused it. It types
// nothing but a session number, so a link cannot make its visitor run
// code.
//
// What is always true:
//   - A handshake that is not version 13, or whose Origin names another
//     host than the request's Host, is refused with an HTTP error saying
//     why (403 for the Origin): a page of another site must not be able
//     to drive a session.
//   - The decoder holds at most 4 KiB read and not yet decoded, plus one
//     control frame's 125 bytes; a data frame or message over MaxMessage
//     is answered with close 1009, any other violation (an unmasked
//     client frame, reserved bits, a stray continuation...) with 1002,
//     and the socket is closed. Text and binary payloads alike are bytes
//     of the telnet stream; text is not checked for UTF-8.
//   - Between two Reads the decoder is at rest, also when a read deadline
//     ended the last one part way through a frame: Frame returns that
//     state and Resume rebuilds the Conn from it in another process, on
//     the same TCP connection, mid-frame if need be. A migration thus
//     keeps the browser's page and WebSocket: same page, new pid.
//   - Close closes this process's descriptor only and sends nothing: a
//     process that handed the socket on closes its copy this way while
//     the successor goes on. A close frame is sent only in answer to the
//     client's close or to a protocol violation, and never waits for a
//     writer (one stuck on a client that does not read).
//
// Why not github.com/coder/websocket or gorilla/websocket: a migration
// passes the established WebSocket's socket to the new process and must
// resume framing there, mid-stream. Neither library can adopt a
// connection that is already upgraded: coder/websocket builds its Conn
// only in Accept and Dial (from an HTTP handshake), gorilla's newConn is
// unexported and its read state (readRemaining, readMaskPos, readMaskKey)
// too; and in both a read deadline that passes mid-frame breaks the
// connection for good (coder's timeoutLoop closes it; gorilla's read
// error is sticky), while a migration's pause is exactly such a deadline.
package web
