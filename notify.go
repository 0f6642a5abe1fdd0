package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
	return writeFileAtomic(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
