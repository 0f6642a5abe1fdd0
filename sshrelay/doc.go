// Package sshrelay is the SSH way in: a small process, the relay, that
// terminates SSH and relays each session's plain bytes to the front over
// a Unix connection of its own, as a telnet client would.
//
// Why a process apart: SSH's keys and cipher state live in the process
// that holds the connection, and cannot be handed to another build. The
// front hands the Unix end of each session to its successor like a TCP
// connection, so an SSH session survives every migration of the server;
// the relay itself is upgraded rarely, and an upgrade of it ends the SSH
// connections it holds.
//
// What always holds:
//   - The relay reads no users file: it asks the front (wire.go) whether a
//     password or a public key is a user's, and x/crypto/ssh verifies the
//     signature made with the key.
//   - Only "session" channels are served, and on them only pty-req, shell
//     and window-change; exec is answered with a message on stderr and
//     exit status 1; everything else is refused.
//   - Towards the front the relay is a telnet client (pump.go): 0xFF is
//     doubled, CR is sent as CR NUL; the front's telnet commands are
//     stripped from what the SSH client sees. With a pty, it performs NAWS
//     (and sends the window's size at every window-change) and lets the
//     front ECHO and suppress go-ahead; without one, it agrees to nothing
//     and the front serves it in line mode.
//   - The front's side (ReadRequest) reads one bounded request and not a
//     byte more, so a session's early keystrokes stay in the socket.
package sshrelay
