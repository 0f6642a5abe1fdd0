package sshrelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire between the relay and the front, on a Unix connection of its
// own per request: the relay writes one request, framed as
//
//	length  uint16, big-endian: the bytes after it, at most maxRequest
//	magic   "TRL" and the version byte (1)
//	kind    'S' session, 'P' password, 'K' public key
//	fields  each a uint16 length and its bytes, as the kind lists them
//
// A session request (user, address, terminal type, then width and height,
// uint16 each) is followed by the session's telnet stream, both ways; the
// front reads exactly the request first, so that what the user typed
// meanwhile waits in the socket for the session. A password request (user,
// address, password) or a key request (user, address, the key in SSH wire
// format) gets one byte back, answerYes or answerNo, and the connection
// ends.

// Kinds of request.
const (
	KindSession  = 'S'
	KindPassword = 'P'
	KindKey      = 'K'
)

// The front's answers to a password or key request.
const (
	answerYes = 'Y'
	answerNo  = 'N'
)

const (
	wireVersion = 1
	// maxRequest bounds a request, whatever its fields say.
	maxRequest = 8 << 10
	// Field limits: longer is an error, not truncated.
	maxUser     = 256
	maxAddr     = 256
	maxTerm     = 64
	maxPassword = 1024
	maxKey      = 4096
	maxSide     = 10000 // a window's width or height
)

var magic = [4]byte{'T', 'R', 'L', wireVersion}

// ErrRequest reports a request that is not one this build reads.
var ErrRequest = errors.New("sshrelay: bad request")

// Request is what the relay asks of the front.
type Request struct {
	Kind     byte
	User     string
	Addr     string // the SSH client's address
	Term     string // session: the terminal type the client gave
	Width    int    // session: the window's size, 0 if none
	Height   int
	Password string // password
	Key      []byte // key: the public key, SSH wire format
}

// fields lists r's string fields in wire order, with their limits.
func (r *Request) fields() ([]*string, []int, error) {
	switch r.Kind {
	case KindSession:
		return []*string{&r.User, &r.Addr, &r.Term}, []int{maxUser, maxAddr, maxTerm}, nil
	case KindPassword:
		return []*string{&r.User, &r.Addr, &r.Password}, []int{maxUser, maxAddr, maxPassword}, nil
	case KindKey:
		return []*string{&r.User, &r.Addr}, []int{maxUser, maxAddr}, nil
	}
	return nil, nil, fmt.Errorf("%w: kind %q", ErrRequest, r.Kind)
}

// Marshal encodes r, length first. It fails on a field over its limit.
func (r Request) Marshal() ([]byte, error) {
	fs, limits, err := r.fields()
	if err != nil {
		return nil, err
	}
	b := append([]byte{0, 0}, magic[:]...)
	b = append(b, r.Kind)
	for i, f := range fs {
		if len(*f) > limits[i] {
			return nil, fmt.Errorf("%w: a field of %d bytes, limit %d", ErrRequest, len(*f), limits[i])
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(*f)))
		b = append(b, *f...)
	}
	switch r.Kind {
	case KindSession:
		if r.Width < 0 || r.Width > maxSide || r.Height < 0 || r.Height > maxSide {
			return nil, fmt.Errorf("%w: window %dx%d", ErrRequest, r.Width, r.Height)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(r.Width))
		b = binary.BigEndian.AppendUint16(b, uint16(r.Height))
	case KindKey:
		if len(r.Key) > maxKey {
			return nil, fmt.Errorf("%w: a key of %d bytes, limit %d", ErrRequest, len(r.Key), maxKey)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Key)))
		b = append(b, r.Key...)
	}
	binary.BigEndian.PutUint16(b, uint16(len(b)-2))
	return b, nil
}

// ReadRequest reads one request from rd, and not a byte more.
func ReadRequest(rd io.Reader) (Request, error) {
	var n [2]byte
	if _, err := io.ReadFull(rd, n[:]); err != nil {
		return Request{}, err
	}
	size := int(binary.BigEndian.Uint16(n[:]))
	if size > maxRequest {
		return Request{}, fmt.Errorf("%w: %d bytes, limit %d", ErrRequest, size, maxRequest)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(rd, b); err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	return UnmarshalRequest(b)
}

// UnmarshalRequest decodes a request without its length: all of b, or an
// error wrapping ErrRequest.
func UnmarshalRequest(b []byte) (Request, error) {
	if len(b) > maxRequest {
		return Request{}, fmt.Errorf("%w: %d bytes, limit %d", ErrRequest, len(b), maxRequest)
	}
	if len(b) < len(magic)+1 || [4]byte(b[:4]) != magic {
		return Request{}, fmt.Errorf("%w: not a relay request of version %d", ErrRequest, wireVersion)
	}
	r := Request{Kind: b[4]}
	d := decoder{b: b[5:]}
	fs, limits, err := r.fields()
	if err != nil {
		return Request{}, err
	}
	for i, f := range fs {
		*f = string(d.bytes(limits[i]))
	}
	switch r.Kind {
	case KindSession:
		r.Width, r.Height = d.side(), d.side()
	case KindKey:
		r.Key = d.bytes(maxKey)
	}
	if d.err != nil {
		return Request{}, d.err
	}
	if len(d.b) > 0 {
		return Request{}, fmt.Errorf("%w: %d bytes after the request", ErrRequest, len(d.b))
	}
	return r, nil
}

// decoder takes fields off b, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uint16() int {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 2 {
		d.err = fmt.Errorf("%w: cut short", ErrRequest)
		return 0
	}
	v := int(binary.BigEndian.Uint16(d.b))
	d.b = d.b[2:]
	return v
}

func (d *decoder) bytes(limit int) []byte {
	n := d.uint16()
	switch {
	case d.err != nil:
		return nil
	case n > limit:
		d.err = fmt.Errorf("%w: a field of %d bytes, limit %d", ErrRequest, n, limit)
		return nil
	case n > len(d.b):
		d.err = fmt.Errorf("%w: cut short", ErrRequest)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) side() int {
	v := d.uint16()
	if v > maxSide && d.err == nil {
		d.err = fmt.Errorf("%w: a window side of %d, limit %d", ErrRequest, v, maxSide)
	}
	return v
}

// Answer writes the front's answer to a password or key request.
func Answer(w io.Writer, yes bool) error {
	a := byte(answerNo)
	if yes {
		a = answerYes
	}
	_, err := w.Write([]byte{a})
	return err
}

// readAnswer reads the front's answer.
func readAnswer(r io.Reader) (bool, error) {
	var a [1]byte
	if _, err := io.ReadFull(r, a[:]); err != nil {
		return false, err
	}
	switch a[0] {
	case answerYes:
		return true, nil
	case answerNo:
		return false, nil
	}
	return false, fmt.Errorf("%w: answer %q", ErrRequest, a[0])
}
