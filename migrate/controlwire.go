package migrate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"
)

// Request is one command to a running server over its control socket.
type Request struct {
	// Command names the command, e.g. "migrate" or "status".
	Command string `cbor:"1,keyasint"`
	// Args are the command's arguments, e.g. {"binary": PATH, "timeout": "5s"}.
	Args map[string]string `cbor:"2,keyasint,omitempty"`
	// Files travel with the request as descriptors (SCM_RIGHTS): a
	// session's connection moving between two processes. At most
	// MaxRequestFiles. The server closes them after the handler returns,
	// but for those the handler took: it keeps one by setting its entry
	// to nil (the slice is the server's too).
	Files []*os.File `cbor:"-"`
	// Data is a machine-readable payload, opaque here: a session record.
	Data []byte `cbor:"3,keyasint,omitempty"`
}

// MaxRequestFiles bounds the descriptors a request carries.
const MaxRequestFiles = 4

// Response is a server's answer to a Request.
type Response struct {
	OK     bool   `cbor:"1,keyasint"`
	Error  string `cbor:"2,keyasint,omitempty"` // why the command failed, when !OK
	Output string `cbor:"3,keyasint,omitempty"` // text for the operator
	Data   []byte `cbor:"4,keyasint,omitempty"` // machine-readable result, opaque here
}

// Control frames: a kind byte, a big-endian uint32 length, the payload.
const (
	frameRequest  = 'Q' // client → server: CBOR Request
	frameProgress = 'P' // server → client: progress text, raw bytes
	frameResponse = 'A' // server → client: CBOR Response, the last frame

	frameHeaderSize = 5
)

// Limits of control frames. A peer exceeding them is disconnected.
const (
	maxRequestSize  = 64 << 20 // a session's record
	maxProgressSize = 64 << 10
	maxResponseSize = 256 << 20 // a snapshot file
	maxArgs         = 256
)

// ErrControlProtocol reports a control frame that breaks the format.
var ErrControlProtocol = errors.New("migrate: control protocol error")

var (
	controlEnc cbor.EncMode
	controlDec cbor.DecMode
)

func init() {
	var err error
	if controlEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	controlDec, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      maxArgs,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func frameLimit(kind byte) (int, bool) {
	switch kind {
	case frameRequest:
		return maxRequestSize, true
	case frameProgress:
		return maxProgressSize, true
	case frameResponse:
		return maxResponseSize, true
	}
	return 0, false
}

// writeFrame writes one frame in a single Write.
func writeFrame(w io.Writer, kind byte, payload []byte) error {
	b := make([]byte, frameHeaderSize+len(payload))
	b[0] = kind
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[frameHeaderSize:], payload)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame. A clean end of stream before the frame is
// io.EOF; anything else malformed is ErrControlProtocol.
func readFrame(r io.Reader) (kind byte, payload []byte, err error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: frame header cut short", ErrControlProtocol)
		}
		return 0, nil, err
	}
	kind = h[0]
	limit, ok := frameLimit(kind)
	if !ok {
		return 0, nil, fmt.Errorf("%w: unknown frame kind %#x", ErrControlProtocol, kind)
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > uint32(limit) {
		return 0, nil, fmt.Errorf("%w: frame of kind %q and %d bytes, limit %d", ErrControlProtocol, kind, n, limit)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: frame cut short", ErrControlProtocol)
		}
		return 0, nil, err
	}
	return kind, payload, nil
}

func encodeRequest(req Request) ([]byte, error) {
	if len(req.Args) > maxArgs {
		return nil, fmt.Errorf("migrate: %d request arguments, limit %d", len(req.Args), maxArgs)
	}
	if len(req.Files) > MaxRequestFiles {
		return nil, fmt.Errorf("migrate: %d files in a request, limit %d", len(req.Files), MaxRequestFiles)
	}
	b, err := controlEnc.Marshal(req)
	if err == nil && len(b) > maxRequestSize {
		err = fmt.Errorf("migrate: request of %d bytes, limit %d", len(b), maxRequestSize)
	}
	return b, err
}

func decodeRequest(b []byte) (Request, error) {
	var req Request
	if err := controlDec.Unmarshal(b, &req); err != nil {
		return Request{}, fmt.Errorf("%w: request: %v", ErrControlProtocol, err)
	}
	return req, nil
}

func encodeResponse(resp Response) ([]byte, error) {
	b, err := controlEnc.Marshal(resp)
	if err == nil && len(b) > maxResponseSize {
		err = fmt.Errorf("migrate: response of %d bytes, limit %d", len(b), maxResponseSize)
	}
	return b, err
}

func decodeResponse(b []byte) (Response, error) {
	var resp Response
	if err := controlDec.Unmarshal(b, &resp); err != nil {
		return Response{}, fmt.Errorf("%w: response: %v", ErrControlProtocol, err)
	}
	return resp, nil
}

// rightsReader reads a Unix stream socket, keeping the descriptors that
// arrive with the bytes. Descriptors beyond MaxRequestFiles are refused.
type rightsReader struct {
	c     *net.UnixConn
	files []*os.File
	err   error // descriptors that could not be taken
}

func (r *rightsReader) Read(p []byte) (int, error) {
	oob := make([]byte, unix.CmsgSpace(4*MaxRequestFiles))
	n, oobn, flags, _, err := r.c.ReadMsgUnix(p, oob)
	fds, perr := parseRights(oob[:oobn])
	for _, fd := range fds {
		if len(r.files) == MaxRequestFiles {
			unix.Close(fd)
			continue
		}
		r.files = append(r.files, os.NewFile(uintptr(fd), "request-file"))
	}
	if flags&unix.MSG_CTRUNC != 0 || len(fds) > MaxRequestFiles {
		perr = fmt.Errorf("%w: more than %d descriptors", ErrControlProtocol, MaxRequestFiles)
	}
	if perr != nil && r.err == nil {
		r.err = perr
	}
	return n, err
}

// writeRequestFrame writes the request frame, with files as descriptors.
func writeRequestFrame(c *net.UnixConn, payload []byte, files []*os.File) error {
	if len(files) == 0 {
		return writeFrame(c, frameRequest, payload)
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fd, err := fileFD(f)
		if err != nil {
			return err
		}
		fds[i] = fd
	}
	b := make([]byte, frameHeaderSize+len(payload))
	b[0] = frameRequest
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[frameHeaderSize:], payload)
	// The descriptors ride on the first byte; the rest is a plain stream.
	n, _, err := c.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	for _, f := range files {
		runtime.KeepAlive(f)
	}
	if err == nil && n < len(b) {
		_, err = c.Write(b[n:])
	}
	return err
}
