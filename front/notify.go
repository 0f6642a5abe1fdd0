package front

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"translucent/repl"
)

// sdNotify sends state to systemd when it started this service with
// Type=notify (NOTIFY_SOCKET is set); otherwise it does nothing. After a
// migration the new process sends MAINPID, so that systemd follows it (the
// unit needs NotifyAccess=all, as the example unit has).
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // an abstract socket
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// writePidfile replaces path's content with this process's pid, atomically:
// a reader sees the old pid or the new, never half of one.
func writePidfile(path string) error {
	if path == "" {
		return nil
	}
	return repl.WriteFileAtomic(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}
