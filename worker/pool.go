package worker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// EnvFD names the environment variable that tells a worker which
// descriptor joins it to its front.
const EnvFD = "TRANSLUCENT_WORKER_FD"

// Config is what a Pool needs; the zero value of each field selects the
// default given beside it.
type Config struct {
	// Path and Args start a worker, a process that calls Serve on the
	// descriptor EnvFD names. Default: this very binary (/proc/self/exe,
	// which stays this build even after a rebuild in place) with "worker".
	Path string
	Args []string

	// PerWorker is how many sessions share a worker: 1 (the default) gives
	// each its own process; more costs less memory, and a line that ends a
	// worker rolls back every session in it.
	PerWorker int

	// Memory is what a worker may hold per session in it (resident set);
	// past it the worker is ended as if it had crashed. 0: no limit.
	Memory int64

	// EvalTimeout bounds one evaluation; 0: none.
	EvalTimeout time.Duration

	// StopGrace is how long a line may go on after an interrupt (Ctrl-C,
	// a client gone, a migration, EvalTimeout) before its worker is ended;
	// default 500ms.
	StopGrace time.Duration

	// Recycle is how many evaluations a session's interpreter serves
	// before the worker rebuilds it from its own snapshot (yaegi's
	// interpreters grow with each evaluation); default 1000, negative
	// never.
	Recycle int

	Logger *slog.Logger // default slog.Default()
}

