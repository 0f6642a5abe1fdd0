package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	// pid is the predecessor's pid when it is this process's parent, else
	// 0; pidfd refers to it, or is -1. They tell a dead predecessor from
	// one that closed the handoff while alive (see orphaned).
	pid   int
	pidfd int

	// helloReport: the predecessor reads a report with HELLO
	// (EnvHandoffHello); an older one refuses a HELLO that is not empty.
	helloReport bool
	// update answers the predecessor's UPDATEs in Receive (HandleUpdates);
	// nil: an UPDATE is a protocol error.
	update func(data []byte) []byte

	closeOnce sync.Once
	died      bool // set by orphaned: the predecessor died before COMMIT
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
	if pid, err := strconv.Atoi(pidv); err == nil && pid > 1 && os.Getppid() == pid {
		p.pid = pid
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
//
// A predecessor that dies after the header leaves this process with the
// only copies of what it sent: Receive then returns the listeners and the
// sessions of every batch that arrived whole, and no error (h.Sessions
// still says how many were announced; PredecessorDied reports the death,
// and Ready and WaitCommit return nil). The sessions not sent died with
// the predecessor.
func (p *Predecessor) Receive() (h Header, listeners []*os.File, sessions []Record, err error) {
	var held []int // every descriptor received, closed on error
	defer func() {
		if err != nil {
			closeFDs(held)
		}
	}()
	kind, payload, fds, err := p.ch.readMessage()
	for err == nil && kind == kindUpdate && len(fds) == 0 && p.update != nil {
		answer := p.update(payload)
		if len(answer) > MaxReportSize {
			return Header{}, nil, nil, fmt.Errorf("migrate: an answer to UPDATE of %d bytes, limit %d", len(answer), MaxReportSize)
		}
		if err = p.ch.writeMessage(kindUpdated, nil, answer); err == nil {
			kind, payload, fds, err = p.ch.readMessage()
		}
	}
	held = append(held, fds...)
	if err != nil {
		// Even from a dead predecessor: nothing has arrived to go on with.
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
		if err != nil && p.orphaned() {
			closeFDs(fds) // a batch cut short: its sessions cannot be restored
			break
		}
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
	if closedByPeer(err) {
		return fmt.Errorf("%w: predecessor closed the handoff before %s", ErrAborted, what)
	}
	return fmt.Errorf("migrate: receiving %s: %w", what, err)
}

// HandleUpdates makes Receive answer each UPDATE the predecessor sends
// before the header (Successor.Update) with f's answer, at most
// MaxReportSize bytes. The predecessor still serves meanwhile, and owns
// everything; what f keeps of data is this process's own business. Call it
// before Hello, and say in Hello's report that updates are welcome: a
// predecessor sends none otherwise, and without f an UPDATE is a protocol
// error.
func (p *Predecessor) HandleUpdates(f func(data []byte) []byte) { p.update = f }

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
//
// It returns nil without sending anything when the predecessor has died
// (PredecessorDied): this process holds the only copies of what it
// received, and WaitCommit will return nil. An error means the predecessor
// is alive but has closed the handoff, or cannot be seen: the caller exits
// without touching the descriptors.
func (p *Predecessor) Ready(report []byte) error {
	if len(report) > MaxReportSize {
		return fmt.Errorf("migrate: report of %d bytes, limit %d", len(report), MaxReportSize)
	}
	if p.died {
		return nil
	}
	if err := p.ch.writeMessage(kindReady, nil, report); err != nil {
		if p.orphaned() {
			return nil
		}
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

// WaitCommit waits for the predecessor's COMMIT, then closes the handoff
// socket; that close tells the predecessor COMMIT was taken (see
// Successor.Commit). It returns nil on COMMIT, and also when the
// predecessor has died without sending it (see PredecessorDied): this
// process then holds the only copies of the descriptors and goes on.
//
// WaitCommit has no timer of its own. A predecessor that is merely stopped
// (SIGSTOP) keeps the handoff open, and WaitCommit waits for it: it may
// come back and commit, or abort and resume its sessions, so this process
// can neither go on (two owners) nor give up (none, if the predecessor is
// killed next). The handoff breaking off without COMMIT (the socket
// closed or reset, or another message) is settled by the predecessor's
// state, read from the kernel, not by how long it takes: dead, or exiting
// and then waited for, means go on; alive means it aborted.
//
// It returns an error wrapping ErrAborted when the predecessor, alive,
// closed the handoff or sent something else, or when it cannot be seen (it
// is not this process's parent) and closed the handoff. When ctx ends
// first, WaitCommit withdraws: it closes the handoff with any COMMIT
// unread, which the predecessor sees and resumes its sessions, and returns
// ctx's error (or nil, should the predecessor be dead). ctx is for a
// request to stop, such as a signal; a deadline would be the timer that
// loses every session when a stopped predecessor is killed after it. On an
// error the caller exits without touching the descriptors it received: the
// predecessor still owns the connections.
func (p *Predecessor) WaitCommit(ctx context.Context) error {
	defer p.Close()
	if p.died {
		return nil
	}
	p.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { p.conn.SetDeadline(aLongTimeAgo) })
	defer stop()
	kind, _, fds, err := p.ch.readMessage()
	closeFDs(fds)
	if err == nil && kind == kindCommit && len(fds) == 0 {
		return nil
	}
	if p.orphaned() {
		return nil
	}
	switch {
	case err == nil && len(fds) > 0:
		return fmt.Errorf("%w: predecessor sent descriptors with COMMIT", ErrAborted)
	case err == nil:
		return fmt.Errorf("%w: predecessor sent a message of kind %q instead of COMMIT", ErrAborted, kind)
	case ctx.Err() != nil:
		return fmt.Errorf("migrate: gave up waiting for COMMIT: %w", ctx.Err())
	case closedByPeer(err):
		return fmt.Errorf("%w: predecessor closed the handoff before COMMIT", ErrAborted)
	}
	return fmt.Errorf("%w: waiting for COMMIT: %w", ErrAborted, err)
}

// PredecessorDied reports whether the predecessor died before COMMIT,
// after sending at least the header: Receive, Ready and WaitCommit then go
// on, since this process holds the only copies of what it received.
func (p *Predecessor) PredecessorDied() bool { return p.died }

// closedByPeer reports whether a read or write failed because the other
// end of the handoff is closed. A SEQPACKET peer that closes with messages
// of ours still unread resets the connection (ECONNRESET) rather than
// ending it (EOF): a predecessor killed before it read READY does that.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// orphaned reports whether the predecessor is dead, once the handoff has
// broken off (or ctx ended) without COMMIT; if so it sets died. The
// handoff socket's end closes when the predecessor exits, a moment before
// the exit can be seen, so a predecessor that is exiting is waited for,
// without a time limit: it cannot come back. One that is alive (running or
// stopped) has not died, and one this process cannot see (pid 0) is taken
// for alive: going on beside a live predecessor would make two owners.
func (p *Predecessor) orphaned() bool {
	if p.died {
		return true
	}
	switch p.predecessorState() {
	case predecessorExiting:
		p.waitPredecessorExit()
	case predecessorDead:
	default:
		return false
	}
	p.died = true
	return true
}

type predecessorState int

const (
	predecessorAlive predecessorState = iota
	predecessorExiting
	predecessorDead
	predecessorUnseen // not this process's parent: its fate cannot be read
)

// pfExiting is PF_EXITING (include/linux/sched.h) in the flags field of
// /proc/PID/stat: set in each thread as it starts to exit, before its
// descriptors are closed.
const pfExiting = 0x4

// predecessorState looks at the predecessor once, through its pidfd, this
// process's parent pid (a child is reparented when its parent exits) and
// /proc/PID/stat. The predecessor's descriptors close only after every
// thread of it has set PF_EXITING, so a predecessor whose end of the
// handoff closed as it died is never seen alive.
func (p *Predecessor) predecessorState() predecessorState {
	if p.pid == 0 {
		return predecessorUnseen
	}
	if p.pidfd >= 0 && pidfdReadable(p.pidfd, 0) || os.Getppid() != p.pid {
		return predecessorDead
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	// Still the parent after the read: the stat was not of a reused pid.
	if os.Getppid() != p.pid {
		return predecessorDead
	}
	if err != nil {
		// No /proc: an exit cannot be seen coming. Alive is the answer
		// that never makes two owners.
		return predecessorAlive
	}
	if exitingStat(stat) {
		return predecessorExiting
	}
	return predecessorAlive
}

// exitingStat reports whether a /proc/PID/stat line describes a process
// that is exiting: a zombie or dead state, or PF_EXITING in its flags.
func exitingStat(stat []byte) bool {
	// The command name, in parentheses, may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:])) // state ppid pgrp session tty_nr tpgid flags …
	if len(f) < 7 {
		return false
	}
	if s := f[0]; s == "Z" || s == "X" || s == "x" {
		return true
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// waitPredecessorExit waits until the predecessor has exited: on its pidfd
// when there is one, else by watching for this process to be reparented.
func (p *Predecessor) waitPredecessorExit() {
	if p.pidfd >= 0 && pidfdReadable(p.pidfd, -1) {
		return
	}
	for os.Getppid() == p.pid {
		time.Sleep(10 * time.Millisecond)
	}
}

// pidfdReadable reports whether the process pidfd refers to has exited,
// waiting up to timeout milliseconds (-1: without limit).
func pidfdReadable(pidfd, timeout int) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue // the runtime's preemption signals; a finite wait restarts whole
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
