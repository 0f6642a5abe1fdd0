package front

import (
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRelayRestartsBounded: a relay that ends at once, every time, is
// started again maxRelayRestarts times, then given up on, with a log
// line that says so; the supervisor's goroutine ends.
func TestRelayRestartsBounded(t *testing.T) {
	exe, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) here")
	}
	var ls listeners
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls.ssh = tcp.(*net.TCPListener)
	if ls.relay, err = net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "relay.sock"), Net: "unix"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.closeSSH(true) })
	var log syncBuffer
	p, err := newRelayProc(&ls, filepath.Join(t.TempDir(), "key"), slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.binary = exe
	if err := p.run(0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.watched:
	case <-time.After(time.Minute):
		p.stop()
		t.Fatalf("the supervisor did not give up:\n%s", log.String())
	}
	if n := strings.Count(log.String(), `msg="ssh relay started"`); n != maxRelayRestarts+1 {
		t.Errorf("started %d times, want %d:\n%s", n, maxRelayRestarts+1, log.String())
	}
	if !strings.Contains(log.String(), "it keeps ending; not starting it again") {
		t.Errorf("giving up is not logged:\n%s", log.String())
	}
	if p.Pid() != 0 {
		t.Errorf("Pid = %d after giving up", p.Pid())
	}
	p.stop() // nothing left to stop: returns at once
}

// syncBuffer is a log destination safe for the supervisor's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
