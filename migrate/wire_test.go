package migrate

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// seqpacketPair returns the two ends of a SOCK_SEQPACKET socket pair.
func seqpacketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "seqpacket")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// devNullFile opens a file to send, closed when the test ends.
func devNullFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// devNulls opens n raw descriptors to send, closed when the test ends.
// Never wrap them in an *os.File, whose finalizer would close them too.
func devNulls(t testing.TB, n int) []int {
	t.Helper()
	fds := make([]int, n)
	for i := range fds {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
	}
	t.Cleanup(func() { closeFDs(fds) })
	return fds
}

func TestMessageRoundTrip(t *testing.T) {
	a, b := seqpacketPair(t)
	wa, rb := newChannel(a), newChannel(b)
	const p = maxPacket - 2 // payload per packet
	for _, size := range []int{0, 1, p - 1, p, p + 1, 2 * p, 3*p + 5} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i * 13)
		}
		errc := make(chan error, 1)
		go func() { errc <- wa.writeMessage(kindReady, nil, msg[:size/2], msg[size/2:]) }()
		kind, got, fds, err := rb.readMessage()
		if werr := <-errc; werr != nil {
			t.Fatalf("size %d: write: %v", size, werr)
		}
		if err != nil || kind != kindReady || len(fds) != 0 || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: got kind %q, %d bytes, fds %v, %v", size, kind, len(got), fds, err)
		}
	}
}

// TestPacketFitsKernelLimit measures the largest SEQPACKET message the
// kernel accepts on a fresh socket and checks maxPacket is under it.
func TestPacketFitsKernelLimit(t *testing.T) {
	a, _ := seqpacketPair(t)
	sndbuf, err := unix.GetsockoptInt(fdOf(t, a), unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1, 1<<24 // lo fits, hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		a2, b2 := seqpacketPair(t)
		_, _, err := a2.WriteMsgUnix(make([]byte, mid), nil, nil)
		a2.Close()
		b2.Close()
		if err == nil {
			lo = mid
		} else if errors.Is(err, syscall.EMSGSIZE) {
			hi = mid
		} else {
			t.Fatal(err)
		}
	}
	t.Logf("SO_SNDBUF %d; largest SEQPACKET message accepted: %d bytes; maxPacket %d", sndbuf, lo, maxPacket)
	if maxPacket > lo {
		t.Errorf("maxPacket %d exceeds the kernel's limit %d", maxPacket, lo)
	}
}

