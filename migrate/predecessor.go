package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Predecessor is the new process's handle on the process that started it.
// Its methods are called in order (Receive, Ready or Fail, WaitCommit) by
// one goroutine.
type Predecessor struct {
	conn *net.UnixConn
	ch   *channel
	// pidfd refers to the predecessor, or is -1 when it could not be
	// opened; it tells a dead predecessor from one that closed the socket.
	pidfd int

	// helloReport: the predecessor reads a report with HELLO
	// (EnvHandoffHello); an older one refuses a HELLO that is not empty.
	helloReport bool

	closeOnce sync.Once
	died      bool // set by WaitCommit
}

// Inherited returns the handoff from the process that started this one
// with Start. It returns nil and no error when this process is not a
// successor (EnvHandoffFD is unset), and an error when the variable is set
// but does not name a usable handoff socket. Either way it clears
// EnvHandoffFD and EnvHandoffPID, so that processes this one starts do not
// see them, and makes the socket close-on-exec.
func Inherited() (*Predecessor, error) {
	v, ok := os.LookupEnv(EnvHandoffFD)
	pidv := os.Getenv(EnvHandoffPID)
	hello := os.Getenv(EnvHandoffHello) == "1"
	os.Unsetenv(EnvHandoffFD)
	os.Unsetenv(EnvHandoffPID)
	os.Unsetenv(EnvHandoffHello)
	if !ok {
		return nil, nil
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("migrate: %s=%q is not a descriptor number", EnvHandoffFD, v)
	}
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("migrate: %s=%d is not a SOCK_SEQPACKET socket", EnvHandoffFD, fd)
	}
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_UNIX {
		return nil, fmt.Errorf("migrate: %s=%d is not a Unix socket", EnvHandoffFD, fd)
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "handoff")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("migrate: handoff socket: %w", err)
	}
	p := newPredecessor(fc.(*net.UnixConn))
	p.helloReport = hello
	if pid, err := strconv.Atoi(pidv); err == nil {
		p.pidfd = openParentPidfd(pid)
	}
	return p, nil
}

func newPredecessor(conn *net.UnixConn) *Predecessor {
	return &Predecessor{conn: conn, ch: newChannel(conn), pidfd: -1}
}

// openParentPidfd returns a pidfd for pid if pid is this process's parent,
// else -1. Checking the parent again after opening rules out a reused pid:
// a parent that had died before the open would have left this process
// reparented.
func openParentPidfd(pid int) int {
	if pid <= 1 || os.Getppid() != pid {
		return -1
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1
	}
	if os.Getppid() != pid {
		unix.Close(fd)
		return -1
	}
	unix.CloseOnExec(fd)
	return fd
}

// Receive reads the handoff: the header, the listening sockets and the
// session records, in the order the predecessor sent them. Every
// descriptor is close-on-exec and owned by the caller, who must not use
// them before WaitCommit returns nil: until then the predecessor may take
// the handoff back.
//
// Receive validates everything it reads (magic, format version, counts,
// sizes, descriptor counts, truncation) and on any error closes every
// descriptor it has received. The caller then answers Fail and exits.
func (p *Predecessor) Receive() (h Header, listeners []*os.File, sessions []Record, err error) {
	var held []int // every descriptor received, closed on error
	defer func() {
		if err != nil {
			closeFDs(held)
		}
	}()
	kind, payload, fds, err := p.ch.readMessage()
	held = append(held, fds...)
	if err != nil {
		return Header{}, nil, nil, receiveError("the header", err)
	}
	if kind != kindHeader {
		return Header{}, nil, nil, protocolErrorf("got a message of kind %q before the header", kind)
	}
	h, nl, err := decodeHeader(payload)
	if err != nil {
		return Header{}, nil, nil, err
	}
	if nl != len(fds) {
		return Header{}, nil, nil, protocolErrorf("header names %d listeners but carries %d descriptors", nl, len(fds))
	}
	lfds := fds

	recs := make([]Record, 0, min(h.Sessions, 4096))
	conns := make([]int, 0, min(h.Sessions, 4096)) // per record; -1 for none
	seen := make(map[uint64]struct{}, min(h.Sessions, 4096))
	for len(recs) < h.Sessions {
		kind, payload, fds, err := p.ch.readMessage()
		held = append(held, fds...)
		if err != nil {
			return Header{}, nil, nil, receiveError(fmt.Sprintf("session %d of %d", len(recs), h.Sessions), err)
		}
		if kind != kindBatch {
			return Header{}, nil, nil, protocolErrorf("got a message of kind %q after %d of %d sessions", kind, len(recs), h.Sessions)
		}
		batch, hasConn, err := decodeBatch(payload, len(fds))
		if err != nil {
			return Header{}, nil, nil, err
		}
		if len(batch) > h.Sessions-len(recs) {
			return Header{}, nil, nil, protocolErrorf("%d sessions sent, %d announced", len(recs)+len(batch), h.Sessions)
		}
		for i, r := range batch {
			if _, dup := seen[r.ID]; dup {
				return Header{}, nil, nil, protocolErrorf("session id %d appears twice", r.ID)
			}
			seen[r.ID] = struct{}{}
			fd := -1
			if hasConn[i] {
				fd, fds = fds[0], fds[1:]
			}
			recs = append(recs, r)
			conns = append(conns, fd)
		}
	}

	// Nothing fails from here on: hand the descriptors over as files.
	listeners = make([]*os.File, len(lfds))
	for i, fd := range lfds {
		listeners[i] = os.NewFile(uintptr(fd), "listener-"+strconv.Itoa(i))
	}
	for i, fd := range conns {
		if fd >= 0 {
			recs[i].Conn = os.NewFile(uintptr(fd), "session-"+strconv.FormatUint(recs[i].ID, 10))
		}
	}
	return h, listeners, recs, nil
}

