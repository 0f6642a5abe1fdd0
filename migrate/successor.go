package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Environment variables through which Start tells the new process it is a
// successor. Inherited reads and clears them.
const (
	EnvHandoffFD  = "TRANSLUCENT_HANDOFF_FD"  // the handoff socket's descriptor number
	EnvHandoffPID = "TRANSLUCENT_HANDOFF_PID" // the predecessor's pid
	// EnvHandoffHello says the predecessor reads a report with HELLO; a
	// build that predates it sees none, so its successors send none.
	EnvHandoffHello = "TRANSLUCENT_HANDOFF_HELLO"
)

// handoffFD is the successor's descriptor number of its end of the handoff
// socket: the first of cmd.ExtraFiles.
const handoffFD = 3

var (
	// ErrSuccessorExited reports a successor that died before READY.
	ErrSuccessorExited = errors.New("migrate: successor exited")
	// ErrRefused reports a successor that answered FAIL.
	ErrRefused = errors.New("migrate: successor refused the state")
	// ErrTimeout reports a successor that did not answer in time.
	ErrTimeout = errors.New("migrate: timed out")
	// ErrAborted reports a handoff that Abort ended, or, in the successor, a
	// predecessor that closed the handoff without COMMIT.
	ErrAborted = errors.New("migrate: handoff aborted")
)

// Header opens a handoff.
type Header struct {
	// Version is the wire format version. Send ignores it and sends
	// FormatVersion; Receive rejects any other with ErrVersion.
	Version int
	// Sessions is the number of records that follow. Send ignores it and
	// sends the number it is given.
	Sessions int
	// Meta is opaque to this package (for instance the predecessor's pid
	// and version, encoded by the caller); at most MaxMetaSize bytes.
	Meta []byte
}

// Record is one session: opaque bytes and the session's connection.
type Record struct {
	// ID names the session; IDs are unique within a handoff.
	ID uint64
	// Data is the session's state, at most MaxRecordSize bytes. Received
	// records of one batch share a backing array.
	Data []byte
	// Conn is the session's connection, or nil. In Receive's result it is
	// close-on-exec and owned by the caller.
	Conn *os.File
	// Sock, when Conn is nil, is a connection whose own descriptor is
	// sent: no duplicate, so that a server with 10,000 connections does
	// not need 10,000 more descriptors to hand them over. Send and
	// Handoff neither close nor otherwise change it.
	Sock syscall.Conn
}

// hasConn reports whether r carries a connection.
func (r *Record) hasConn() bool { return r.Conn != nil || r.Sock != nil }

// Successor is the old process's handle on a new process started by Start.
// Its methods are called in order (Send, WaitReady, Commit) by one
// goroutine; Abort may be called at any time from any goroutine.
type Successor struct {
	cmd     *exec.Cmd
	conn    *net.UnixConn
	ch      *channel
	started time.Time
	hello   bool          // WaitStarted read HELLO
	exited  chan struct{} // closed once the process has been reaped; then cmd.ProcessState is set

	closeOnce sync.Once

	mu    sync.Mutex
	phase phase // guarded by mu
}

type phase int

const (
	phaseStarted phase = iota
	phaseSending
	phaseSent
	phaseReady
	phaseCommitting // COMMIT written; the successor's close says whether it took it
	phaseCommitted
	phaseAborted
)

func (p phase) String() string {
	switch p {
	case phaseStarted:
		return "started"
	case phaseSending:
		return "sending"
	case phaseSent:
		return "sent"
	case phaseReady:
		return "ready"
	case phaseCommitting:
		return "committing"
	case phaseCommitted:
		return "committed"
	}
	return "aborted"
}

