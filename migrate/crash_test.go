package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// side names a process of the handoff.
type side string

const (
	nobody      side = "nobody"
	predecessor side = "predecessor"
	successor   side = "successor"
)

func (s side) String() string { return string(s) }

func (s side) other() side {
	if s == predecessor {
		return successor
	}
	return predecessor
}

// crashClients is how many users the crash runs connect. The records put
// the last one's connection in a second batch, behind fillers that have
// none, so that a batch of the handoff carries connections and a later one
// carries more.
const crashClients = 3

// crashRecords returns the records the crash runs hand over: the
// connections' own, with maxFDsPerPacket-(crashClients-1) fillers before
// the last one.
func crashRecords(conns []Record) []Record {
	recs := append([]Record(nil), conns[:len(conns)-1]...)
	for i := len(recs); i < maxFDsPerPacket; i++ {
		recs = append(recs, Record{ID: uint64(1000 + i), Data: []byte("filler")})
	}
	return append(recs, conns[len(conns)-1])
}

// crashStep is one message of the handoff.
type crashStep struct {
	msg     string
	kind    byte
	from    side
	carries []int // the clients whose connections it carries
	ln      bool  // it carries the listener
	commits bool  // whoever reads it owns the connections
}

// crashSteps lists the handoff's messages in order, as the crash runs
// make it: one packet each, the batches cut where Send cuts them. The run
// without a crash checks this list against what each process sends and
// receives, so a change of the protocol cannot leave a step untested.
func crashSteps() []crashStep {
	steps := []crashStep{
		{msg: "HELLO", kind: kindHello, from: successor},
		{msg: "UPDATE", kind: kindUpdate, from: predecessor},
		{msg: "UPDATED", kind: kindUpdated, from: successor},
		{msg: "HEADER", kind: kindHeader, from: predecessor, ln: true},
	}
	nrecs := maxFDsPerPacket + 1 // crashRecords
	for b := 0; b*maxFDsPerPacket < nrecs; b++ {
		st := crashStep{msg: fmt.Sprintf("BATCH%d", b+1), kind: kindBatch, from: predecessor}
		for c := range crashClients {
			at := c // the record's index in crashRecords
			if c == crashClients-1 {
				at = nrecs - 1
			}
			if at/maxFDsPerPacket == b {
				st.carries = append(st.carries, c)
			}
		}
		steps = append(steps, st)
	}
	return append(steps,
		crashStep{msg: "READY", kind: kindReady, from: successor},
		crashStep{msg: "COMMIT", kind: kindCommit, from: predecessor, commits: true})
}

// crashPlan is one run: which process crashes, after how many of the
// handoff's messages (its own sends and receives; each message is one
// event on each side), and how the crash is ordered against the other
// process's next message when that one is the other's to send: queued
// (sent before the crash, so it dies unread) or after (held back until
// the crashed process is dead, so it is never delivered).
type crashPlan struct {
	side  side // nobody: the handoff runs to its end
	after int
	order string // "", "queued" or "after"
}

func (p crashPlan) args() []string {
	return []string{string(p.side), strconv.Itoa(p.after), p.order}
}

func parseCrashPlan(args []string) (crashPlan, error) {
	if len(args) != 3 {
		return crashPlan{}, fmt.Errorf("crash plan %q: want side, count, order", args)
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return crashPlan{}, err
	}
	return crashPlan{side(args[0]), n, args[2]}, nil
}

func (p crashPlan) name(steps []crashStep) string {
	if p.side == nobody {
		return "no_crash"
	}
	at := "at_start"
	if p.after > 0 {
		at = "after_" + steps[p.after-1].msg
	}
	name := p.side.String() + "_dies_" + at
	if p.order != "" {
		name += "_" + steps[p.after].msg + "_" + p.order
	}
	return name
}

// crashPlans returns every run: the handoff uncrashed, then each process
// crashing at each point between its messages, in both orders where the
// other process has a message of its own to send meanwhile. Only those
// orders differ in what the kernel shows the survivor (a message that
// died unread resets the connection; one never sent finds it closed);
// when the survivor reads a message makes no difference, since messages
// queued for it outlive the sender.
func crashPlans(steps []crashStep) []crashPlan {
	plans := []crashPlan{{side: nobody}}
	for _, crashed := range []side{predecessor, successor} {
		for after := 0; after <= len(steps); after++ {
			if after < len(steps) && steps[after].from != crashed {
				plans = append(plans, crashPlan{crashed, after, "queued"}, crashPlan{crashed, after, "after"})
				continue
			}
			plans = append(plans, crashPlan{crashed, after, ""})
		}
	}
	return plans
}

