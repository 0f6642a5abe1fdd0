package migrate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// FormatVersion is the version of the handoff wire format this build
// speaks. Receive rejects any other version with ErrVersion.
const FormatVersion = 1

// Limits of the handoff. Send refuses to exceed them and Receive rejects a
// predecessor that does, so hostile or corrupt input can neither panic the
// receiver nor make it allocate more than the predecessor actually sends.
const (
	MaxSessions   = 1 << 20  // sessions in one handoff
	MaxListeners  = 16       // listening sockets in one handoff
	MaxRecordSize = 64 << 20 // bytes of one session record
	MaxMetaSize   = 1 << 20  // bytes of Header.Meta
	MaxReportSize = 16 << 20 // bytes of the successor's READY report
	MaxReasonSize = 64 << 10 // bytes of a FAIL reason (longer ones are cut)
	MaxUpdateSize = 16 << 20 // bytes of one UPDATE
)

const (
	// maxFDsPerPacket is the number of descriptors one sendmsg carries.
	// Linux allows 253 (SCM_MAX_FD); musl's limit is 252.
	maxFDsPerPacket = 252
	// maxPacket is the size of one SEQPACKET datagram, kind and flags
	// included. The kernel's limit is about the socket's send buffer
	// (net.core.wmem_default, 212992 bytes by default); 64 KiB stays well
	// under it, so logical messages larger than this are cut into packets.
	maxPacket = 64 << 10
	// batchDataTarget closes a batch before its records' data would pass
	// it (a batch always holds at least one record), bounding the memory a
	// batch pins on both sides.
	batchDataTarget = 4 << 20

	headerSize     = 8 + 2 + 2 + 4 + 4 // magic, version, listeners, sessions, meta length
	batchEntrySize = 8 + 1 + 4         // id, flags, data length
	maxBatchTable  = 2 + maxFDsPerPacket*batchEntrySize
)

// Packet kinds: the first byte of every packet.
const (
	kindHeader = 'H' // predecessor → successor: Header, listeners attached
	kindBatch  = 'B' // predecessor → successor: records, their connections attached
	kindCommit = 'C' // predecessor → successor: go on
	kindReady  = 'R' // successor → predecessor: restored, with a report
	kindFail   = 'F' // successor → predecessor: refused, with a reason
	kindHello  = 'S' // successor → predecessor: started, ready to receive, with a report
	// Before the header, while the predecessor still serves: what the
	// successor holds ahead, brought up to date (Successor.Update).
	kindUpdate  = 'U' // predecessor → successor: opaque bytes
	kindUpdated = 'u' // successor → predecessor: its answer, opaque bytes
)

// flagMore, in a packet's second byte, says the logical message goes on in
// the next packet, which has the same kind and carries no descriptors.
const flagMore = 1

// magic opens every header, so a stray peer is told apart from an old build.
var magic = [8]byte{'T', 'R', 'N', 'S', 'L', 'C', 'N', 'T'}

var (
	// ErrProtocol reports a handoff message that breaks the wire format.
	ErrProtocol = errors.New("migrate: protocol error")
	// ErrVersion reports a predecessor speaking another wire format version.
	ErrVersion = errors.New("migrate: unsupported handoff format version")
)

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// messageLimit is the largest logical message of each kind a receiver
// accepts; ok is false for an unknown kind.
func messageLimit(kind byte) (limit int, ok bool) {
	switch kind {
	case kindHeader:
		return headerSize + MaxMetaSize, true
	case kindBatch:
		return maxBatchTable + max(batchDataTarget, MaxRecordSize), true
	case kindCommit:
		return 0, true
	case kindReady, kindHello, kindUpdated:
		return MaxReportSize, true
	case kindUpdate:
		return MaxUpdateSize, true
	case kindFail:
		return MaxReasonSize, true
	}
	return 0, false
}

func encodeHeader(version, listeners, sessions int, meta []byte) []byte {
	b := make([]byte, headerSize, headerSize+len(meta))
	copy(b, magic[:])
	binary.BigEndian.PutUint16(b[8:], uint16(version))
	binary.BigEndian.PutUint16(b[10:], uint16(listeners))
	binary.BigEndian.PutUint32(b[12:], uint32(sessions))
	binary.BigEndian.PutUint32(b[16:], uint32(len(meta)))
	return append(b, meta...)
}