func receiveError(what string, err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: predecessor closed the handoff before %s", ErrAborted, what)
	}
	return fmt.Errorf("migrate: receiving %s: %w", what, err)
}

// Hello tells the predecessor that this process has started and is ready
// to receive; the predecessor waits for it (WaitStarted) before it pauses
// its sessions, so that the new binary's start-up is not part of the pause.
// The report (at most MaxReportSize bytes) says what this process already
// holds; it is advisory, and left out for a predecessor that predates it.
func (p *Predecessor) Hello(report []byte) error {
	if len(report) > MaxReportSize {
		return fmt.Errorf("migrate: report of %d bytes, limit %d", len(report), MaxReportSize)
	}
	if !p.helloReport {
		report = nil
	}
	if err := p.ch.writeMessage(kindHello, nil, report); err != nil {
		return fmt.Errorf("migrate: sending HELLO: %w", err)
	}
	return nil
}

// Ready tells the predecessor that the state is restored, with a report
// (free-form, at most MaxReportSize bytes) that its WaitReady returns.
func (p *Predecessor) Ready(report []byte) error {
	if len(report) > MaxReportSize {
		return fmt.Errorf("migrate: report of %d bytes, limit %d", len(report), MaxReportSize)
	}
	if err := p.ch.writeMessage(kindReady, nil, report); err != nil {
		return fmt.Errorf("migrate: sending READY: %w", err)
	}
	return nil
}

// Fail tells the predecessor that the state was refused, and why; reasons
// over MaxReasonSize bytes are cut. The predecessor then kills this
// process, so the caller need not wait for anything.
func (p *Predecessor) Fail(reason string) error {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) > MaxReasonSize {
		cut := MaxReasonSize - len("…")
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "…"
	}
	if err := p.ch.writeMessage(kindFail, nil, []byte(reason)); err != nil {
		return fmt.Errorf("migrate: sending FAIL: %w", err)
	}
	return nil
}

// predecessorDeathGrace is how long WaitCommit waits, after the handoff
// socket closes, for the predecessor's death to become visible.
const predecessorDeathGrace = 2 * time.Second

// WaitCommit waits for the predecessor's COMMIT and then closes the
// handoff socket. It returns nil on COMMIT, and also when the predecessor
// died after READY without sending it (see PredecessorDied): this process
// then holds the only copies of the descriptors and goes on.
//
// It returns an error wrapping ErrAborted when the predecessor closed the
// handoff while alive, and ctx's error when ctx ends first. On an error
// the caller exits without touching the descriptors it received: the
// predecessor still owns the connections.
func (p *Predecessor) WaitCommit(ctx context.Context) error {
	defer p.Close()
	p.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { p.conn.SetDeadline(aLongTimeAgo) })
	defer stop()
	kind, _, fds, err := p.ch.readMessage()
	closeFDs(fds)
	switch {
	case err == nil && len(fds) > 0:
		return protocolErrorf("predecessor sent descriptors with COMMIT")
	case err == nil && kind == kindCommit:
		return nil
	case err == nil:
		return protocolErrorf("got a message of kind %q while COMMIT was awaited", kind)
	case ctx.Err() != nil:
		return fmt.Errorf("migrate: waiting for COMMIT: %w", ctx.Err())
	case errors.Is(err, io.EOF):
		if p.waitPredecessorDeath(predecessorDeathGrace) {
			p.died = true
			return nil
		}
		return fmt.Errorf("%w: predecessor closed the handoff before COMMIT", ErrAborted)
	}
	return fmt.Errorf("migrate: waiting for COMMIT: %w", err)
}

// PredecessorDied reports whether WaitCommit returned nil because the
// predecessor died after READY rather than because it sent COMMIT.
func (p *Predecessor) PredecessorDied() bool { return p.died }

// waitPredecessorDeath reports whether the predecessor exits within d.
// Its descriptors close before its exit is visible, so a socket closed by
// a dying predecessor is seen a moment before the death.
func (p *Predecessor) waitPredecessorDeath(d time.Duration) bool {
	if p.pidfd < 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(d)
	for {
		n, err := unix.Poll(fds, int(max(0, time.Until(deadline).Milliseconds())))
		if err == unix.EINTR && time.Now().Before(deadline) {
			continue
		}
		return err == nil && n > 0
	}
}

// Close closes the handoff socket. It is safe to call more than once.
func (p *Predecessor) Close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.conn.Close()
		if p.pidfd >= 0 {
			unix.Close(p.pidfd)
		}
	})
	return err
}