// crashWant is what the invariant asks of a run: one owner serves
// everything that survived, and nothing else is served.
type crashWant struct {
	owner  side   // nobody when nothing survived
	served []bool // per client: still served by owner, else closed
	ln     bool   // the listener is served by owner, else closed
	died   bool   // the successor serves without COMMIT (PredecessorDied)
}

// want derives the outcome from the steps alone. A crashed process takes
// with it only the descriptors no live process holds: the successor holds
// what the predecessor sent (messages queued for it outlive the sender),
// and the predecessor holds everything until the successor has read
// COMMIT. Whatever the survivor holds, it serves, and it alone.
func (p crashPlan) want(steps []crashStep) crashWant {
	done := steps[:p.after] // what the crashed process sent or received
	committed := slices.ContainsFunc(done, func(st crashStep) bool { return st.commits })
	w := crashWant{owner: successor, served: make([]bool, crashClients)}
	switch {
	case p.side == successor && committed: // it owned everything
		w.owner = nobody
		return w
	case p.side == predecessor:
		for _, st := range done {
			if st.from == predecessor {
				w.ln = w.ln || st.ln
				for _, c := range st.carries {
					w.served[c] = true
				}
			}
		}
		if !w.ln {
			w.owner = nobody
		}
		w.died = !committed
		return w
	case p.side == successor:
		w.owner = predecessor
	}
	w.ln = true
	for i := range w.served {
		w.served[i] = true
	}
	return w
}

// TestHandoffCrashes crashes (SIGKILL) the predecessor or the successor
// at every point of the handoff, generated from crashSteps: before each
// message each process sends or receives, and after the last, in both
// orders where the other process has a message to send meanwhile. Each
// run is two real processes (this binary re-run), three users connected
// over TCP and a listener. It checks the invariant of the package doc:
// what survives the crash is served by exactly one process, never none
// (a user left connected to nobody) and never two; a connection that
// no live process holds is closed, so its user sees the end rather than
// silence. The expected owner comes from the steps (crashPlan.want), not
// from what the code does.
func TestHandoffCrashes(t *testing.T) {
	steps := crashSteps()
	plans := crashPlans(steps)
	t.Logf("%d steps, %d crash interleavings and one run without a crash", len(steps), len(plans)-1)
	for _, plan := range plans {
		t.Run(plan.name(steps), func(t *testing.T) {
			t.Parallel()
			runCrashPlan(t, steps, plan)
		})
	}
}

func runCrashPlan(t *testing.T, steps []crashStep, plan crashPlan) {
	deadline := time.NewTimer(testTimeout) // a failure detector, not a wait
	defer deadline.Stop()
	h := startCrashHarness(t, plan)
	want := plan.want(steps)

	// Settle: the crashed process dies, the owner says it serves, and
	// every process other than the owner is gone.
	owners := map[side]int{}
	settled := func() bool {
		switch {
		case !h.gone(plan.side):
			return false
		case want.owner == nobody:
			return h.gone(predecessor) && h.gone(successor)
		case owners[want.owner] == 0 || !h.gone(want.owner.other()):
			return false
		}
		return plan.side != nobody || h.logs == 2
	}
	lines, predExited, succExited := h.lines, h.predExited, h.succExited
	for !settled() {
		if h.gone(predecessor) && h.gone(successor) && lines == nil {
			t.Fatalf("both processes are gone; want %s to serve", want.owner)
		}
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil // both processes are gone
				continue
			}
			if rest, found := strings.CutPrefix(line, "serving "); found {
				pid, died, _ := strings.Cut(rest, " ")
				who := h.whose(pid)
				owners[who]++
				if who != want.owner {
					t.Errorf("%s (pid %s) serves; want %s", who, pid, want.owner)
				}
				if who == successor && died != fmt.Sprintf("died=%v", want.died) {
					t.Errorf("successor says %s; want died=%v", died, want.died)
				}
			} else if log, found := strings.CutPrefix(line, "log "); found {
				h.checkLog(steps, plan, log)
			} else {
				t.Errorf("%s", line)
			}
		case <-predExited:
			predExited = nil
		case <-succExited:
			succExited = nil
		case <-deadline.C:
			t.Fatalf("not settled: want %s to serve; processes: %s; serving: %v", want.owner, h.alive(), owners)
		}
	}
	for who, n := range owners {
		if n > 1 || who != want.owner {
			t.Errorf("%s said %d times that it serves", who, n)
		}
	}

	ownerPid := h.pid(want.owner)
	for i, c := range h.clients {
		line := fmt.Sprintf("after %d", i)
		if want.served[i] {
			c.send(line + "\n")
			c.expect(ownerPid, line)
			continue
		}
		c.expectClosed(fmt.Sprintf("client %d", i))
	}
	nc, err := net.Dial("tcp", h.addr)
	switch {
	case want.ln && err != nil:
		t.Errorf("the listener: %v; want %s to serve it", err, want.owner)
	case want.ln:
		late := &echoClient{t: t, c: nc, br: bufio.NewReader(nc)}
		defer nc.Close()
		late.send("late\n")
		late.expect(ownerPid, "late")
	case err == nil:
		nc.Close()
		t.Errorf("the listener accepts connections; want it closed")
	}
}