// decodeHeader parses a header message. Meta aliases b.
func decodeHeader(b []byte) (h Header, listeners int, err error) {
	if len(b) < 10 || [8]byte(b[:8]) != magic {
		return Header{}, 0, protocolErrorf("not a translucent handoff header")
	}
	if v := int(binary.BigEndian.Uint16(b[8:])); v != FormatVersion {
		return Header{}, 0, fmt.Errorf("%w %d (this build speaks version %d)", ErrVersion, v, FormatVersion)
	}
	if len(b) < headerSize {
		return Header{}, 0, protocolErrorf("header of %d bytes, want at least %d", len(b), headerSize)
	}
	listeners = int(binary.BigEndian.Uint16(b[10:]))
	sessions := binary.BigEndian.Uint32(b[12:])
	metaLen := binary.BigEndian.Uint32(b[16:])
	switch {
	case listeners > MaxListeners:
		return Header{}, 0, protocolErrorf("%d listeners, limit %d", listeners, MaxListeners)
	case sessions > MaxSessions:
		return Header{}, 0, protocolErrorf("%d sessions, limit %d", sessions, MaxSessions)
	case metaLen > MaxMetaSize:
		return Header{}, 0, protocolErrorf("meta of %d bytes, limit %d", metaLen, MaxMetaSize)
	case int(metaLen) != len(b)-headerSize:
		return Header{}, 0, protocolErrorf("meta of %d bytes announced, %d sent", metaLen, len(b)-headerSize)
	}
	h = Header{Version: FormatVersion, Sessions: int(sessions)}
	if metaLen > 0 {
		h.Meta = b[headerSize:]
	}
	return h, listeners, nil
}

// entryConn marks, in a batch entry's flags, a record with a connection.
const entryConn = 1

// encodeBatchTable returns a batch's table; the records' data follows it
// in the same logical message, in order.
func encodeBatchTable(recs []Record) []byte {
	b := make([]byte, 2+len(recs)*batchEntrySize)
	binary.BigEndian.PutUint16(b, uint16(len(recs)))
	p := b[2:]
	for _, r := range recs {
		binary.BigEndian.PutUint64(p, r.ID)
		if r.hasConn() {
			p[8] = entryConn
		}
		binary.BigEndian.PutUint32(p[9:], uint32(len(r.Data)))
		p = p[batchEntrySize:]
	}
	return b
}

// decodeBatch parses a batch message that arrived with nfds descriptors.
// It returns the records (Data aliases b, Conn nil) and which of them own
// a connection: the descriptors belong, in order, to the records marked.
func decodeBatch(b []byte, nfds int) (recs []Record, hasConn []bool, err error) {
	if len(b) < 2 {
		return nil, nil, protocolErrorf("batch of %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || n > maxFDsPerPacket {
		return nil, nil, protocolErrorf("batch of %d records, want 1 to %d", n, maxFDsPerPacket)
	}
	table := 2 + n*batchEntrySize
	if len(b) < table {
		return nil, nil, protocolErrorf("batch table cut short (%d bytes, want %d)", len(b), table)
	}
	data := b[table:]
	recs = make([]Record, n)
	hasConn = make([]bool, n)
	conns, off := 0, 0
	for i := range recs {
		e := b[2+i*batchEntrySize:]
		flags := e[8]
		size := int(binary.BigEndian.Uint32(e[9:]))
		if flags&^entryConn != 0 {
			return nil, nil, protocolErrorf("record %d: unknown flags %#x", i, flags)
		}
		if size > MaxRecordSize {
			return nil, nil, protocolErrorf("record %d: %d bytes, limit %d", i, size, MaxRecordSize)
		}
		if size > len(data)-off {
			return nil, nil, protocolErrorf("record %d: %d bytes announced, %d left", i, size, len(data)-off)
		}
		recs[i] = Record{ID: binary.BigEndian.Uint64(e), Data: data[off : off+size : off+size]}
		hasConn[i] = flags&entryConn != 0
		if hasConn[i] {
			conns++
		}
		off += size
	}
	if off != len(data) {
		return nil, nil, protocolErrorf("batch has %d bytes beyond its records", len(data)-off)
	}
	if conns != nfds {
		return nil, nil, protocolErrorf("batch names %d connections but carries %d descriptors", conns, nfds)
	}
	return recs, hasConn, nil
}

// packetConn is the part of *net.UnixConn a channel uses; tests and fuzzers
// substitute it.
type packetConn interface {
	ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error)
	WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error)
}

// channel frames logical messages into SEQPACKET packets. It is used by one
// goroutine at a time.
type channel struct {
	pc   packetConn
	rbuf []byte // one packet
	oob  []byte // room for one packet's descriptors
	wbuf []byte // one packet
}

func newChannel(pc packetConn) *channel {
	return &channel{
		pc:   pc,
		rbuf: make([]byte, maxPacket),
		// Room for the kernel's maximum, one more than we ever send, so a
		// peer breaking the rule is reported rather than truncated.
		oob:  make([]byte, unix.CmsgSpace(4*(maxFDsPerPacket+1))),
		wbuf: make([]byte, 0, maxPacket),
	}
}