func (c *Config) setDefaults() {
	if c.Path == "" {
		c.Path = "/proc/self/exe"
		if len(c.Args) == 0 {
			c.Args = []string{"worker"}
		}
	}
	if c.PerWorker <= 0 {
		c.PerWorker = 1
	}
	if c.StopGrace <= 0 {
		c.StopGrace = 500 * time.Millisecond
	}
	if c.Recycle == 0 {
		c.Recycle = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

const (
	// helloTimeout bounds a worker's start: fork, exec, runtime start.
	helloTimeout = 10 * time.Second
	// callTimeout bounds a question to a worker, and openTimeout a
	// restore; a worker that does not answer in time is ended.
	callTimeout = 10 * time.Second
	openTimeout = 30 * time.Second
	// writeTimeout bounds a write to a worker that does not read (stopped,
	// or wedged): it is ended.
	writeTimeout = 5 * time.Second
	// watchEvery is how often worker memory is read.
	watchEvery = 250 * time.Millisecond
)

// ErrClosed is returned once the Pool is closed.
var ErrClosed = errors.New("worker: pool closed")

// Pool starts and supervises the workers that evaluate sessions' code. It
// restores the sessions of a worker that ends in fresh workers, from the
// checkpoint each took after its last evaluation.
type Pool struct {
	cfg Config

	mu        sync.Mutex
	procs     []*proc // live workers; guarded by mu
	spare     *proc   // a worker started ahead, holding no session; guarded by mu
	refilling bool    // a spare is being started; guarded by mu
	closed    bool    // guarded by mu

	placing sync.Mutex        // held to find room in a worker or start one, when workers are shared
	spawns  chan chan spawned // to the spawners
	wg      sync.WaitGroup    // the workers' reader goroutines, watch and the spawners
	stop    chan struct{}     // closed by Close: ends watch and the spawners

	ended atomic.Int64 // workers that ended holding sessions, the pool open (Ended)

	// killProcess sends a worker SIGKILL: (*os.Process).Kill, but in a
	// test that holds a worker's death back, as a busy machine does.
	killProcess func(*os.Process) error
}

// Collect has every worker collect its garbage now, one worker at a
// time. A new process calls it once it has restored the namespaces of a
// handoff to come: restoring leaves garbage, and each worker's next
// collection otherwise fell among the first lines after the pause, when
// every session's queued line runs at once (a fifth of the new workers'
// CPU then, at 1,000 sessions). One at a time, because the old process
// still serves everyone meanwhile: 64 workers collecting at once delayed
// its users' lines by up to 0.28 s.
func (pl *Pool) Collect() {
	pl.mu.Lock()
	procs := append([]*proc(nil), pl.procs...)
	pl.mu.Unlock()
	for _, p := range procs {
		if p.send(kindCollect, 0, nil) != nil {
			continue
		}
		t := time.NewTimer(collectWait)
		select {
		case <-p.collected:
		case <-p.gone:
		case <-t.C: // a busy worker: the next one's turn
		}
		t.Stop()
	}
}

// collectWait bounds how long Collect waits for one worker's collection
// (a variable for a test that waits for every answer).
var collectWait = time.Second

// Ended is how many workers have ended while holding sessions, other than
// by Close: crashes, and kills for a limit or a line that would not stop.
// Each such end rolled back the sessions it held.
func (pl *Pool) Ended() int64 { return pl.ended.Load() }

// spawners is how many workers may be starting at once: a burst of
// logins queues for them rather than time out starting hundreds at once.
const spawners = 4

type spawned struct {
	p   *proc
	err error
}

// NewPool returns a pool with cfg; it starts workers as sessions need
// them.
func NewPool(cfg Config) *Pool {
	cfg.setDefaults()
	pl := &Pool{cfg: cfg, stop: make(chan struct{}), spawns: make(chan chan spawned), killProcess: (*os.Process).Kill}
	pl.wg.Add(1 + spawners)
	go func() { // ends at Close
		defer pl.wg.Done()
		pl.watch()
	}()
	for range spawners {
		go func() { // ends at Close
			defer pl.wg.Done()
			pl.spawner()
		}()
	}
	return pl
}

// spawner starts workers on request. Workers are started from these
// goroutines, never from their callers': a process inherits the priority
// of the thread that forks it, and a caller may run on a thread at the
// lowest priority (a successor restoring namespaces ahead), which workers
// would keep for good.
func (pl *Pool) spawner() {
	for {
		select {
		case <-pl.stop:
			return
		case reply := <-pl.spawns:
			p, err := pl.spawn()
			reply <- spawned{p, err}
		}
	}
}

// start has a spawner start a worker.
func (pl *Pool) start() (*proc, error) {
	reply := make(chan spawned, 1)
	select {
	case pl.spawns <- reply:
	case <-pl.stop:
		return nil, ErrClosed
	}
	r := <-reply
	return r.p, r.err
}

// Close ends every worker and waits for its goroutines. Namespaces still
// open fail from then on.
func (pl *Pool) Close() error {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil
	}
	pl.closed = true
	procs := append([]*proc(nil), pl.procs...)
	if pl.spare != nil {
		procs = append(procs, pl.spare)
	}
	pl.mu.Unlock()
	close(pl.stop)
	// One at a time, each in the idle class (see Yield): a dying worker's
	// memory is freed on its own threads, and 64 of them at once, even in
	// the idle class, took a fifth of both cores from the successor of a
	// migration in the 350 ms after its commit, when it answers the lines
	// typed during the pause (perf: 76 samples of 350 all at once, 16 one
	// at a time). The bound keeps one that is slow to die, on a busy
	// machine where the idle class gets little, from holding up the rest.
	for _, p := range procs {
		p.kill("the server is closing")
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
	pl.wg.Wait()
	return nil
}

// proc is one worker process, seen from the front.
type proc struct {
	pl        *Pool
	cmd       *exec.Cmd
	pid       int
	conn      *net.UnixConn
	w         *frameWriter
	why       reasonWriter  // the worker's standard error: the runtime's last words
	gone      chan struct{} // closed when the front has let go of the worker: its sessions are being restored elsewhere
	collected chan struct{} // a collection Collect asked for is over; never blocks the reader
	done      chan struct{} // closed when, besides, the worker has been reaped

	sessions map[uint64]*Namespace // guarded by pl.mu
	reserved int                   // places promised to opens under way; guarded by pl.mu
	nextSID  uint64                // guarded by pl.mu
	dead     bool                  // guarded by pl.mu

	rss atomic.Int64
	// killed is why the front ended the worker, if it did before the
	// worker ended on its own (then &endedItself): the first says why.
	killed atomic.Pointer[string]
}

// endedItself marks a worker that ended before the front ended it.
var endedItself string

// place returns a worker with room for one more session, starting one if
// none has.
func (pl *Pool) place() (*proc, error) {
	if pl.cfg.PerWorker > 1 {
		// One at a time, or a burst of logins would each start a worker
		// of its own rather than fill the one being started.
		pl.placing.Lock()
		defer pl.placing.Unlock()
	}
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, ErrClosed
	}
	for _, p := range pl.procs {
		if !p.dead && len(p.sessions)+p.reserved < pl.cfg.PerWorker {
			p.reserved++
			pl.mu.Unlock()
			return p, nil
		}
	}
	p := pl.spare
	pl.spare = nil
	pl.mu.Unlock()
	if p == nil {
		var err error
		if p, err = pl.start(); err != nil {
			return nil, err
		}
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.closed {
		p.kill("the server is closing")
		return nil, ErrClosed
	}
	p.reserved++
	pl.procs = append(pl.procs, p)
	return p, nil
}

// refillLocked starts a spare worker in the background, unless one is
// there or on its way. A worker has died: where one line crashes its
// worker, the next often does too (a classroom, a user trying again), and
// the rollback then takes a worker already running rather than wait the
// tenth of a second this binary takes to start. (Not after every
// placement: a spare per server costs a process, and its start competes
// with a migration's.)
func (pl *Pool) refillLocked() {
	if pl.spare != nil || pl.refilling || pl.closed {
		return
	}
	pl.refilling = true
	pl.wg.Add(1)
	go func() { // ends when the worker has started, or failed to
		defer pl.wg.Done()
		p, err := pl.start()
		pl.mu.Lock()
		defer pl.mu.Unlock()
		pl.refilling = false
		if err != nil {
			return // the next placement starts its own, and says why
		}
		if pl.closed || pl.spare != nil {
			p.kill("not needed")
			return
		}
		pl.spare = p
	}()
}

// spawn starts a worker and waits for its hello.
func (pl *Pool) spawn() (*proc, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("worker: socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "worker"), os.NewFile(uintptr(fds[1]), "worker")
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	conn := fc.(*net.UnixConn)
	p := &proc{pl: pl, conn: conn, w: newFrameWriter(conn), gone: make(chan struct{}), collected: make(chan struct{}, 1), done: make(chan struct{}), sessions: map[uint64]*Namespace{}}
	p.cmd = exec.Command(pl.cfg.Path, pl.cfg.Args...)
	p.cmd.ExtraFiles = []*os.File{theirs} // descriptor 3
	p.cmd.Env = append(os.Environ(), EnvFD+"=3")
	p.cmd.Stderr = &p.why
	// Its own process group: a terminal's Ctrl-C or hang-up reaches the
	// front, which decides what its workers do.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = p.cmd.Start()
	theirs.Close() // the worker's now: its death closes the socket
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("worker: starting %s: %w", pl.cfg.Path, err)
	}
	p.pid = p.cmd.Process.Pid
	r := bufio.NewReaderSize(conn, 64<<10)
	conn.SetReadDeadline(time.Now().Add(helloTimeout))
	f, err := readFrame(r)
	conn.SetReadDeadline(time.Time{})
	var h helloMsg
	if err == nil && f.kind != kindHello {
		err = protocolErrorf("first frame %q, want a hello", f.kind)
	}
	if err == nil {
		err = decode(f, &h)
	}
	if err == nil && h.Version != WireVersion {
		err = fmt.Errorf("worker: %s speaks wire version %d, this build %d", pl.cfg.Path, h.Version, WireVersion)
	}
	if err != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		conn.Close()
		if why := p.why.reason(); why != "" {
			err = fmt.Errorf("%w (%s)", err, why)
		}
		return nil, fmt.Errorf("worker: %s did not start as a worker: %w", pl.cfg.Path, err)
	}
	if m, err := readRSS(p.pid); err == nil {
		p.rss.Store(m)
	}
	pl.wg.Add(1)
	go func() { // ends when the worker's socket closes: at its death
		defer pl.wg.Done()
		p.end(p.read(r))
	}()
	return p, nil
}

// read dispatches the worker's frames to their sessions until the worker
// ends or breaks the wire.
func (p *proc) read(r *bufio.Reader) error {
	for {
		f, err := readFrame(r)
		if err != nil {
			return err
		}
		if f.kind == kindCollected {
			select {
			case p.collected <- struct{}{}:
			default: // one unread is enough to say it
			}
			continue
		}
		p.pl.mu.Lock()
		n := p.sessions[f.session]
		p.pl.mu.Unlock()
		if n == nil {
			continue // closed meanwhile
		}
		if err := n.receive(p, f); err != nil {
			return err
		}
	}
}

// send writes one frame to the worker. A worker that does not take it
// within writeTimeout is ended; an error means the worker is ending.
func (p *proc) send(kind byte, session uint64, msg any) error {
	p.w.mu.Lock()
	p.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	p.w.mu.Unlock()
	err := p.w.write(kind, session, msg)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		p.kill(fmt.Sprintf("it did not read its socket for %v", writeTimeout))
	}
	return err
}