// Start launches binary with args as a successor: it gives the new process
// one end of a fresh SOCK_SEQPACKET socket pair as descriptor 3 and sets
// EnvHandoffFD and EnvHandoffPID in its environment, which is otherwise
// this process's. No filesystem path is involved, so nothing else can
// connect to the handoff.
//
// The successor's standard output and error go to stdout and stderr (nil
// discards). Pass *os.File values (os.Stdout, os.Stderr) so that the
// successor inherits them: any other writer is fed through a pipe that
// dies with this process, after which the successor's writes to it fail.
//
// The successor is not tied to ctx, which only bounds how long Start
// waits for its process to start: a committed successor outlives
// everything here. A binary that
// is missing or not executable gives an error and no process.
func Start(ctx context.Context, binary string, args []string, stdout, stderr io.Writer) (*Successor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("migrate: starting successor: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("migrate: handoff socket pair: %w", os.NewSyscallError("socketpair", err))
	}
	ours := os.NewFile(uintptr(fds[0]), "handoff")
	theirs := os.NewFile(uintptr(fds[1]), "handoff-successor")
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, fmt.Errorf("migrate: handoff socket: %w", err)
	}
	conn := fc.(*net.UnixConn)

	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Env = append(withoutHandoffEnv(os.Environ()),
		EnvHandoffFD+"="+strconv.Itoa(handoffFD),
		EnvHandoffPID+"="+strconv.Itoa(os.Getpid()),
		EnvHandoffHello+"=1")
	// Bounds Wait when a grandchild keeps a stdout pipe open.
	cmd.WaitDelay = 2 * time.Second

	// cmd.Start returns once the forked child has called exec: a child
	// stopped (SIGSTOP) before its exec holds it until it runs again.
	// So it runs on its own goroutine, and Start gives up at ctx's end.
	// A process that starts after that is killed at once; its handoff
	// socket, closed here, is dead anyway.
	result := make(chan error)
	abandoned := make(chan struct{})
	go func() { // ends when cmd.Start returns (and, if abandoned, its process is reaped)
		err := startProcess(cmd)
		theirs.Close()
		select {
		case result <- err:
		case <-abandoned:
			if err == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}
	}()
	select {
	case err = <-result:
	case <-ctx.Done():
		close(abandoned)
		conn.Close()
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = ErrTimeout
		}
		return nil, fmt.Errorf("migrate: starting successor %s: %w: its process was not running yet (a child stopped before its exec?)", binary, err)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("migrate: starting successor %s: %w", binary, err)
	}
	s := &Successor{
		cmd:     cmd,
		conn:    conn,
		ch:      newChannel(conn),
		started: time.Now(),
		exited:  make(chan struct{}),
	}
	go func() { // ends when the successor exits
		cmd.Wait() // its error is read from cmd.ProcessState
		close(s.exited)
	}()
	return s, nil
}

// commitWait bounds the wait for a successor to take COMMIT: one read
// and a close, unless it is stopped or hung.
var commitWait = 30 * time.Second

// startProcess starts a successor's process; the tests replace it with
// one that blocks as a child stopped before its exec does.
var startProcess = (*exec.Cmd).Start

func withoutHandoffEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvHandoffFD+"=") || strings.HasPrefix(kv, EnvHandoffPID+"=") || strings.HasPrefix(kv, EnvHandoffHello+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Pid returns the successor's process id.
func (s *Successor) Pid() int { return s.cmd.Process.Pid }

// Send sends the header, the listening sockets and the sessions. Records
// travel in batches of at most 252, each batch's connections attached to
// its first packet; record data is cut into 64 KiB packets and reassembled
// by Receive. Only h.Meta is taken from h: the wire carries FormatVersion
// and len(sessions).
//
// The caller keeps every file open and does not use the connections until
// the handoff is committed or aborted. Descriptors are read with
// SyscallConn, so their blocking mode, shared with the caller's own
// net.Conn, is untouched.
//
// Send fails, without touching the caller's files, if the limits are
// exceeded, an ID repeats, a file is closed, ctx ends, or the successor
// dies (the error then says how). After an error the caller calls Abort.
func (s *Successor) Send(ctx context.Context, h Header, listeners []*os.File, sessions []Record) error {
	if err := s.enter(phaseStarted, phaseSending); err != nil {
		return err
	}
	if err := validateSend(h, listeners, sessions); err != nil {
		return err
	}
	stop := s.deadlineOn(ctx)
	defer stop()
	if err := sendState(s.ch, h, listeners, sessions); err != nil {
		var se *sendError
		if errors.As(err, &se) {
			return s.ioError(ctx, "while receiving the state", "sending "+se.what, se.err)
		}
		return err
	}
	return s.enter(phaseSending, phaseSent)
}

// sendError is a failed write of the handoff, as opposed to a bad argument.
type sendError struct {
	what string
	err  error
}

func (e *sendError) Error() string { return "sending " + e.what + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// sendState writes a validated handoff to ch: the header with the
// listeners, then the records in batches.
func sendState(ch *channel, h Header, listeners []*os.File, sessions []Record) error {
	lfds := make([]int, len(listeners))
	for i, f := range listeners {
		var err error
		if lfds[i], err = fileFD(f); err != nil {
			return fmt.Errorf("migrate: listener %d: %w", i, err)
		}
	}
	defer runtime.KeepAlive(listeners)
	defer runtime.KeepAlive(sessions)
	if err := ch.writeMessage(kindHeader, lfds, encodeHeader(FormatVersion, len(listeners), len(sessions), h.Meta)); err != nil {
		return &sendError{"the header", err}
	}
	parts := make([][]byte, 0, 1+maxFDsPerPacket)
	fds := make([]int, 0, maxFDsPerPacket)
	for i := 0; i < len(sessions); {
		start, size := i, 0
		for i < len(sessions) && i-start < maxFDsPerPacket &&
			(i == start || size+len(sessions[i].Data) <= batchDataTarget) {
			size += len(sessions[i].Data)
			i++
		}
		batch := sessions[start:i]
		parts, fds = append(parts[:0], encodeBatchTable(batch)), fds[:0]
		for j, r := range batch {
			parts = append(parts, r.Data)
			if r.hasConn() {
				fd, err := recordFD(&r)
				if err != nil {
					return fmt.Errorf("migrate: session %d (record %d): %w", r.ID, start+j, err)
				}
				fds = append(fds, fd)
			}
		}
		if err := ch.writeMessage(kindBatch, fds, parts...); err != nil {
			return &sendError{fmt.Sprintf("sessions %d to %d", start, i-1), err}
		}
	}
	return nil
}

func validateSend(h Header, listeners []*os.File, sessions []Record) error {
	switch {
	case len(listeners) > MaxListeners:
		return fmt.Errorf("migrate: %d listeners, limit %d", len(listeners), MaxListeners)
	case len(sessions) > MaxSessions:
		return fmt.Errorf("migrate: %d sessions, limit %d", len(sessions), MaxSessions)
	case len(h.Meta) > MaxMetaSize:
		return fmt.Errorf("migrate: header meta of %d bytes, limit %d", len(h.Meta), MaxMetaSize)
	}
	for i, f := range listeners {
		if f == nil {
			return fmt.Errorf("migrate: listener %d is nil", i)
		}
	}
	seen := make(map[uint64]struct{}, len(sessions))
	for _, r := range sessions {
		if len(r.Data) > MaxRecordSize {
			return fmt.Errorf("migrate: session %d: record of %d bytes, limit %d", r.ID, len(r.Data), MaxRecordSize)
		}
		if _, dup := seen[r.ID]; dup {
			return fmt.Errorf("migrate: session id %d appears twice", r.ID)
		}
		seen[r.ID] = struct{}{}
	}
	return nil
}

// WaitStarted waits until the successor says it has started (Hello), so
// that its start-up can overlap nothing the users wait for, and returns
// the successor's report (empty from a build that sends none). Errors are
// as for WaitReady. Calling it is optional; it must come before Send.
func (s *Successor) WaitStarted(ctx context.Context) ([]byte, error) {
	if err := s.enter(phaseStarted, phaseStarted); err != nil {
		return nil, err
	}
	stop := s.deadlineOn(ctx)
	defer stop()
	kind, payload, fds, err := s.ch.readMessage()
	closeFDs(fds)
	if err != nil {
		return nil, s.ioError(ctx, "before HELLO", "waiting for HELLO", err)
	}
	if kind == kindFail {
		return nil, fmt.Errorf("%w before receiving anything", ErrRefused)
	}
	if kind != kindHello || len(fds) > 0 {
		return nil, protocolErrorf("successor sent a message of kind %q while HELLO was awaited", kind)
	}
	s.hello = true
	return payload, nil
}

// Update sends data (at most MaxUpdateSize bytes) to a successor that
// said in its HELLO that it takes updates (Predecessor.HandleUpdates), and
// returns its answer. It comes after WaitStarted and before Send, while
// this process still serves and owns everything: a successor that dies
// meanwhile takes nothing with it. Errors are as for WaitReady; after one
// the caller calls Abort.
func (s *Successor) Update(ctx context.Context, data []byte) ([]byte, error) {
	if err := s.enter(phaseStarted, phaseStarted); err != nil {
		return nil, err
	}
	if !s.hello {
		return nil, errors.New("migrate: Update before WaitStarted")
	}
	if len(data) > MaxUpdateSize {
		return nil, fmt.Errorf("migrate: update of %d bytes, limit %d", len(data), MaxUpdateSize)
	}
	stop := s.deadlineOn(ctx)
	defer stop()
	if err := s.ch.writeMessage(kindUpdate, nil, data); err != nil {
		return nil, s.ioError(ctx, "during an UPDATE", "sending UPDATE", err)
	}
	kind, payload, fds, err := s.ch.readMessage()
	closeFDs(fds)
	switch {
	case err != nil:
		return nil, s.ioError(ctx, "during an UPDATE", "waiting for its answer", err)
	case kind == kindFail:
		return nil, fmt.Errorf("%w: %s", ErrRefused, payload)
	case kind != kindUpdated || len(fds) > 0:
		return nil, protocolErrorf("successor sent a message of kind %q while the answer to UPDATE was awaited", kind)
	}
	return payload, nil
}

// WaitReady waits for the successor's answer. It returns the successor's
// report on READY. Otherwise the error says what happened:
// ErrRefused with the successor's reason, ErrSuccessorExited with its exit
// status, ErrTimeout when ctx's deadline passed, or ctx's error when ctx
// was cancelled. After an error the caller calls Abort.
func (s *Successor) WaitReady(ctx context.Context) ([]byte, error) {
	if err := s.enter(phaseSent, phaseSent); err != nil {
		return nil, err
	}
	stop := s.deadlineOn(ctx)
	defer stop()
	kind, payload, fds, err := s.ch.readMessage()
	if err == nil && kind == kindHello && len(fds) == 0 {
		// The successor's HELLO, when WaitStarted did not read it.
		kind, payload, fds, err = s.ch.readMessage()
	}
	closeFDs(fds)
	if err != nil {
		return nil, s.ioError(ctx, "before READY", "waiting for READY", err)
	}
	if len(fds) > 0 {
		return nil, protocolErrorf("successor sent descriptors")
	}
	switch kind {
	case kindReady:
		if err := s.enter(phaseSent, phaseReady); err != nil {
			return nil, err
		}
		return payload, nil
	case kindFail:
		return nil, fmt.Errorf("%w: %s", ErrRefused, payload)
	}
	return nil, protocolErrorf("successor sent a message of kind %q while READY was awaited", kind)
}

// Commit tells a successor that answered READY to go on, waits until it
// has taken COMMIT, and closes this side of the handoff socket. From then
// on the successor owns every descriptor; the caller closes its copies
// without using them, and exits. An error means the successor did not
// take COMMIT: it was gone before COMMIT was written, or it closed its end
// with COMMIT unread (it died, or withdrew); the caller then calls Abort
// and resumes its sessions.
//
// The successor takes COMMIT by reading it, and closes its end of the
// handoff before it touches any descriptor (WaitCommit). A SEQPACKET
// socket closed with a message unread resets its peer (ECONNRESET), where
// one closed with nothing unread ends it (EOF): so the way the successor's
// end closes, whether it exits or dies, says which happened. Commit waits
// for that close until commitWait has passed: a successor stopped
// (SIGSTOP) before it read COMMIT may still read it, so resuming the
// sessions here while it lives could make two owners. Past commitWait,
// Commit kills it (SIGKILL) and waits until it has been reaped: dead, it
// owns nothing, whatever it read, and the handoff fails (ErrTimeout) with
// the sessions still here.
func (s *Successor) Commit() error {
	// mu is held across the write so that a concurrent Abort either comes
	// first (no COMMIT is sent) or finds the handoff committing (and leaves
	// the successor alone), never kills a successor that was told to go on.
	s.mu.Lock()
	if err := s.checkPhaseLocked(phaseReady); err != nil {
		s.mu.Unlock()
		return err
	}
	err := s.ch.writeMessage(kindCommit, nil)
	if err == nil {
		s.phase = phaseCommitting
	}
	s.mu.Unlock()
	if err != nil {
		return s.ioError(context.Background(), "before COMMIT", "sending COMMIT", err)
	}
	taken, err := s.commitTaken(time.Now().Add(commitWait))
	if !taken {
		s.enter(phaseCommitting, phaseAborted) // Abort kills what is left of the successor
		return err
	}
	s.enter(phaseCommitting, phaseCommitted)
	s.closeConn()
	return nil
}

// commitTaken waits until the successor's end of the handoff closes, and
// reports whether it had read COMMIT by then.
func (s *Successor) commitTaken(deadline time.Time) (bool, error) {
	s.conn.SetDeadline(deadline)
	for {
		_, _, fds, err := s.ch.readMessage()
		closeFDs(fds)
		switch {
		case err == nil, errors.Is(err, ErrProtocol):
			// Nothing the successor says after READY changes anything;
			// only the close does.
		case errors.Is(err, io.EOF):
			return true, nil
		case errors.Is(err, syscall.ECONNRESET):
			return false, s.ioError(context.Background(), "before taking COMMIT", "waiting for the successor to take COMMIT", err)
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline):
			// Set by an earlier step's ctx as it ended (deadlineOn's
			// stop does not wait for it).
			s.conn.SetDeadline(deadline)
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.cmd.Process.Kill()
			<-s.exited
			return false, fmt.Errorf("%w: the successor did not take COMMIT within %v; it was killed", ErrTimeout, commitWait)
		default:
			// A failure that says nothing about COMMIT. Resuming could
			// make two owners; going on makes at worst none.
			return true, nil
		}
	}
}

// Abort ends the handoff: unless COMMIT has been written, it kills the
// successor (SIGKILL), waits until it has been reaped, and closes this
// side of the handoff socket. It unblocks a concurrent Send or WaitReady.
// It is safe to call at any point and more than once. Once COMMIT has
// been written it leaves the successor alone: Commit's result says
// whether the handoff committed, and after a Commit that failed Abort
// kills the successor; after one that succeeded it only releases the
// socket.
func (s *Successor) Abort() {
	s.mu.Lock()
	ph := s.phase
	if ph != phaseCommitting && ph != phaseCommitted {
		s.phase = phaseAborted
	}
	s.mu.Unlock()
	switch ph {
	case phaseCommitting:
		return // Commit closes the socket when it knows
	case phaseCommitted:
	default:
		s.cmd.Process.Kill() // fails only when it has already exited
		<-s.exited
	}
	s.closeConn()
}

func (s *Successor) closeConn() { s.closeOnce.Do(func() { s.conn.Close() }) }

// enter moves from phase from to phase to, or says why the call is out of
// order.
func (s *Successor) enter(from, to phase) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkPhaseLocked(from); err != nil {
		return err
	}
	s.phase = to
	return nil
}

