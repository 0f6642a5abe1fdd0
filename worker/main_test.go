package worker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"testing"
)

// TestMain makes the test binary a worker when a Pool starts it, as the
// translucent binary's "worker" command does: the tests run real worker
// processes.
func TestMain(m *testing.M) {
	if os.Getenv(EnvFD) == "3" {
		debug.SetMaxStack(64 << 20)
		if err := Serve(os.NewFile(3, "front")); !errors.Is(err, io.EOF) {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
