// Package telnet speaks the server side of the telnet protocol (RFC 854)
// over a net.Conn, so that the rest of the server sees only what the user
// typed.
//
// What always holds:
//   - Read returns application data only. Every end of line the peer may
//     send (CR LF, CR NUL, bare CR, bare LF) arrives as one '\r', the
//     byte a line editor takes for Enter; IAC IAC arrives as 0xFF; IAC IP
//     and IAC BRK arrive as Ctrl-C (0x03), IAC EC as DEL (0x7f), IAC EL as
//     Ctrl-U (0x15). Every other command is consumed.
//   - Read is called from one goroutine at a time. Write may be called from
//     any number of goroutines, also while Read runs; each Write and each
//     reply Read sends (negotiation, AYT) reaches the socket whole.
//   - Option negotiation follows the Q method of RFC 1143 for both sides of
//     every option: we never answer an acknowledgement, so two endpoints
//     cannot loop however they disagree. We perform ECHO and SGA; we let the
//     peer perform SGA, NAWS and TTYPE; everything else is refused once.
//   - Memory per connection is bounded whatever the peer sends: a
//     subnegotiation keeps at most 512 bytes and a longer one is dropped.
//   - The decoder never waits for a byte that may not come: a CR is
//     delivered at once, and a command split across reads is kept in the
//     Conn until its rest arrives.
//   - Nothing the package does depends on time. A read deadline set on
//     NetConn stops Read with the deadline's error and loses nothing: State
//     then describes the connection exactly, and Restore continues it, in
//     this process or another.
package telnet
