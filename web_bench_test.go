package main

import (
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkKeystrokeEcho: one key typed at the prompt to its echo, through
// telnet, the browser's path (telnet over a WebSocket) and SSH (through
// the relay), side by side on one server. Besides ns/op it reports the p50
// and p99 of the round trips.
func BenchmarkKeystrokeEcho(b *testing.B) {
	ssh := startSSHServer(b, "--web", "127.0.0.1:0")
	s := ssh.server
	addr := webAddr(b, s)
	clients := []struct {
		name string
		dial func() *client
	}{
		{"telnet", func() *client { return dial(b, s, false) }},
		{"websocket", func() *client { c, _ := wsClient(b, addr); return c }},
	}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			c := cl.dial()
			c.t = b
			c.login(testUser, testPassword)
			c.expect(b, ">>> ")
			var rtts []time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				c.send("a")
				c.expect(b, "a")
				rtts = append(rtts, time.Since(start))
				if i%50 == 49 { // keep the line short: erase it (^U)
					c.send("\x15")
					c.expect(b, "\x1b[50D")
					c.expect(b, "\x1b[50D")
				}
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
	b.Run("ssh", func(b *testing.B) {
		in, out := sshShell(b, ssh)
		tr := newTranscript(out, nil)
		tr.expect(b, ">>> ")
		echoes(b, in, tr)
	})
}

// BenchmarkMigrationPause: the pause a telnet session and a browser
// session (telnet over a WebSocket) see across a migration, side by side:
// each types a key and waits for its echo, over and over, while the
// server migrates to the other build and back; an iteration's pause is
// the longest echo during its migration. It reports the p50 and the
// maximum over the migrations, per client.
func BenchmarkMigrationPause(b *testing.B) {
	s := startServer(b, "--web", "127.0.0.1:0")
	addr := webAddr(b, s)
	tel := dial(b, s, false)
	web, _ := wsClient(b, addr)
	clients := []*typist{{name: "telnet", c: tel}, {name: "websocket", c: web}}
	for _, ty := range clients {
		ty.c.login(testUser, testPassword)
		ty.c.expect(b, ">>> ")
	}
	current := 0 // the serving pid, once a migration took over
	b.Cleanup(func() {
		if current != 0 {
			syscall.Kill(current, syscall.SIGTERM)
			waitGone(current)
		}
	})
	targets := []string{binaryV2, binary}
	for i := 0; b.Loop(); i++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, ty := range clients {
			wg.Add(1)
			go func() { // ends with stop, or when the client's stream fails
				defer wg.Done()
				ty.typeUntil(stop)
			}()
		}
		out, err := exec.Command(binary, "migrate", "--control", s.control, "--binary", targets[i%2]).CombinedOutput()
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatalf("migrate: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`new pid (\d+)`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("no new pid in:\n%s", out)
		}
		current, _ = strconv.Atoi(string(m[1]))
		for _, ty := range clients {
			if ty.err != nil {
				b.Fatalf("%s: %v", ty.name, ty.err)
			}
		}
	}
	for _, ty := range clients {
		slices.Sort(ty.pauses)
		b.ReportMetric(float64(ty.pauses[len(ty.pauses)/2].Microseconds())/1000, ty.name+"-p50-ms")
		b.ReportMetric(float64(ty.pauses[len(ty.pauses)-1].Microseconds())/1000, ty.name+"-max-ms")
	}
}

// typist types keys into a logged-in session and times their echoes.
type typist struct {
	name   string
	c      *client
	typed  int             // keys on the current line
	pauses []time.Duration // the longest echo of each migration
	err    error
}

// typeUntil types a key and waits for its echo until stop is closed, then
// once more, and records the longest echo.
func (ty *typist) typeUntil(stop <-chan struct{}) {
	var longest time.Duration
	for done := false; !done; {
		select {
		case <-stop:
			done = true // one more: the echo after the migration
		default:
		}
		if ty.typed == 50 { // keep the line short: erase it (^U)
			io.WriteString(ty.c.conn, "\x15")
			for range 2 {
				if !ty.wait("\x1b[50D") {
					return
				}
			}
			ty.typed = 0
		}
		start := time.Now()
		if _, err := io.WriteString(ty.c.conn, "a"); err != nil {
			ty.err = err
			return
		}
		if !ty.wait("a") {
			return
		}
		ty.typed++
		longest = max(longest, time.Since(start))
	}
	ty.pauses = append(ty.pauses, longest)
}

func (ty *typist) wait(want string) bool {
	_, ok := ty.c.wait(func(text string) int {
		if i := strings.Index(text, want); i >= 0 {
			return i + len(want)
		}
		return -1
	})
	if !ok {
		ty.err = fmt.Errorf("no %q within %v", want, waitFor)
	}
	return ok
}