// kill ends the worker, for reason (said to the sessions it held). Its
// sessions are restored at once, without waiting for it to die: in the
// idle class (Yield), a killed worker took up to 13 s to die under a load
// of 10 on two cores, and the scheduler bounds the idle class's wait by
// nothing but the load.
func (p *proc) kill(reason string) {
	if p.killed.CompareAndSwap(nil, &reason) {
		// Only the first: once the worker ended on its own, end reaps
		// it, and waits for its death, which the idle class would slow.
		select {
		case <-p.done: // reaped: its pid may be another process's now
		default:
			Yield(p.pid)
		}
	}
	p.pl.killProcess(p.cmd.Process)
	// The front needs nothing more from it: what it sent before is read
	// (a checkpoint, a line's outcome), then its end, while its process
	// may have yet to die (its socket would close only then).
	p.conn.CloseRead()
}

// Yield puts every thread of process pid in the idle scheduling class
// (SCHED_IDLE), or at nice 19 where that is refused, for a process about
// to end: the kernel frees a dying process's memory on its own threads,
// and a hundred workers ended at once (a migration's old ones, with a
// worker each) took a second of both cores from the lines their
// successors were answering. Nice 19 was not enough: the scheduler weighs
// each thread, and 64 threads at nice 19 weigh as much as one at nice 0
// (after a migration at 1,000 sessions in a pool, the old workers' exit
// took a fifth of both cores while the new process answered the lines
// typed during the pause; Close also ends them one at a time). The front
// yields itself the same way once it has handed over. Best effort: a
// process already gone has nothing left to free.
func Yield(pid int) {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
			if unix.SchedSetAttr(tid, &attr, 0) != nil {
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
			}
		}
	}
}