// crashHarness is one run's two processes, seen from the test: the users'
// connections, the lines both processes print, and their ends.
type crashHarness struct {
	t          *testing.T
	addr       string
	clients    []*echoClient
	lines      chan string
	predPid    int
	succPid    int
	predExited chan struct{} // closed once the predecessor has been reaped
	succExited chan struct{} // closed once the successor is gone
	logs       int
}

// startCrashHarness starts the predecessor, connects the users, starts the
// handoff and learns the successor's pid. Cleanup kills both processes.
func startCrashHarness(t *testing.T, plan crashPlan) *crashHarness {
	t.Helper()
	h := &crashHarness{t: t, lines: make(chan string, 16), predExited: make(chan struct{}), succExited: make(chan struct{})}
	// One pipe for both processes' standard output: the successor inherits
	// it, and it ends when both are gone.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testBinary(t), append([]string{childArg, "crash-pred"}, plan.args()...)...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	h.predPid = cmd.Process.Pid
	go func() { // ends when the predecessor is reaped
		cmd.Wait()
		close(h.predExited)
	}()
	readDone, quit := make(chan struct{}), make(chan struct{})
	go func() { // ends at the pipe's EOF (both processes gone), or when Cleanup closes it
		defer close(readDone)
		defer close(h.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case h.lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	succPidfd := -1
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-h.predExited
		if succPidfd >= 0 {
			unix.PidfdSendSignal(succPidfd, unix.SIGKILL, nil, 0)
			pidfdReadable(succPidfd, -1)
			unix.Close(succPidfd)
		}
		close(quit)
		r.Close()
		<-readDone
	})

	h.addr = h.expectLine("addr ")
	for i := range crashClients {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ec := &echoClient{t: t, c: c, br: bufio.NewReader(c)}
		ec.send(fmt.Sprintf("hello %d\n", i))
		ec.expect(h.predPid, fmt.Sprintf("hello %d", i))
		h.clients = append(h.clients, ec)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	h.succPid, err = strconv.Atoi(h.expectLine("successor "))
	if err != nil {
		t.Fatal(err)
	}
	// The successor may be dead and reaped already (a crash before its
	// first message); its pid is not reused that fast.
	if succPidfd, err = unix.PidfdOpen(h.succPid, 0); errors.Is(err, unix.ESRCH) {
		succPidfd = -1
		close(h.succExited)
	} else if err != nil {
		t.Fatalf("pidfd_open(%d): %v", h.succPid, err)
	} else {
		go func() { // ends when the successor is gone: it exits, or Cleanup kills it
			pidfdReadable(succPidfd, -1)
			close(h.succExited)
		}()
	}
	return h
}

// expectLine returns the rest of the next line the processes print, which
// must start with prefix.
func (h *crashHarness) expectLine(prefix string) string {
	h.t.Helper()
	select {
	case line := <-h.lines:
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			h.t.Fatalf("got %q, want a line starting %q", line, prefix)
		}
		return rest
	case <-time.After(testTimeout): // a failure detector, not a wait
		h.t.Fatalf("no line starting %q", prefix)
	}
	return ""
}

