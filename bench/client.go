package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"translucent/telnet"
)

// The bench's clients are raw TCP connections that answer no telnet
// negotiation, so the server serves them in line mode (the mode of nc and
// scripts): a client sends whole lines ending in LF and echoes nothing;
// the server prints each value and then the prompt. Telnet commands the
// server sends are stripped from what the client reads.

const prompt = ">>> "

// client is one telnet session of the bench. Until startReader and after
// stopReader, one goroutine drives it synchronously (login, eval); in
// between, its reader goroutine owns the reading side and one typer
// goroutine sends lines.
type client struct {
	idx  int
	base int // the value of the namespace's variable base: identifies the session's answers
	// assign makes typed lines store their number in m (Options.Assign).
	assign bool
	conn   net.Conn
	st     telnet.ClientDecoder // its refusals are not sent: the server serves it in line mode
	text   []byte               // stripped text received and not yet consumed
	rbuf   []byte

	stopping   atomic.Bool
	readerDone chan struct{}

	mu         sync.Mutex
	cond       *sync.Cond  // on mu: a change to answers, readErr or expired
	sent       []time.Time // sent[k-1] is when line k left; guarded by mu
	answers    []answer    // guarded by mu
	unexpected []string    // answers that are no typed line's (first few); guarded by mu
	nUnexpect  int         // guarded by mu
	rolledBack int         // typed lines answered with rollbackPrefix; guarded by mu
	notices    int         // noticePrefix lines seen, typing or not; guarded by mu
	readErr    error       // what ended the connection while reading; guarded by mu
	writeErr   error       // guarded by mu
}

// answer is one typed line's answer as received.
type answer struct {
	k   int // the line's number in its session, from 1
	pid int // the process that answered
	at  time.Time
}

func newClient(idx int) *client {
	c := &client{idx: idx, base: (idx + 1) * 1_000_000, rbuf: make([]byte, 16<<10)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// rePid finds the serving process in the greeting, "translucent v1, pid
// 4242. Type Go…", which names the worker after it when there is one:
// "pid 4242 (your code runs in worker 4250). Type Go…".
var rePid = regexp.MustCompile(`, pid (\d+)[ .]`)

// What a worker's end looks like to a session (package worker): the
// answer to a line that was running, and a notice between prompts, with
// no prompt of its own, for a session whose worker ended while it was idle
// (a pool neighbour's crash). A notice is glued to the next answer, so
// record and eval strip it.
const (
	rollbackPrefix = "error: the worker process running this line" // then " ended:", or the other sessions whose lines ended with it
	noticePrefix   = "[translucent] "
)

// login connects to addr and logs in, typing the name ahead of its prompt
// so that the server, seeing data before any telnet answer, picks line
// mode at once instead of waiting out its negotiation timeout. It returns
// the pid the greeting names.
func (c *client) login(ctx context.Context, addr, user, password string, deadline time.Time) (int, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	c.conn, c.st, c.text = conn, telnet.ClientDecoder{}, c.text[:0]
	if err := c.write(user+"\n", deadline); err != nil {
		return 0, err
	}
	if _, err := c.expect("password: ", deadline); err != nil {
		return 0, fmt.Errorf("waiting for the password prompt: %w", err)
	}
	if err := c.write(password+"\n", deadline); err != nil {
		return 0, err
	}
	greeting, err := c.expect(prompt, deadline)
	if err != nil {
		return 0, fmt.Errorf("waiting for the first prompt: %w", err)
	}
	m := rePid.FindStringSubmatch(greeting)
	if m == nil {
		return 0, fmt.Errorf("login: unexpected greeting %q", greeting)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid, nil
}

func (c *client) write(s string, deadline time.Time) error {
	c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write([]byte(s))
	return err
}

// expect reads until marker arrives and returns the text before it.
func (c *client) expect(marker string, deadline time.Time) (string, error) {
	c.conn.SetReadDeadline(deadline)
	defer c.conn.SetReadDeadline(time.Time{})
	for {
		if i := bytes.Index(c.text, []byte(marker)); i >= 0 {
			s := string(c.text[:i])
			c.text = append(c.text[:0], c.text[i+len(marker):]...)
			return s, nil
		}
		n, err := c.conn.Read(c.rbuf)
		c.text, _ = c.st.Feed(c.text, nil, c.rbuf[:n])
		if err != nil {
			return string(c.text), err
		}
	}
}

// eval sends line and returns the answer printed before the next prompt,
// without the line end and without notices.
func (c *client) eval(line string, deadline time.Time) (string, error) {
	if err := c.write(line+"\n", deadline); err != nil {
		return "", err
	}
	out, err := c.expect(prompt, deadline)
	out, notices := stripNotices(out)
	if notices > 0 {
		c.mu.Lock()
		c.notices += notices
		c.mu.Unlock()
	}
	return out, err
}

// stripNotices returns text with CRLFs made LF, without its notice lines
// and trimmed, and how many notices there were.
func stripNotices(text string) (string, int) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if !strings.Contains(text, noticePrefix) {
		return strings.TrimSpace(text), 0
	}
	var keep []string
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, noticePrefix) {
			n++
			continue
		}
		keep = append(keep, l)
	}
	return strings.TrimSpace(strings.Join(keep, "\n")), n
}