// end restores each session the worker held in another, and reaps it.
func (p *proc) end(readErr error) {
	if errors.Is(readErr, ErrProtocol) {
		p.kill("it broke the wire protocol: " + readErr.Error())
	}
	itself := p.killed.CompareAndSwap(nil, &endedItself)
	p.pl.killProcess(p.cmd.Process) // its socket closed: it is dying, or hostile
	if itself {
		// Its exit status and last words say why it ended. It is not in
		// the idle class (kill yields only a worker the front ends), and
		// a dying process closes its socket after its memory is freed:
		// little is left to wait for.
		p.cmd.Wait()
	}
	p.conn.Close()
	reason := p.reason()

	pl := p.pl
	pl.mu.Lock()
	p.dead = true
	pl.procs = removeProc(pl.procs, p)
	if pl.spare == p {
		pl.spare = nil
	}
	closing := pl.closed
	if len(p.sessions) > 0 {
		pl.refillLocked()
	}
	var held []*Namespace
	for _, n := range p.sessions {
		held = append(held, n)
	}
	pl.mu.Unlock()
	close(p.gone)
	if len(held) > 0 && !closing {
		pl.ended.Add(1)
		pl.cfg.Logger.Warn("worker ended", "worker", p.pid, "reason", reason, "sessions", len(held))
	}
	busy := 0 // sessions with a line under way in p
	for _, n := range held {
		n.mu.Lock()
		if n.eval != nil && n.eval.p == p {
			busy++
		}
		n.mu.Unlock()
	}
	// Each session is restored in its own goroutine: one after another,
	// the last of a pool's sessions waited for all the others' restores.
	var wg sync.WaitGroup
	for _, n := range held {
		wg.Add(1)
		go func() { // ends when n is restored, or given up
			defer wg.Done()
			n.rehome(p, reason, closing, busy)
		}()
	}
	wg.Wait()
	if !itself {
		// The front ended it, and said why: its sessions did not wait
		// for its death, however long that takes.
		p.cmd.Wait()
	}
	close(p.done)
}