// writeMessage sends the concatenation of parts as one logical message of
// the given kind, cut into packets; fds ride on the first packet.
func (c *channel) writeMessage(kind byte, fds []int, parts ...[]byte) error {
	if len(fds) > maxFDsPerPacket {
		return fmt.Errorf("migrate: %d descriptors in one message, limit %d", len(fds), maxFDsPerPacket)
	}
	p := append(c.wbuf[:0], kind, 0)
	first := true
	flush := func(more bool) error {
		p[1] = 0
		if more {
			p[1] = flagMore
		}
		var oob []byte
		if first && len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		if _, _, err := c.pc.WriteMsgUnix(p, oob, nil); err != nil {
			return err
		}
		first = false
		p = p[:2]
		return nil
	}
	for _, part := range parts {
		for len(part) > 0 {
			if len(p) == maxPacket {
				if err := flush(true); err != nil {
					return err
				}
			}
			n := copy(p[len(p):maxPacket], part)
			p = p[:len(p)+n]
			part = part[n:]
		}
	}
	return flush(false)
}

// readPacket reads one packet into c.rbuf. Descriptors that arrived with it
// are returned even with an error, so that the caller closes them.
func (c *channel) readPacket() (p []byte, fds []int, err error) {
	n, oobn, flags, _, err := c.pc.ReadMsgUnix(c.rbuf, c.oob)
	fds, cerr := parseRights(c.oob[:oobn])
	switch {
	case err != nil:
		if n == 0 && errors.Is(err, io.EOF) {
			err = io.EOF
		}
		return nil, fds, err
	case cerr != nil:
		return nil, fds, cerr
	case flags&unix.MSG_CTRUNC != 0:
		return nil, fds, protocolErrorf("descriptors truncated (MSG_CTRUNC): is the descriptor limit (ulimit -n) too low?")
	case flags&unix.MSG_TRUNC != 0:
		return nil, fds, protocolErrorf("packet larger than %d bytes", maxPacket)
	case n < 2:
		return nil, fds, protocolErrorf("packet of %d bytes", n)
	}
	return c.rbuf[:n], fds, nil
}

// readMessage reads one logical message. The payload is freshly allocated
// and grows only as packets arrive, up to the kind's limit. Descriptors
// are returned even with an error, so that the caller closes them.
func (c *channel) readMessage() (kind byte, payload []byte, fds []int, err error) {
	p, fds, err := c.readPacket()
	if err != nil {
		return 0, nil, fds, err
	}
	kind, flags := p[0], p[1]
	limit, ok := messageLimit(kind)
	if !ok {
		return 0, nil, fds, protocolErrorf("unknown message kind %#x", kind)
	}
	for {
		if flags&^flagMore != 0 {
			return 0, nil, fds, protocolErrorf("unknown packet flags %#x", flags)
		}
		if len(p)-2 > limit-len(payload) {
			return 0, nil, fds, protocolErrorf("message of kind %q over its limit of %d bytes", kind, limit)
		}
		payload = append(payload, p[2:]...)
		if flags&flagMore == 0 {
			return kind, payload, fds, nil
		}
		var more []int
		p, more, err = c.readPacket()
		fds = append(fds, more...)
		if err != nil {
			if err == io.EOF {
				err = protocolErrorf("message of kind %q cut short: %w", kind, io.ErrUnexpectedEOF)
			}
			return 0, nil, fds, err
		}
		if len(more) > 0 {
			return 0, nil, fds, protocolErrorf("descriptors on a continuation packet")
		}
		if p[0] != kind {
			return 0, nil, fds, protocolErrorf("message of kind %q interrupted by kind %q", kind, p[0])
		}
		flags = p[1]
	}
}

// parseRights returns every descriptor in a control message buffer.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, protocolErrorf("control message: %v", err)
	}
	var fds []int
	var bad error
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			bad = protocolErrorf("unexpected control message (level %d, type %d)", msgs[i].Header.Level, msgs[i].Header.Type)
			continue
		}
		rights, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			bad = protocolErrorf("control message: %v", err)
			continue
		}
		fds = append(fds, rights...)
	}
	return fds, bad
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// fileFD returns f's descriptor without (*os.File).Fd's side effect of
// switching a socket to blocking mode: the mode belongs to the open file
// description, which this process's own net.Conn shares and must go on
// using if the handoff is rolled back. The number stays valid while f is
// open; the caller keeps f alive (runtime.KeepAlive) until it is sent.
func fileFD(f *os.File) (int, error) {
	if f == nil {
		return -1, errors.New("nil file")
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := sc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		// Control fails only on a closed file, with an unexported error.
		return -1, fmt.Errorf("%s: %w", f.Name(), os.ErrClosed)
	}
	runtime.KeepAlive(f)
	return fd, nil
}