// gone reports whether the process has ended (true for nobody).
func (h *crashHarness) gone(s side) bool {
	switch s {
	case predecessor:
		return isClosed(h.predExited)
	case successor:
		return isClosed(h.succExited)
	}
	return true
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (h *crashHarness) pid(s side) int {
	switch s {
	case predecessor:
		return h.predPid
	case successor:
		return h.succPid
	}
	return 0
}

func (h *crashHarness) whose(pid string) side {
	switch pid {
	case strconv.Itoa(h.predPid):
		return predecessor
	case strconv.Itoa(h.succPid):
		return successor
	}
	h.t.Fatalf("pid %s is neither process", pid)
	return nobody
}

func (h *crashHarness) alive() string {
	var s []string
	for _, who := range []side{predecessor, successor} {
		state := "gone"
		if !h.gone(who) {
			state = "alive"
		}
		s = append(s, fmt.Sprintf("%s %d %s", who, h.pid(who), state))
	}
	return strings.Join(s, ", ")
}

// checkLog compares the messages a process sent (w) and received (r), by
// kind, with the steps.
func (h *crashHarness) checkLog(steps []crashStep, plan crashPlan, line string) {
	h.t.Helper()
	who, got, _ := strings.Cut(line, " ")
	if plan.side != nobody {
		return
	}
	var want []string
	for _, st := range steps {
		op := "r"
		if st.from == side(who) {
			op = "w"
		}
		want = append(want, op+string(st.kind))
	}
	if got != strings.Join(want, ",") {
		h.t.Errorf("%s's messages: %s, want %s (the steps no longer match the protocol)", who, got, strings.Join(want, ","))
	}
	h.logs++
}

// expectClosed checks that the connection ends (EOF, or a reset when the
// server side closed with input unread) rather than answers or hangs.
func (c *echoClient) expectClosed(what string) {
	c.t.Helper()
	io.WriteString(c.c, "anyone?\n") // may fail after the end; the read tells
	c.c.SetReadDeadline(time.Now().Add(testTimeout))
	got, err := c.br.ReadString('\n')
	if err == nil {
		c.t.Errorf("%s: answered %q; want it closed", what, got)
		return
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Errorf("%s: %v; want it closed", what, err)
	}
}

// crashConn is one process's end of the handoff with a crash planted. It
// counts the messages the process sends and receives (one packet each in
// these runs) and kills the process after plan.after of them, or, when the
// other process is the one to crash there, holds back its own message
// until the other is dead.
type crashConn struct {
	packetConn
	conn     *net.UnixConn
	me       side
	plan     crashPlan
	peerDead func() bool // waits until the other process is dead; false on timeout
	done     int         // messages sent or received
	log      []string
}

func (c *crashConn) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	c.maybeCrash()
	n, oobn, flags, addr, err = c.packetConn.ReadMsgUnix(b, oob)
	if err == nil && n >= 2 {
		c.log = append(c.log, "r"+string(b[0]))
		c.done++
		c.maybeCrash()
	}
	return n, oobn, flags, addr, err
}

func (c *crashConn) WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error) {
	c.maybeCrash()
	if c.plan.side == c.me.other() && c.plan.order == "after" && c.done == c.plan.after && !c.peerDead() {
		crashChildFail("%s: the other process did not die", c.me)
	}
	n, oobn, err = c.packetConn.WriteMsgUnix(b, oob, addr)
	if err == nil {
		c.log = append(c.log, "w"+string(b[0]))
		c.done++
		c.maybeCrash()
	}
	return n, oobn, err
}

func (c *crashConn) maybeCrash() {
	if c.plan.side != c.me || c.done != c.plan.after {
		return
	}
	if c.plan.order == "queued" && !c.readable() {
		crashChildFail("%s: the other process's message did not come", c.me)
	}
	unix.Kill(os.Getpid(), unix.SIGKILL)
	select {} // SIGKILL is not delivered late, but nothing may run on
}

// readable waits until a message is queued on the handoff socket.
func (c *crashConn) readable() bool {
	sc, err := c.conn.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	sc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(testTimeout.Milliseconds()))
		ok = err == nil && n > 0
	})
	return ok
}

func (c *crashConn) report() {
	fmt.Printf("log %s %s\n", c.me, strings.Join(c.log, ","))
}

// exitWithTest ends this child process once the test process is gone: a
// test that timed out runs no Cleanup, and its children would otherwise
// serve for an hour. Standard output is the test's pipe, whose write end
// polls POLLERR once nobody reads it.
func exitWithTest() {
	go func() { // ends with the process
		fds := []unix.PollFd{{Fd: 1}} // no events: only POLLERR, POLLHUP or POLLNVAL end the poll
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
			case err != nil || fds[0].Revents&unix.POLLNVAL != 0:
				return // nothing to watch
			default:
				os.Exit(31)
			}
		}
	}()
}

// crashChildFail reports a failure of the harness itself, to the test.
func crashChildFail(format string, a ...any) {
	fmt.Printf("harness failure in %d: %s\n", os.Getpid(), fmt.Sprintf(format, a...))
	os.Exit(30)
}

// echoService is the echo server as a Service, for Handoff.
type echoService struct{ srv *echoServer }

