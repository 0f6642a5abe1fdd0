package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PasteResult is the time one session took to get the answer to a pasted
// slice literal of Lines lines, under one build.
type PasteResult struct {
	Build string        `json:"build"`
	Lines int           `json:"lines"`
	Bytes int           `json:"bytes"`
	Time  time.Duration `json:"ns"` // from the first byte sent to the prompt after len(xs)
	Error string        `json:"error,omitempty"`
}

// FloodResult is a logged-in user's 1 + 1 before and during a flood of
// password guesses from Conns connections, under one build.
type FloodResult struct {
	Build   string  `json:"build"`
	Conns   int     `json:"conns"`
	Idle    Stats   `json:"idle"`    // 1 + 1 with nobody guessing
	Flood   Stats   `json:"flood"`   // 1 + 1 while Conns connections guess
	Guesses int     `json:"guesses"` // wrong passwords answered during Flood
	Seconds float64 `json:"seconds"` // how long Flood took
	Error   string  `json:"error,omitempty"`
}

// builds are the two builds the paste and flood runs compare, side by
// side: the one migrated from and the one migrated to (--binary,
// --new-binary: the build before a change and the one after it).
func (r *runner) builds() []string {
	if r.bin1 == r.bin2 {
		return []string{r.bin1}
	}
	return []string{r.bin1, r.bin2}
}

// paste measures a paste of n lines under build bin.
func (r *runner) paste(ctx context.Context, bin string, n int) (pr PasteResult) {
	pr = PasteResult{Build: bin, Lines: n}
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-paste-%d-%s.log", n, filepath.Base(bin))))
	if err != nil {
		pr.Error = err.Error()
		return pr
	}
	defer logFile.Close()
	srv, err := startServer(ctx, bin, filepath.Join(r.tmp, "p"+strconv.Itoa(n)), logFile,
		"--listen", "127.0.0.1:0", "--users", r.users, "--login-delay", "10ms")
	if err != nil {
		pr.Error = "starting the server: " + err.Error()
		return pr
	}
	defer srv.Stop(time.Minute)
	c := newClient(0)
	defer c.close()
	deadline := time.Now().Add(r.opts.Timeout)
	if _, err := c.login(ctx, srv.addr, benchUser, benchPassword, deadline); err != nil {
		pr.Error = "login: " + err.Error()
		return pr
	}
	var b strings.Builder
	b.WriteString("xs := []int{\n")
	for i := range n {
		fmt.Fprintf(&b, "\t%d,\n", i)
	}
	b.WriteString("}\nlen(xs)\n")
	pr.Bytes = b.Len()
	start := time.Now()
	// The server reads while it evaluates: a write this size does not
	// wait for the answers.
	if err := c.write(b.String(), deadline); err != nil {
		pr.Error = "writing the paste: " + err.Error()
		return pr
	}
	if _, err := c.expect(fmt.Sprintf("%d\r\n%s", n, prompt), deadline); err != nil {
		pr.Error = "waiting for len(xs): " + err.Error()
		return pr
	}
	pr.Time = time.Since(start)
	return pr
}