func fdOf(t testing.TB, c *net.UnixConn) int {
	sc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	sc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// TestReceiveRejects feeds Receive hostile handoffs over a real socket and
// checks the error and that every descriptor received was closed.
func TestReceiveRejects(t *testing.T) {
	hdr := func(version, listeners, sessions int, meta string) []byte {
		return encodeHeader(version, listeners, sessions, []byte(meta))
	}
	table := func(conns ...bool) []byte {
		recs := make([]Record, len(conns))
		for i, c := range conns {
			recs[i].ID = uint64(i)
			if c {
				recs[i].Conn = os.Stdin // only its nil-ness counts
			}
		}
		return encodeBatchTable(recs)
	}
	type packet struct {
		b   []byte
		fds int
	}
	pk := func(kind, flags byte, payload []byte, fds int) packet {
		return packet{append([]byte{kind, flags}, payload...), fds}
	}
	for _, tc := range []struct {
		name    string
		packets []packet
		want    string
	}{
		{"bad magic", []packet{pk('H', 0, []byte("XXXXXXXX\x00\x01"), 0)}, "not a translucent handoff"},
		{"version 2", []packet{pk('H', 0, hdr(2, 0, 0, ""), 0)}, "unsupported handoff format version 2 (this build speaks version 1)"},
		{"listener count", []packet{pk('H', 0, hdr(1, 2, 0, ""), 1)}, "names 2 listeners but carries 1"},
		{"too many sessions", []packet{pk('H', 0, hdr(1, 0, MaxSessions+1, ""), 0)}, "sessions, limit"},
		{"meta length", []packet{pk('H', 0, hdr(1, 0, 0, "abc")[:headerSize+1], 0)}, "meta of 3 bytes announced, 1 sent"},
		{"batch first", []packet{pk('B', 0, table(false), 0)}, "before the header"},
		{"unknown kind", []packet{pk('Z', 0, nil, 3)}, "unknown message kind"},
		{"unknown flags", []packet{pk('H', 4, hdr(1, 0, 0, ""), 0)}, "unknown packet flags"},
		{"short packet", []packet{{[]byte{'H'}, 2}}, "packet of 1 bytes"},
		{"conn count", []packet{pk('H', 0, hdr(1, 1, 3, ""), 1), pk('B', 0, table(true, false, true), 3)}, "names 2 connections but carries 3"},
		{"more than announced", []packet{pk('H', 0, hdr(1, 0, 1, ""), 0), pk('B', 0, table(true, true), 2)}, "2 sessions sent, 1 announced"},
		{"duplicate id", []packet{pk('H', 0, hdr(1, 0, 3, ""), 0), pk('B', 0, table(true), 1), pk('B', 0, table(true), 1)}, "session id 0 appears twice"},
		{"record beyond batch", []packet{pk('H', 0, hdr(1, 0, 1, ""), 0), pk('B', 0, append(table(false)[:11], 0, 0, 0, 9), 0)}, "9 bytes announced, 0 left"},
		{"descriptors on continuation", []packet{pk('H', 0, hdr(1, 0, 1, ""), 0), pk('B', flagMore, table(true), 1), pk('B', 0, nil, 2)}, "descriptors on a continuation packet"},
		{"interleaved", []packet{pk('H', flagMore, hdr(1, 0, 0, "")[:4], 0), pk('B', 0, nil, 0)}, "interrupted by kind"},
		{"cut short", []packet{pk('H', flagMore, hdr(1, 0, 0, "")[:4], 0)}, "cut short"},
		{"eof between batches", []packet{pk('H', 0, hdr(1, 1, 3, ""), 1), pk('B', 0, table(true), 1)}, "predecessor closed the handoff before session 1 of 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := seqpacketPair(t)
			sent := 0
			for _, p := range tc.packets {
				var oob []byte
				if p.fds > 0 {
					oob = unix.UnixRights(devNulls(t, p.fds)...)
					sent += p.fds
				}
				if _, _, err := a.WriteMsgUnix(p.b, oob, nil); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
			before := openFDs(t)
			_, ls, recs, err := newPredecessor(b).Receive()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Receive: %v, want an error containing %q", err, tc.want)
			}
			if ls != nil || recs != nil {
				t.Errorf("Receive returned files with its error")
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open before Receive, %d after (%d sent)", before, after, sent)
			}
		})
	}
}

// TestReceiveDetectsCtrunc lowers the descriptor limit so that the
// kernel cannot install every descriptor of a batch.
func TestReceiveDetectsCtrunc(t *testing.T) {
	a, b := seqpacketPair(t)
	ch := newChannel(a)
	if err := ch.writeMessage(kindHeader, nil, encodeHeader(FormatVersion, 0, 10, nil)); err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, 10)
	for i := range recs {
		recs[i] = Record{ID: uint64(i), Conn: os.Stdin}
	}
	if err := ch.writeMessage(kindBatch, devNulls(t, 10), encodeBatchTable(recs)); err != nil {
		t.Fatal(err)
	}
	// Leave room for three more descriptors: those the batch fills.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	open := map[int]bool{}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		open[n] = true
	}
	limit, free := 0, 0
	for ; free < 3; limit++ {
		if !open[limit] {
			free++
		}
	}
	low := lim
	low.Cur = uint64(limit)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Skip("cannot lower RLIMIT_NOFILE:", err)
	}
	before := openFDs(t) // opens one, within the limit
	_, _, _, err := newPredecessor(b).Receive()
	after := openFDs(t)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if err == nil || !strings.Contains(err.Error(), "MSG_CTRUNC") {
		t.Fatalf("Receive: %v, want MSG_CTRUNC", err)
	}
	if after != before {
		t.Errorf("%d descriptors open before Receive, %d after", before, after)
	}
}

