// Package migrate hands a running service to a new process: listening
// sockets, established connections and per-session state move from the old
// process (the predecessor) to a new one (the successor) with a two-phase
// commit, and a failed handoff leaves the old process as it was. It also
// serves the control socket through which an operator asks a running
// server to migrate.
//
// The package knows nothing of what it moves: a Header with opaque Meta,
// one opaque Record (bytes) per session with the session's connection, and
// the listeners, all as *os.File.
//
// # Invariants
//
// At any point there are one or two processes, and whatever survives has
// exactly one owner, the one process that reads it. The predecessor owns
// every descriptor until the successor takes COMMIT by reading it; the
// successor holds copies from Receive on but uses none until WaitCommit
// returns nil, and WaitCommit closes the handoff before it returns. Bytes
// still in the kernel, or waiting in a listener's backlog, go to whichever
// process reads next.
//
// Until COMMIT is taken the handoff is reversible: on FAIL, on a timeout
// before COMMIT is sent, on the successor's death, or on Send's failure, the
// predecessor calls Abort (which kills and reaps the successor) and
// resumes its sessions; no connection is lost. From the header on, the
// successor holds copies of what it has received, so if the predecessor
// dies before COMMIT the successor goes on with them (PredecessorDied);
// a predecessor that closes the handoff while alive has aborted it.
//
// Once the other process may own the connections, neither side decides on
// a timer; each reads from the kernel what became of the other:
//
//   - The predecessor learns whether COMMIT was taken from how the
//     successor's end of the handoff closes: a SEQPACKET socket closed with
//     a message unread resets its peer (ECONNRESET), one closed with
//     nothing unread ends it (EOF). Commit returns nil on EOF; on a reset,
//     or a write that fails, the successor died or withdrew without
//     reading COMMIT, and the predecessor resumes.
//   - The successor, when the handoff breaks off without COMMIT (EOF, a
//     reset, a failed write, another message), looks at the predecessor,
//     which is its parent: dead, or exiting, means go on with what it
//     holds; alive means the predecessor aborted, and it exits without
//     touching anything. A process's descriptors close only after each of
//     its threads has set PF_EXITING (/proc/PID/stat), so a predecessor
//     whose end closed because it died is never taken for alive, however
//     slowly its exit becomes visible.
//
// A process that is merely stopped (SIGSTOP) keeps its end open, and the
// other waits for it, without limit. A stopped predecessor may be
// continued and commit, or abort and resume its sessions: a successor that
// went on after some time could make two owners, and one that gave up
// after some time would leave none if the predecessor were then killed.
// (Issue 12 lost every session by giving up: a predecessor killed before
// it had read READY resets the successor's end, and WaitCommit took the
// ECONNRESET for an abort.) Likewise a predecessor that has
// written COMMIT
// waits for a stopped successor to read it or die. The sessions stay
// paused meanwhile; that is the price of never having two owners or none.
// WaitCommit's ctx is for a request to stop, not a timeout: the successor
// then withdraws, and a predecessor that is alive resumes.
//
// # States
//
// What each process holds after each message, and who serves if one of
// them is killed there. TestHandoffCrashes kills each side at each of
// these points, in both orders where the other side has a message to send
// meanwhile (it then dies unread, or is never delivered).
//
//	after           predecessor            successor             predecessor killed         successor killed
//	(start)         owns all, serving      holds nothing         nobody¹                    predecessor
//	HELLO           owns all, serving      holds nothing         nobody¹                    predecessor
//	UPDATE, its answer (any number)
//	                owns all, serving      holds nothing⁴        nobody¹                    predecessor
//	HEADER          owns all, paused       the listeners         successor: listeners²      predecessor
//	BATCH k         owns all, paused       + batches 1..k        successor: those²          predecessor
//	READY           owns all, paused       all, restored         successor                  predecessor
//	COMMIT written  waits for the close    all                   successor                  predecessor³
//	COMMIT read     exits (EOF)            owns all; closes      successor                  nobody¹
//
//	¹ the killed process held the only copies: their users see the
//	  connection end
//	² Receive returns what arrived whole; what was not sent dies with the
//	  predecessor
//	³ COMMIT dies unread: the predecessor's read is reset, and it resumes
//	⁴ no descriptor: an UPDATE only brings up to date what the successor
//	  built ahead (copies of state the predecessor still serves)
//
// The survivor learns of the death from the handoff socket: the successor
// by EOF or ECONNRESET on a read, or EPIPE on a write, then the
// predecessor's state (Receive, Ready and WaitCommit go on); the
// predecessor by the same errors (ErrSuccessorExited), then Abort and
// Resume.
//
// # Use
//
// The predecessor, on a migrate request:
//
//	s, err := migrate.Start(ctx, binary, args, os.Stdout, os.Stderr)
//	hello, err := s.WaitStarted(ctx) // optional: what the successor holds already
//	// (Handoff: a Service that is a Preparer does live work here, "recheck",
//	// and may bring what the successor holds up to date: s.Update(ctx, data))
//	// quiesce: stop accepting and reading; keep each session's unread input
//	err = s.Send(ctx, migrate.Header{Meta: meta}, []*os.File{telnetLn, controlLn}, records)
//	report, err := s.WaitReady(ctx) // ctx carries the timeout
//	err = s.Commit() // nil once the successor has read COMMIT; an error if it closed without
//	// on any error: s.Abort(), then resume every session
//	// on success: ctl.Detach(), close every copy without using it (Close,
//	// never CloseWrite or shutdown(2), which end the connection for both
//	// processes), exit
//
// The successor, first thing in main:
//
//	p, err := migrate.Inherited() // nil, nil: not a successor
//	// start up; restore what can be restored ahead of the pause
//	p.HandleUpdates(f) // optional: Receive answers UPDATEs with f
//	err = p.Hello(report) // started: the predecessor may pause now
//	h, listeners, records, err := p.Receive() // on error: p.Fail(err.Error()), exit
//	// restore, then p.Ready(report), or p.Fail(reason) and exit
//	err = p.WaitCommit(ctx) // on error: exit without touching any descriptor
//	// serve (p.PredecessorDied(): without COMMIT, perhaps without some sessions)
//
// # The handoff
//
//	predecessor (old)                          successor (new)
//	Start ── socketpair, fork+exec, fd 3 ──▶   Inherited
//	WaitStarted ◀── HELLO(report) ──────────── Hello
//	Update ── UPDATE(data) ────────────────▶   Receive (HandleUpdates' f)
//	       ◀── UPDATED(answer) ─────────────   (any number, before the header)
//	Send  ── HEADER + listeners ───────────▶   Receive
//	      ── BATCH × n (≤252 conns each) ──▶
//	WaitReady ◀── READY(report) | FAIL(reason) ── Ready | Fail
//	Commit ── COMMIT ──────────────────────▶   WaitCommit
//	       ◀── close (EOF: COMMIT was read) ──
//	(close copies, exit)                       (serve)
//
// The handoff socket is a SOCK_SEQPACKET socket pair created with
// SOCK_CLOEXEC; the successor gets its end as descriptor 3 and learns so
// from the environment (EnvHandoffFD). No filesystem path is involved.
//
// # Wire format
//
// Every packet starts with a kind byte (S hello, U update, u updated,
// H header, B batch, R ready, F fail, C commit) and a flags byte whose bit 0 says the logical message goes on
// in the next packet. Logical messages longer than a packet (64 KiB) are
// cut into packets of the same kind; descriptors (SCM_RIGHTS) ride only on
// a message's first packet. Integers are big-endian.
//
//	hello:   report bytes (empty unless EnvHandoffHello was set: older
//	         predecessors accept only an empty one)
//	header:  "TRNSLCNT" | version u16 | listeners u16 | sessions u32 | meta length u32 | meta
//	         the listeners' descriptors attached, in order
//	batch:   count u16 (1..252) | count × (id u64 | flags u8 | length u32) | data of each record, in order
//	         flags bit 0: the record has a connection; the descriptors attached
//	         belong, in order, to the records so marked
//	update:  opaque bytes (≤ MaxUpdateSize); updated: opaque bytes (≤ MaxReportSize)
//	ready:   report bytes
//	fail:    reason, UTF-8
//	commit:  empty
//
// A batch closes at 252 records or when its data would pass 4 MiB. The
// receiver checks the magic first, then the version (ErrVersion), and
// bounds every count and size (MaxSessions, MaxListeners, MaxRecordSize,
// MaxMetaSize, MaxReportSize); a message grows in memory only as its
// packets arrive. Received descriptors are close-on-exec (the net package
// reads with MSG_CMSG_CLOEXEC); truncated descriptors (MSG_CTRUNC) or data
// (MSG_TRUNC) are errors, and on any error Receive closes every
// descriptor it got.
//
// Send reads descriptor numbers through SyscallConn, never (*os.File).Fd,
// which would switch the shared open file description to blocking mode
// under the predecessor's own net.Conn.
//
// # Control socket
//
// ListenControl serves a Unix stream socket (mode 0600, in a directory
// owned by this user that no one else can write to; one it creates is
// 0700); each client's uid is checked with SO_PEERCRED. One request per connection. Frames are a kind byte, a
// big-endian u32 length and a payload:
//
//	Q  client → server  CBOR Request (≤ 1 MiB)
//	P  server → client  progress text (≤ 64 KiB each, any number)
//	A  server → client  CBOR Response (≤ 16 MiB), the last frame
//
// CBOR is decoded with fixed limits (nesting, map pairs, no tags, no
// indefinite lengths, duplicate keys rejected). A client that hangs up
// cancels its handler's context.
//
// A server hands its control socket to its successor like any listener:
// File gives a descriptor for Send, the successor wraps it with
// ControlFromFile, and the predecessor calls Detach before Close so that
// the socket file stays for the successor.
package migrate