// typedLine is the k-th line a session types: its answer, such as
// [2]int{3000007, 4242}, names the session (base), the line (k) and the
// serving process. That is sys.Pid, not os.Getpid(): with workers the
// latter is the worker's pid, which changes when a worker is restarted as
// well as across a migration, and the bench wants to know which server
// (old or new) answered.
func (c *client) typedLine(k int) string {
	if c.assign {
		return fmt.Sprintf("[2]int{func() int { m[\"last\"] = base + %d; return m[\"last\"] }(), sys.Pid}\n", k)
	}
	return fmt.Sprintf("[2]int{base + %d, sys.Pid}\n", k)
}

var reTyped = regexp.MustCompile(`^\[2\]int\{(\d+), (\d+)\}$`)

// startReader hands the reading side to a goroutine that timestamps and
// records every answer until stopReader.
func (c *client) startReader() {
	c.readerDone = make(chan struct{})
	go c.read() // ends at stopReader or when the connection fails
}

func (c *client) read() {
	defer close(c.readerDone)
	for {
		// Answers already buffered (by expect) count as arriving now.
		for {
			i := bytes.Index(c.text, []byte(prompt))
			if i < 0 {
				break
			}
			c.record(string(c.text[:i]), time.Now())
			c.text = append(c.text[:0], c.text[i+len(prompt):]...)
		}
		n, err := c.conn.Read(c.rbuf)
		at := time.Now()
		c.text, _ = c.st.Feed(c.text, nil, c.rbuf[:n])
		for {
			i := bytes.Index(c.text, []byte(prompt))
			if i < 0 {
				break
			}
			c.record(string(c.text[:i]), at)
			c.text = append(c.text[:0], c.text[i+len(prompt):]...)
		}
		if err != nil {
			if !c.stopping.Load() {
				c.mu.Lock()
				c.readErr = err
				c.cond.Broadcast()
				c.mu.Unlock()
			}
			return
		}
	}
}

// record files one answer.
func (c *client) record(text string, at time.Time) {
	text, notices := stripNotices(text)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.cond.Broadcast()
	c.notices += notices
	if m := reTyped.FindStringSubmatch(text); m != nil {
		v, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		if k := v - c.base; k >= 1 && k <= len(c.sent) {
			c.answers = append(c.answers, answer{k: k, pid: pid, at: at})
			return
		}
	}
	// A line is evaluated once at most: one its worker took down with it
	// is not re-run, and its answer says so.
	if strings.HasPrefix(text, rollbackPrefix) {
		c.rolledBack++
		return
	}
	c.nUnexpect++
	if len(c.unexpected) < 3 {
		c.unexpected = append(c.unexpected, text)
	}
}

// stopReader takes the reading side back: it wakes the reader with a past
// deadline and waits for it.
func (c *client) stopReader() {
	if c.readerDone == nil {
		return
	}
	c.stopping.Store(true)
	c.conn.SetReadDeadline(time.Now())
	<-c.readerDone
	c.conn.SetReadDeadline(time.Time{})
	c.stopping.Store(false)
	c.readerDone = nil
}

// send types line k+1.
func (c *client) send() {
	c.mu.Lock()
	k := len(c.sent) + 1
	c.sent = append(c.sent, time.Now())
	c.mu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := c.conn.Write([]byte(c.typedLine(k))); err != nil {
		c.mu.Lock()
		if c.writeErr == nil {
			c.writeErr = err
		}
		c.mu.Unlock()
	}
}

// typeLines sends a line every interval, the first after phase, until
// stop is closed.
func (c *client) typeLines(stop <-chan struct{}, phase, interval time.Duration) {
	t := time.NewTimer(phase)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		c.send()
		t.Reset(interval)
	}
}