// TestSendReceiveInProcess checks Send's batching and Receive's
// reassembly without a process: the listener, nil and non-nil
// connections, empty and large records, in order.
func TestSendReceiveInProcess(t *testing.T) {
	a, b := seqpacketPair(t)
	f0, f1 := devNullFile(t), devNullFile(t)
	var recs []Record
	for i := range 700 {
		r := Record{ID: uint64(1000 - i)}
		switch i % 5 {
		case 0:
			r.Conn = f0
		case 1:
			r.Data = bytes.Repeat([]byte{byte(i)}, 300<<10)
		case 2:
			r.Conn, r.Data = f1, []byte(strconv.Itoa(i))
		}
		recs = append(recs, r)
	}
	errc := make(chan error, 1)
	go func() { errc <- sendState(newChannel(a), Header{Meta: []byte("m")}, []*os.File{f1}, recs) }()
	h, ls, got, err := newPredecessor(b).Receive()
	if werr := <-errc; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range ls {
			f.Close()
		}
		for _, r := range got {
			if r.Conn != nil {
				r.Conn.Close()
			}
		}
	}()
	if h.Version != FormatVersion || h.Sessions != len(recs) || string(h.Meta) != "m" || len(ls) != 1 {
		t.Fatalf("header %+v, %d listeners", h, len(ls))
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].ID != recs[i].ID || !bytes.Equal(got[i].Data, recs[i].Data) || (got[i].Conn == nil) != (recs[i].Conn == nil) {
			t.Fatalf("record %d: got id %d, %d bytes, conn %v", i, got[i].ID, len(got[i].Data), got[i].Conn != nil)
		}
		if got[i].Conn != nil {
			flags, err := unix.FcntlInt(got[i].Conn.Fd(), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Fatalf("record %d: received descriptor not close-on-exec (%v)", i, err)
			}
		}
	}
}

func TestSendValidates(t *testing.T) {
	a, _ := seqpacketPair(t)
	s := &Successor{conn: a, ch: newChannel(a), exited: make(chan struct{})}
	for _, tc := range []struct {
		name string
		h    Header
		ls   []*os.File
		recs []Record
		want string
	}{
		{"meta", Header{Meta: make([]byte, MaxMetaSize+1)}, nil, nil, "meta of"},
		{"record", Header{}, nil, []Record{{Data: make([]byte, MaxRecordSize+1)}}, "record of"},
		{"duplicate", Header{}, nil, []Record{{ID: 4}, {ID: 4}}, "session id 4 appears twice"},
		{"nil listener", Header{}, []*os.File{nil}, nil, "listener 0 is nil"},
	} {
		s.phase = phaseStarted
		if err := s.Send(t.Context(), tc.h, tc.ls, tc.recs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	closed, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	s.phase = phaseStarted
	if err := s.Send(t.Context(), Header{}, nil, []Record{{Conn: closed}}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closed file: %v", err)
	}
}

func TestFailReasonCut(t *testing.T) {
	a, b := seqpacketPair(t)
	p := newPredecessor(a)
	long := strings.Repeat("é", MaxReasonSize) // two bytes each
	errc := make(chan error, 1)
	go func() { errc <- p.Fail(long + "\xff") }()
	kind, got, _, err := newChannel(b).readMessage()
	if werr := <-errc; werr != nil || err != nil {
		t.Fatal(werr, err)
	}
	if kind != kindFail || len(got) > MaxReasonSize || !strings.HasSuffix(string(got), "é…") {
		t.Errorf("kind %q, %d bytes ending %q", kind, len(got), got[max(0, len(got)-8):])
	}
}