// Prepare brings the successor up to date once, as a server would what
// it built ahead: one UPDATE and its answer.
func (e echoService) Prepare(ctx context.Context, hello []byte, update func(context.Context, []byte) ([]byte, error)) error {
	answer, err := update(ctx, []byte("state"))
	if err == nil && string(answer) != "took state" {
		err = fmt.Errorf("the answer to UPDATE: %q", answer)
	}
	return err
}

func (e echoService) Pause(context.Context) error { e.srv.quiesce(); return nil }
func (e echoService) Resume()                     { e.srv.start() }
func (e echoService) Export() ([]*os.File, []Record, []string, error) {
	lf, recs, err := e.srv.export()
	if err != nil {
		return nil, nil, nil, err
	}
	return []*os.File{lf}, crashRecords(recs), nil, nil
}

// runCrashPredecessor is the crash runs' predecessor: it serves echo on a
// listener, waits for the test's "go", and hands over with Handoff, the
// crash planted in its end of the handoff. Whether it keeps its sessions
// or hands them over, it says so and serves until killed, or exits.
func runCrashPredecessor(args []string) int {
	exitWithTest()
	plan, err := parseCrashPlan(args)
	if err != nil {
		crashChildFail("%v", err)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		crashChildFail("%v", err)
	}
	srv := &echoServer{ln: ln, pid: os.Getpid()}
	srv.start()
	fmt.Printf("addr %s\n", ln.Addr())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		crashChildFail("waiting for go: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		crashChildFail("%v", err)
	}
	var cc *crashConn
	_, err = Handoff(context.Background(), echoService{srv}, Options{
		Binary: exe, Args: append([]string{childArg, "crash-succ"}, args...), Timeout: testTimeout,
		Stdout: os.Stdout, Stderr: os.Stderr,
		started: func(s *Successor) {
			fmt.Printf("successor %d\n", s.Pid())
			cc = &crashConn{packetConn: s.ch.pc, conn: s.conn, me: predecessor, plan: plan, peerDead: func() bool {
				select {
				case <-s.exited:
					return true
				case <-time.After(testTimeout):
					return false
				}
			}}
			s.ch.pc = cc
		},
	})
	if cc != nil {
		cc.report()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "crash test predecessor %d: %v\n", os.Getpid(), err)
		fmt.Printf("serving %d\n", os.Getpid())
		time.Sleep(time.Hour) // until the test kills us
	}
	return 0
}

// runCrashSuccessor is the crash runs' successor: serve.go's takeOver
// with the echo server, the crash planted in its end of the handoff.
func runCrashSuccessor(args []string) int {
	exitWithTest()
	plan, err := parseCrashPlan(args)
	if err != nil {
		crashChildFail("%v", err)
	}
	p, err := Inherited()
	if err != nil || p == nil {
		crashChildFail("Inherited: %v", err)
	}
	cc := &crashConn{packetConn: p.ch.pc, conn: p.conn, me: successor, plan: plan, peerDead: func() bool {
		if p.pidfd < 0 {
			return true // the predecessor was gone before Inherited looked
		}
		return pidfdReadable(p.pidfd, int(testTimeout.Milliseconds()))
	}}
	p.ch.pc = cc
	p.HandleUpdates(func(data []byte) []byte { return append([]byte("took "), data...) })
	quit := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "crash test successor %d: %s\n", os.Getpid(), fmt.Sprintf(format, a...))
		return 1
	}
	if err := p.Hello(nil); err != nil {
		return quit("Hello: %v", err)
	}
	_, listeners, recs, err := p.Receive()
	if err != nil {
		p.Fail(err.Error())
		return quit("Receive: %v", err)
	}
	if len(listeners) != 1 {
		crashChildFail("%d listeners", len(listeners))
	}
	ln, err := net.FileListener(listeners[0])
	if err != nil {
		crashChildFail("%v", err)
	}
	listeners[0].Close()
	srv := &echoServer{ln: ln.(*net.TCPListener), pid: os.Getpid()}
	for _, r := range recs {
		if r.Conn == nil {
			continue // a filler
		}
		c, err := net.FileConn(r.Conn)
		if err != nil {
			crashChildFail("session %d: %v", r.ID, err)
		}
		r.Conn.Close()
		srv.adopt(c.(*net.TCPConn), r.Data)
	}
	if err := p.Ready(nil); err != nil {
		return quit("Ready: %v", err)
	}
	if err := p.WaitCommit(context.Background()); err != nil {
		return quit("WaitCommit: %v", err)
	}
	cc.report()
	srv.start()
	fmt.Printf("serving %d died=%v\n", os.Getpid(), p.PredecessorDied())
	time.Sleep(time.Hour) // until the test kills us
	return 0
}