// reason says why the worker ended, in words for its users.
func (p *proc) reason() string {
	if k := p.killed.Load(); k != nil && k != &endedItself {
		return *k
	}
	if why := p.why.reason(); why != "" {
		return why
	}
	if st := p.cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "it was killed by " + unix.SignalName(ws.Signal())
		}
		return "it exited (" + st.String() + ")"
	}
	return "it ended"
}

func removeProc(procs []*proc, p *proc) []*proc {
	for i, q := range procs {
		if q == p {
			return append(procs[:i], procs[i+1:]...)
		}
	}
	return procs
}

// limit is the resident memory the worker may use, for the sessions it
// holds now; 0 for none.
func (p *proc) limitLocked() int64 {
	if p.pl.cfg.Memory <= 0 {
		return 0
	}
	return p.pl.cfg.Memory * int64(max(1, len(p.sessions)))
}

// watch reads each worker's memory and ends one past its limit.
func (pl *Pool) watch() {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-pl.stop:
			return
		case <-t.C:
		}
		pl.mu.Lock()
		type check struct {
			p     *proc
			limit int64
		}
		checks := make([]check, 0, len(pl.procs))
		for _, p := range pl.procs {
			checks = append(checks, check{p, p.limitLocked()})
		}
		pl.mu.Unlock()
		for _, c := range checks {
			rss, err := readRSS(c.p.pid)
			if err != nil {
				continue
			}
			c.p.rss.Store(rss)
			if c.limit > 0 && rss > c.limit {
				c.p.kill(fmt.Sprintf("it went past its memory limit (--session-memory %s: %s resident)", mib(c.limit), mib(rss)))
			}
		}
	}
}

func mib(n int64) string { return strconv.FormatInt(n>>20, 10) + " MiB" }

// readRSS reads a process's resident set size.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, errors.New("statm: short")
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// reasonWriter keeps the first line of a worker's standard error that
// says why a Go program died, and throws the rest (goroutine dumps) away.
type reasonWriter struct {
	mu    sync.Mutex
	line  []byte // the line so far; guarded by mu
	first string // guarded by mu
}

// maxReasonLine bounds a line kept while looking for a reason.
const maxReasonLine = 512

func (w *reasonWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for w.first == "" && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.line = append(w.line, p[:min(len(p), maxReasonLine-len(w.line))]...)
			break
		}
		w.line = append(w.line, p[:min(i, maxReasonLine-len(w.line))]...)
		p = p[i+1:]
		if why := fatalLine(string(w.line)); why != "" {
			w.first = why
		}
		w.line = w.line[:0]
	}
	return n, nil
}

func (w *reasonWriter) reason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == "" && len(w.line) > 0 {
		return fatalLine(string(w.line))
	}
	return w.first
}

// fatalLine turns a line of a dying Go program's output into a reason, or
// returns "" for any other line.
func fatalLine(line string) string {
	line = strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(line, "runtime: goroutine stack exceeds"):
		return "fatal error: stack overflow (" + strings.TrimPrefix(line, "runtime: ") + ")"
	case strings.HasPrefix(line, "fatal error: "),
		strings.HasPrefix(line, "panic: "),
		strings.HasPrefix(line, "SIGTRAP"),
		strings.HasPrefix(line, "SIGQUIT"),
		strings.HasPrefix(line, "SIGSEGV"),
		strings.HasPrefix(line, "SIGABRT"),
		strings.HasPrefix(line, "runtime: out of memory"):
		return line
	}
	return ""
}