func (s *Successor) checkPhaseLocked(want phase) error {
	switch {
	case s.phase == phaseAborted:
		return ErrAborted
	case s.phase != want:
		return fmt.Errorf("migrate: handoff step out of order: the handoff is %v, not %v", s.phase, want)
	}
	return nil
}

// deadlineOn makes ctx's end interrupt the socket's I/O until stop is
// called.
func (s *Successor) deadlineOn(ctx context.Context) (stop func() bool) {
	s.conn.SetDeadline(time.Time{})
	return context.AfterFunc(ctx, func() { s.conn.SetDeadline(aLongTimeAgo) })
}

var aLongTimeAgo = time.Unix(1, 0)

// exitGrace is how long a closed handoff socket is given to turn into an
// exit status.
const exitGrace = 2 * time.Second

// ioError explains a failed read or write on the handoff socket: abort,
// timeout, cancellation, the successor's death (when) or a plain error
// while doing what.
func (s *Successor) ioError(ctx context.Context, when, what string, err error) error {
	s.mu.Lock()
	aborted := s.phase == phaseAborted
	s.mu.Unlock()
	switch {
	case aborted:
		return fmt.Errorf("%w while %s", ErrAborted, what)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %v %s", ErrTimeout, time.Since(s.started).Round(10*time.Millisecond), what)
	case ctx.Err() != nil:
		return fmt.Errorf("migrate: %s: %w", what, ctx.Err())
	case errors.Is(err, io.EOF), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		select {
		case <-s.exited:
			return fmt.Errorf("%w %s %s", ErrSuccessorExited, exitDescription(s.cmd.ProcessState), when)
		case <-time.After(exitGrace):
			return fmt.Errorf("migrate: %s: successor (pid %d) closed the handoff socket: %w", what, s.Pid(), err)
		}
	}
	return fmt.Errorf("migrate: %s: %w", what, err)
}

func exitDescription(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("on signal %v", ws.Signal())
	}
	return fmt.Sprintf("with status %d", ps.ExitCode())
}

// recordFD returns the descriptor of r's connection, without changing its
// blocking mode (see fileFD).
func recordFD(r *Record) (int, error) {
	if r.Conn != nil {
		return fileFD(r.Conn)
	}
	sc, err := r.Sock.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := sc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}
