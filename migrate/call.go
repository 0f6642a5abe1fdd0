package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// ErrNoServer reports a control socket path no server listens on.
var ErrNoServer = errors.New("migrate: no server")

// DefaultControlPath returns $XDG_RUNTIME_DIR/translucent/control.sock,
// or, without XDG_RUNTIME_DIR, control.sock in translucent-UID under the
// temporary directory (/tmp/translucent-UID/control.sock unless $TMPDIR
// says otherwise): the same private directory main uses for its files.
func DefaultControlPath() string {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "translucent", "control.sock")
	}
	return filepath.Join(os.TempDir(), "translucent-"+strconv.Itoa(os.Getuid()), "control.sock")
}

// Call sends req to the server listening at path and returns its
// response, copying progress frames to progress (nil discards them) as
// they arrive. It fails with an error wrapping ErrNoServer ("no server at
// PATH: ...") when nothing listens there, and with ctx's error when ctx
// ends first; a server-side failure is a Response with OK false, not an
// error. Cancelling ctx hangs up, which cancels the server's handler.
func Call(ctx context.Context, path string, req Request, progress io.Writer) (Response, error) {
	b, err := encodeRequest(req)
	if err != nil {
		return Response{}, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("migrate: calling %s: %w", path, ctx.Err())
		}
		return Response{}, fmt.Errorf("%w at %s: %w", ErrNoServer, path, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stop()
	fail := func(err error) (Response, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Response{}, fmt.Errorf("migrate: %s to %s: %w", req.Command, path, err)
	}
	// A server that refuses the request may answer and close before
	// reading it: the answer is still worth reading after a failed write.
	werr := writeRequestFrame(nc.(*net.UnixConn), b, req.Files)
	if progress == nil {
		progress = io.Discard
	}
	for {
		kind, payload, err := readFrame(nc)
		if err != nil {
			if werr != nil {
				err = werr
			} else if err == io.EOF {
				err = fmt.Errorf("server hung up without answering: %w", io.ErrUnexpectedEOF)
			}
			return fail(err)
		}
		switch kind {
		case frameProgress:
			progress.Write(payload) // the operator's terminal failing does not stop the command
		case frameResponse:
			resp, err := decodeResponse(payload)
			if err != nil {
				return fail(err)
			}
			return resp, nil
		default:
			return fail(fmt.Errorf("%w: unexpected frame of kind %q", ErrControlProtocol, kind))
		}
	}
}
