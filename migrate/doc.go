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
// At any point there are one or two processes. The predecessor owns every
// descriptor until Commit returns; the successor holds copies from Receive
// on but does not use them until WaitCommit returns nil. Exactly one of
// them therefore ever reads a connection, and bytes still in the kernel,
// or waiting in a listener's backlog, go to whichever process reads next.
//
// Until COMMIT the handoff is reversible: on FAIL, on a timeout, on the
// successor's death, or on Send's failure, the predecessor calls Abort
// (which kills and reaps the successor) and resumes its sessions; no
// connection is lost. Once READY has been sent the successor holds every
// descriptor, so if the predecessor dies before COMMIT the successor goes
// on (WaitCommit returns nil and PredecessorDied reports it); a
// predecessor that closes the handoff while alive has aborted it.
//
// # Use
//
// The predecessor, on a migrate request:
//
//	s, err := migrate.Start(ctx, binary, args, os.Stdout, os.Stderr)
//	hello, err := s.WaitStarted(ctx) // optional: what the successor holds already
//	// (Handoff: a Service that is a Preparer does live work here, "recheck")
//	// quiesce: stop accepting and reading; keep each session's unread input
//	err = s.Send(ctx, migrate.Header{Meta: meta}, []*os.File{telnetLn, controlLn}, records)
//	report, err := s.WaitReady(ctx) // ctx carries the timeout
//	err = s.Commit()
//	// on any error: s.Abort(), then resume every session
//	// on success: ctl.Detach(), close every copy without using it (Close,
//	// never CloseWrite or shutdown(2), which end the connection for both
//	// processes), exit
//
// The successor, first thing in main:
//
//	p, err := migrate.Inherited() // nil, nil: not a successor
//	// start up; restore what can be restored ahead of the pause
//	err = p.Hello(report) // started: the predecessor may pause now
//	h, listeners, records, err := p.Receive() // on error: p.Fail(err.Error()), exit
//	// restore, then p.Ready(report), or p.Fail(reason) and exit
//	err = p.WaitCommit(ctx) // on error: exit without touching any descriptor
//	// serve
//
// # The handoff
//
//	predecessor (old)                          successor (new)
//	Start ── socketpair, fork+exec, fd 3 ──▶   Inherited
//	WaitStarted ◀── HELLO(report) ──────────── Hello
//	Send  ── HEADER + listeners ───────────▶   Receive
//	      ── BATCH × n (≤252 conns each) ──▶
//	WaitReady ◀── READY(report) | FAIL(reason) ── Ready | Fail
//	Commit ── COMMIT, close ───────────────▶   WaitCommit
//	(close copies, exit)                       (serve)
//
// The handoff socket is a SOCK_SEQPACKET socket pair created with
// SOCK_CLOEXEC; the successor gets its end as descriptor 3 and learns so
// from the environment (EnvHandoffFD). No filesystem path is involved.
//
// # Wire format
//
// Every packet starts with a kind byte (S hello, H header, B batch, R ready,
// F fail, C commit) and a flags byte whose bit 0 says the logical message goes on
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
