// Package telnet speaks the server side of the telnet protocol (RFC 854)
// over a net.Conn, so that the rest of the server sees only what the user
// typed.
//
// What always holds:
//   - Read returns application data only. Every end of line the peer may
//     send (CR LF, CR NUL, bare CR, bare LF) arrives as one '\r', the
//     byte a line editor takes for Enter; IAC IAC arrives as 0xFF; IAC IP
//     and IAC BRK arrive as Ctrl-C (0x03), IAC EC as DEL (0x7f), IAC EL as
//     Ctrl-U (0x15), IAC EOF as Ctrl-D (0x04). Every other command is
//     consumed.
//   - Read is called from one goroutine at a time. Write may be called from
//     any number of goroutines, also while Read runs; each Write and each
//     answer Read owes (negotiation, AYT) reaches the socket whole, the
//     answers in the order Read met what called for them.
//   - Option negotiation follows the Q method of RFC 1143 for both sides of
//     every option: we never answer an acknowledgement, so two endpoints
//     cannot loop however they disagree. We perform ECHO and SGA; we let the
//     peer perform SGA, NAWS and TTYPE; everything else is refused once.
//   - Memory per connection is bounded whatever the peer sends: a
//     subnegotiation keeps at most 512 bytes and a longer one is dropped;
//     answers wait unsent up to 16 KiB and those of one read.
//   - The decoder never waits for a byte that may not come: a CR is
//     delivered at once, and a command split across reads is kept in the
//     Conn until its rest arrives.
//   - Read queues the answers it owes (negotiation, AYT) and a goroutine
//     sends them, alive while some are unsent; an AYT arriving while the
//     answer to an earlier one is unsent is covered by that answer, so no
//     number of AYTs makes Read wait. Read waits for its answers to be
//     written only while it owes more than 16 KiB, which only a flood of
//     negotiation makes it owe: a peer that reads is slowed to its pace,
//     and the stall timeout bounds the wait for one that does not. Only
//     writers hold the lock that orders them while writing to the socket:
//     State and the accessors never wait on the peer.
//   - A write that waits the whole stall timeout (SetStallTimeout, 10 s by
//     default) for the peer to take its next 16 KiB gives up on the peer:
//     the Conn closes the connection, and that write and every later Read
//     and Write fail with ErrNotReading. Nothing else the package does
//     depends on time.
//   - A read deadline set on NetConn stops Read with the deadline's error
//     and loses nothing (a Read waiting for its answers to be written
//     stops once they are, or at the stall timeout). A write deadline stops the sending of answers, and a Read
//     waiting for it, with nothing lost. State then describes the
//     connection exactly, answers still owed included, and Restore
//     continues it, in this process or another.
package telnet