// waitAnswered waits until every line sent has had an answer (or some
// text in its place), the connection fails, or deadline passes.
func (c *client) waitAnswered(deadline time.Time) bool {
	expired := false
	t := time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		expired = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer t.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.repliesLocked() < len(c.sent) && c.readErr == nil && !expired {
		c.cond.Wait()
	}
	return c.repliesLocked() >= len(c.sent)
}

// repliesLocked counts what came back for typed lines, values or not.
func (c *client) repliesLocked() int { return len(c.answers) + c.nUnexpect + c.rolledBack }

// lineTally is the exactly-once check of one session's typed lines.
type lineTally struct {
	sent, answered, duplicated, lost, unexpected int
	rolledBack                                   int // of lost: answered with rollbackPrefix
	notices                                      int // noticePrefix lines, typing or not
	byOld, byNew                                 int
}

// tally counts the session's lines: answered once, more than once, never.
func (c *client) tally(oldPid, newPid int) lineTally {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make([]int, len(c.sent)+1)
	t := lineTally{sent: len(c.sent), unexpected: c.nUnexpect, rolledBack: c.rolledBack, notices: c.notices}
	for _, a := range c.answers {
		seen[a.k]++
		switch a.pid {
		case oldPid:
			t.byOld++
		case newPid:
			t.byNew++
		}
	}
	for k := 1; k <= len(c.sent); k++ {
		switch {
		case seen[k] == 0:
			t.lost++
		case seen[k] > 1:
			t.duplicated += seen[k] - 1
			t.answered++
		default:
			t.answered++
		}
	}
	return t
}

// longestInFlight is the longest time from a line sent to its answer
// among the lines in flight at some moment of [from, to]; ok reports
// whether there was any such line.
func (c *client) longestInFlight(from, to time.Time) (longest time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.answers {
		sent := c.sent[a.k-1]
		if sent.After(to) || a.at.Before(from) {
			continue
		}
		ok = true
		longest = max(longest, a.at.Sub(sent))
	}
	return longest, ok
}

// lines are the answered lines: when each was sent, and its wait.
func (c *client) lines() []sentLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]sentLine, 0, len(c.answers))
	for _, a := range c.answers {
		sent := c.sent[a.k-1]
		out = append(out, sentLine{sent, a.at.Sub(sent)})
	}
	return out
}

// latenciesWithin are the send→answer times of the lines both sent and
// answered within [from, to].
func (c *client) latenciesWithin(from, to time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d []time.Duration
	for _, a := range c.answers {
		sent := c.sent[a.k-1]
		if !sent.Before(from) && !a.at.After(to) {
			d = append(d, a.at.Sub(sent))
		}
	}
	return d
}

// firstAnswerBy is the earliest answer from process pid, if any.
func (c *client) firstAnswerBy(pid int) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first time.Time
	for _, a := range c.answers {
		if a.pid == pid && (first.IsZero() || a.at.Before(first)) {
			first = a.at
		}
	}
	return first, !first.IsZero()
}

// latencies are the send→answer times of every answered line.
func (c *client) latencies() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := make([]time.Duration, 0, len(c.answers))
	for _, a := range c.answers {
		d = append(d, a.at.Sub(c.sent[a.k-1]))
	}
	return d
}

// failure is what ended the connection while typing, if anything.
func (c *client) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.readErr, c.writeErr)
}

// resetLines forgets the typed lines (between one measurement and the
// next that types again).
func (c *client) resetLines() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent, c.answers, c.unexpected, c.nUnexpect, c.readErr, c.writeErr = nil, nil, nil, 0, nil, nil
	c.rolledBack, c.notices = 0, 0
}

// awaitClose reads until the server closes the connection, then closes
// ours.
func (c *client) awaitClose(deadline time.Time) error {
	c.conn.SetReadDeadline(deadline)
	for {
		if _, err := c.conn.Read(c.rbuf); err != nil {
			c.conn.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("the server did not close the connection: %w", err)
			}
			return nil
		}
	}
}

// reconnect logs in again after the connection was lost, retrying with a
// back-off from 10 ms to 200 ms until deadline, as a script reconnecting
// in a loop would: the port refuses connections while no process listens,
// and a connection the old process accepted as it went away fails. It
// returns the pid that greeted it.
func (c *client) reconnect(ctx context.Context, addr, user, password string, deadline time.Time) (int, error) {
	delay := 10 * time.Millisecond
	for {
		pid, err := c.login(ctx, addr, user, password, deadline)
		if err == nil {
			return pid, nil
		}
		c.close()
		if time.Now().Add(delay).After(deadline) {
			return 0, err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// close ends the session's connection.
func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}