// flood measures a logged-in user's 1 + 1 under build bin: samples with
// nobody else connected, then as many while conns connections guess
// passwords as fast as the server answers them.
func (r *runner) flood(ctx context.Context, bin string, conns, samples int) (fr FloodResult) {
	fr = FloodResult{Build: bin, Conns: conns}
	logFile, err := os.Create(filepath.Join(r.opts.Out, fmt.Sprintf("server-flood-%s.log", filepath.Base(bin))))
	if err != nil {
		fr.Error = err.Error()
		return fr
	}
	defer logFile.Close()
	// The server's defaults but the control socket: a wrong password
	// answered after a second (--login-delay), a bcrypt check of the
	// default cost for a name nobody has.
	srv, err := startServer(ctx, bin, filepath.Join(r.tmp, "f"+filepath.Base(bin)), logFile,
		"--listen", "127.0.0.1:0", "--users", r.users)
	if err != nil {
		fr.Error = "starting the server: " + err.Error()
		return fr
	}
	defer srv.Stop(time.Minute)
	user := newClient(0)
	defer user.close()
	deadline := time.Now().Add(r.opts.Timeout)
	if _, err := user.login(ctx, srv.addr, benchUser, benchPassword, deadline); err != nil {
		fr.Error = "login: " + err.Error()
		return fr
	}
	ones := func() (Stats, error) {
		var d []time.Duration
		for i := range samples + 10 {
			pace(ctx, 20*time.Millisecond) // a user typing, not a benchmark loop
			t := time.Now()
			out, err := user.eval("1 + 1", deadline)
			if err != nil {
				return Stats{}, err
			}
			if out != "2" {
				return Stats{}, fmt.Errorf("1 + 1 answered %q", out)
			}
			if i >= 10 {
				d = append(d, time.Since(t))
			}
		}
		return Summarize(d), nil
	}
	if fr.Idle, err = ones(); err != nil {
		fr.Error = "1 + 1 alone: " + err.Error()
		return fr
	}

	fctx, stop := context.WithCancel(ctx)
	var guesses atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() { // ends when fctx does
			defer wg.Done()
			for fctx.Err() == nil {
				guess(fctx, srv.addr, &guesses)
			}
		}()
	}
	time.Sleep(2 * time.Second) // the flood builds up
	start, before := time.Now(), guesses.Load()
	fr.Flood, err = ones()
	fr.Seconds = time.Since(start).Seconds()
	fr.Guesses = int(guesses.Load() - before)
	stop()
	wg.Wait()
	if err != nil {
		fr.Error = "1 + 1 during the flood: " + err.Error()
	}
	return fr
}

// guess connects and tries wrong passwords for a name nobody has until
// the server hangs up or ctx ends, counting each answered in answered. A
// refused connection (too many logging in) answers none.
func guess(ctx context.Context, addr string, answered *atomic.Int64) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		pace(ctx, 10*time.Millisecond)
		return
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := newClient(0)
	c.conn = conn
	defer c.close()
	deadline := time.Now().Add(10 * time.Minute)
	n := 0
	for ctx.Err() == nil {
		if c.write("root\n", deadline) != nil {
			break
		}
		if _, err := c.expect("password: ", deadline); err != nil {
			break
		}
		if c.write("guess"+strconv.Itoa(n)+"\n", deadline) != nil {
			break
		}
		if _, err := c.expect("Login incorrect", deadline); err != nil {
			break
		}
		n++
		answered.Add(1)
	}
	if n == 0 {
		pace(ctx, 10*time.Millisecond) // refused: try again soon, not in a tight loop
	}
}

func writePaste(b *strings.Builder, prs []PasteResult) {
	b.WriteString("\n## Paste\n\nOne session (line mode) sends `xs := []int{`, one element a line, `}` and `len(xs)` in one write; the time is from that write to the prompt after the answer.\n\n")
	b.WriteString("| build | lines | bytes | time | per line |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, p := range prs {
		if p.Error != "" {
			fmt.Fprintf(b, "| %s | %s | %s | error | |\n", p.Build, count(p.Lines), count(p.Bytes))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", p.Build, count(p.Lines), count(p.Bytes), dur(p.Time), dur(p.Time/time.Duration(max(p.Lines, 1))))
	}
}

func writeFlood(b *strings.Builder, frs []FloodResult) {
	b.WriteString("\n## Password flood\n\nA logged-in user types `1 + 1` every 20 ms, alone, then while the other connections each type a name nobody has and a wrong password, again and again, as fast as the server answers (a refused connection retries after 10 ms). The server has its defaults (`--login-delay 1s`, bcrypt's default cost for the unknown name).\n\n")
	b.WriteString("| build | guessing connections | 1 + 1 alone p50 / p99 | 1 + 1 during the flood p50 / p99 / max | wrong passwords answered a second |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, f := range frs {
		fmt.Fprintf(b, "| %s | %d | %s / %s | %s / %s / %s | %.1f |\n", f.Build, f.Conns, dur(f.Idle.P50), dur(f.Idle.P99),
			dur(f.Flood.P50), dur(f.Flood.P99), dur(f.Flood.Max), float64(f.Guesses)/max(f.Seconds, 1e-9))
	}
}
