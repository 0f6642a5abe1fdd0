package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"translucent/namespace"
	"translucent/telnet"
)

const (
	promptLine     = ">>> "
	promptContinue = "... "
	maxLoginTries  = 3
	// maxChunk bounds the text of one multi-line input.
	maxChunk = 1 << 20
)

// errClientGone wraps the read error that ended a connection, so that it is
// not mistaken for the io.EOF the editor returns for Ctrl-D.
var errClientGone = errors.New("repl: client gone")

// Session is one telnet connection: login, then a read-eval-print loop in a
// namespace of its own. Its goroutine (run) owns the editor and namespace.
type Session struct {
	host Host    // the server that runs it
	cfg  *Config // its server's, read only
	id   uint64
	addr string
	nc   net.Conn
	conn *telnet.Conn
	in   *input
	hist *history

	mu    sync.Mutex
	user  string    // set once logged in; guarded by mu
	since time.Time // login time; guarded by mu
	ed    editor    // guarded by mu

	ns      Namespace // nil until logged in; used by the session goroutine, or while it is parked; set under mu
	lastOut byte      // last byte evaluated code wrote; guarded by mu

	// What a migration carries besides the above; written by the session
	// goroutine, read while it is parked (input.mu orders the two).
	charMode  bool            // server-side editing (the client negotiated)
	loginName string          // the name typed, while the password is asked
	loginTry  int             // wrong passwords so far
	chunk     namespace.Lines // the lines of an incomplete input so far

	paused      chan struct{} // non-nil while evaluated code's output must wait, closed on resume; guarded by mu
	pausing     chan struct{} // closed when a pause begins, renewed on resume; guarded by mu
	evalStopped bool          // a migration interrupted the evaluation; guarded by mu
	restored    bool          // adopted from another process: no greeting, no negotiation
	arrival     string        // what an adopted session tells its user first; set before run
	lost        []string      // what the migration could not carry, told on arrival
	moved       bool          // another process has its connection: write nothing; guarded by mu
	vouched     vouch         // what Vouch last found; guarded by mu

	// Watching (watch.go). shared: others may :watch this session; recap:
	// its latest output, kept while shared; watchers: the watches of it;
	// watching: the watch this session runs, if any. All guarded by mu.
	shared   bool
	recap    []byte
	watchers []*watch
	watching *watch
	left     bool // it ended here: no new watcher
	// The watch a migration carried, for the session goroutine to resume.
	watchID      uint64
	watchPending []byte

	// Changed by the session goroutine only, under mu: a migration's
	// precopy reads them while the session runs. Carried by a migration.
	record      []string // the inputs that ran, for :save
	recordBytes int      // their length
	recordMark  listMark // since a precopy took record (tail.go)
	loading     []string // lines of a :load file not yet run
	loadName    string   // the file being loaded
	loadLine    int      // lines of it run so far
	rawArgs     string   // the text after a meta-command's name
	transcript  *transcript
}

// NewSession makes session id of h on nc, as opts say (LoggedIn); Run
// serves it. cfg is h's, with its defaults set (SetDefaults), and is not
// changed while any of h's sessions runs.
func NewSession(h Host, cfg *Config, id uint64, nc net.Conn, opts ...ConnOption) *Session {
	s := &Session{host: h, cfg: cfg, id: id, addr: nc.RemoteAddr().String(), nc: nc, hist: &history{}, pausing: make(chan struct{})}
	s.conn = telnet.NewConn(nc)
	s.newInput()
	for _, o := range opts {
		o(s)
	}
	return s
}

// ID is the session's number, unique in the server and kept across
// migrations.
func (s *Session) ID() uint64 { return s.id }

// Addr is the client's address.
func (s *Session) Addr() string { return s.addr }

// User is who logged in, "" while logging in.
func (s *Session) User() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

func (s *Session) newInput() {
	s.in = newInput(readerFunc(func(p []byte) (int, error) {
		n, err := s.conn.Read(p)
		// A deadline is how a migration wakes the reader, 10,000 times at
		// once: not an error worth formatting.
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: %w", errClientGone, err)
		}
		return n, err
	}))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Info describes the session for :who, status and the dashboard.
func (s *Session) Info() SessionInfo {
	s.mu.Lock()
	info := SessionInfo{ID: s.id, User: s.user, Addr: s.addr, Since: s.since, State: "logging in", Shared: s.shared}
	if s.watching != nil {
		info.Watching = s.watching.target.id
	}
	ns := s.ns
	s.mu.Unlock()
	if info.User != "" {
		info.State = "idle"
		s.in.mu.Lock()
		if s.in.cancelEval != nil {
			info.State = "evaluating"
		}
		s.in.mu.Unlock()
		if info.Watching != 0 {
			info.State = "watching"
		}
	}
	if w, ok := ns.(worker); ok {
		info.Worker, info.Memory = w.Worker()
	}
	return info
}

func (s *Session) editor() editor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ed
}

// printf writes the REPL's own text to the client, folded to its window.
func (s *Session) printf(format string, args ...any) {
	ed := s.editor()
	fmt.Fprint(ed, wrapped(ed, fmt.Sprintf(format, args...)))
}

// Run serves the session until the client leaves, logs out, or ctx (the
// server) ends. It closes the connection, and ends the watches of it,
// before returning.
func (s *Session) Run(ctx context.Context) {
	defer s.endWatchers()
	log := sessionLog{s.cfg.Logger, []any{"session", s.id, "addr", s.addr}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var pumpDone sync.WaitGroup
	pumpDone.Add(1)
	go func() { // ends when the connection is closed below
		defer pumpDone.Done()
		s.in.pump()
	}()
	// Closing the connection is what ends the pump and unblocks the editor,
	// whether the client left, the server closes or the session ends.
	stop := context.AfterFunc(ctx, func() {
		if s.host.Closing() {
			s.nc.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprint(s.conn, "\r\ntranslucent: server shutting down\r\n")
		}
		s.nc.Close()
	})
	defer func() {
		stop()
		s.nc.Close()
		pumpDone.Wait()
		if s.ns != nil {
			s.ns.Close()
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()

	s.conn.OnResize(func(w, h int) {
		if ed := s.editor(); ed != nil {
			ed.SetSize(w, h)
		}
	})
	if !s.restored {
		if err := s.conn.Negotiate(); err != nil {
			return
		}
		s.chooseEditor()
	}
	if s.arrival != "" {
		fmt.Fprint(s.conn, s.arrival)
	}
	user := s.Info().User
	if user == "" {
		var err error
		if user, err = s.login(ctx); err != nil {
			if !errors.Is(err, errClientGone) && ctx.Err() == nil {
				log.Info("login failed", "err", err)
			}
			return
		}
		log.Info("logged in", "user", user)
		s.loadHistory(user)
	} else if !s.restored { // the way in authenticated the user (LoggedIn)
		log.Info("logged in", "user", user, "by", "relay")
		s.loadHistory(user)
	}
	log = log.with("user", user)
	if t := s.transcriptFor(user, s.Info().Since); t != nil {
		s.transcript = t
		defer t.close()
		s.mu.Lock()
		s.ed = transcribed{s.ed, t}
		s.mu.Unlock()
	}
	s.loop(ctx, log)
	if !s.isMoved() {
		s.saveHistory(user)
	}
	log.Info("logged out")
}

// sessionLog logs a session's lines with its attributes. slog's With
// would format them when the session starts: after a migration's commit,
// 10,000 sessions starting at once spent a tenth of the new process's CPU
// on it, for lines most of them never log.
type sessionLog struct {
	base  *slog.Logger
	attrs []any
}

func (l sessionLog) with(args ...any) sessionLog {
	return sessionLog{l.base, slices.Concat(l.attrs, args)}
}

func (l sessionLog) Info(msg string, args ...any)  { l.log(slog.LevelInfo, msg, args) }
func (l sessionLog) Warn(msg string, args ...any)  { l.log(slog.LevelWarn, msg, args) }
func (l sessionLog) Error(msg string, args ...any) { l.log(slog.LevelError, msg, args) }

func (l sessionLog) log(level slog.Level, msg string, args []any) {
	l.base.Log(context.Background(), level, msg, slices.Concat(l.attrs, args)...)
}

// chooseEditor waits, briefly, for the client's answer to our WILL ECHO: a
// telnet client gets server-side editing; a client that sends data first,
// or says nothing, edits its own lines (nc).
func (s *Session) chooseEditor() {
	t := time.NewTimer(s.cfg.NegotiationWait)
	defer t.Stop()
	s.mu.Lock()
	pausing := s.pausing
	s.mu.Unlock()
	select {
	case <-s.conn.Answered():
	case <-s.in.Arrived():
	case <-s.in.Gone(): // closed at once: its place is free now, not after the wait
	case <-pausing: // a migration waits: decide with what we know
	case <-t.C:
	}
	s.charMode = s.conn.Enabled(telnet.Echo, true)
	s.setEditor()
}

// setEditor makes the editor charMode asks for. Its output passes through
// the input's mute, so that a restored session does not repeat what the
// client already sees.
func (s *Session) setEditor() {
	out := writerFunc(func(p []byte) (int, error) {
		if s.in.isMuted() || s.isMoved() {
			return len(p), nil
		}
		s.tee(p)
		return s.conn.Write(p)
	})
	var ed editor
	if s.charMode {
		ce := newCharEditor(s.in, out, s.hist)
		ce.complete = s.complete
		if w, h := s.conn.WindowSize(); w > 0 {
			ce.SetSize(w, h)
		}
		ed = ce
	} else {
		ed = &lineEditor{in: s.in, out: out, echo: s.tee}
	}
	s.mu.Lock()
	s.ed = ed
	s.mu.Unlock()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// login asks for a name and password until they match, at most
// maxLoginTries times, within the login timeout.
func (s *Session) login(ctx context.Context) (string, error) {
	cfg := s.cfg
	timer := time.AfterFunc(cfg.LoginTimeout, func() {
		s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(s.conn, "\r\nlogin timed out after %v\r\n", cfg.LoginTimeout)
		s.nc.Close()
	})
	defer timer.Stop()
	// lctx ends when the client leaves, so that a login waiting for its
	// turn to check a password gives up its place at once.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends with lctx, at the latest when login returns
		select {
		case <-s.in.Gone():
			cancel()
		case <-lctx.Done():
		}
	}()

	ed := s.editor()
	for s.loginTry < maxLoginTries {
		if s.loginName == "" {
			name, err := ed.ReadLine("username: ")
			if errors.Is(err, errInterrupt) || errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				return "", err
			}
			// The editor keeps every line in the history, this one too:
			// it is not a line of Go, and it may be a password typed at
			// the wrong prompt, so Up-arrow in the REPL must not find it.
			s.hist.clear()
			s.loginName = strings.TrimSpace(name)
			continue
		}
		name := s.loginName
		password, err := ed.ReadPassword("password: ")
		s.loginName = ""
		if errors.Is(err, errInterrupt) || errors.Is(err, errLineTooLong) {
			continue
		}
		if err != nil {
			return "", err
		}
		ok, err := s.host.CheckLogin(lctx, s.addr, name, password)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("%w: it left while its password waited to be checked", errClientGone)
		}
		cfg.Observer.Login(ok)
		if ok {
			if !timer.Stop() {
				return "", errors.New("login timed out")
			}
			s.mu.Lock()
			s.user, s.since = name, time.Now()
			s.mu.Unlock()
			s.host.LoggedIn(s)
			return name, nil
		}
		s.loginTry++
		// A name that is nobody's may be a password typed at the wrong
		// prompt: it stays out of the log.
		who := []any{"session", s.id, "addr", s.addr, "try", s.loginTry}
		if cfg.Users.Has(name) {
			who = append(who, "user", name)
		} else {
			who = append(who, "user", "(unknown)")
		}
		cfg.Logger.Warn("wrong password", who...)
		select {
		case <-time.After(cfg.LoginDelay):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		fmt.Fprint(ed, "Login incorrect\n")
	}
	fmt.Fprint(ed, "Too many failed logins.\n")
	return "", fmt.Errorf("%d wrong passwords", maxLoginTries)
}

// clear forgets every entry.
func (h *history) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = nil
	h.typed = 0
	h.mark = listMark{}
}

// loop is the read-eval-print loop.
func (s *Session) loop(ctx context.Context, log sessionLog) {
	ed := s.editor()
	if s.ns == nil {
		ns, err := s.cfg.Namespaces.New(s.namespaceOptions())
		if err != nil {
			log.Error("no namespace", "err", err)
			fmt.Fprintf(ed, "error: the server cannot evaluate Go right now (%v); try again later\n", err)
			return
		}
		s.mu.Lock() // others read it under mu (LiveState)
		s.ns = ns
		s.mu.Unlock()
		fmt.Fprintf(ed, "translucent %s, pid %d%s. Type Go, or :help.\n", s.cfg.Version, os.Getpid(), workerNote(ns))
	}
	if s.watchID != 0 {
		s.resumeWatch()
	}
	for {
		prompt := promptLine
		if s.chunk.Len() > 0 {
			prompt = promptContinue
		}
		s.fixLine()
		if s.chunk.Len() == 0 {
			s.hist.markInput()
		}
		if s.loadName != "" && len(s.loading) == 0 {
			if s.chunk.Len() > 0 {
				s.chunk.Reset()
				s.stopLoad("the file ends inside an unfinished input")
				continue
			}
			s.loadName, s.loadLine = "", 0
		}
		var line string
		var err error
		if len(s.loading) > 0 {
			// :load: the file's next line, shown as if typed.
			line = s.loading[0]
			s.loading = s.loading[1:]
			s.loadLine++
			fmt.Fprintf(ed, "%s%s\n", prompt, line)
		} else {
			line, err = ed.ReadLine(prompt)
		}
		if err == nil {
			s.transcript.typed(prompt, line)
		}
		switch {
		case errors.Is(err, errInterrupt):
			s.chunk.Reset()
			continue
		case errors.Is(err, errLineTooLong):
			s.chunk.Reset()
			fmt.Fprintf(ed, "error: line too long (this client's limit is %d characters); input discarded\n", lineLimit(ed))
			continue
		case errors.Is(err, io.EOF): // Ctrl-D on an empty line
			fmt.Fprint(ed, "bye\n")
			return
		case err != nil:
			return
		}
		if !s.charMode && len(s.loading) == 0 && s.loadName == "" {
			s.hist.Add(line) // x/term keeps a character-mode client's
		}
		if s.chunk.Len() == 0 {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" {
				continue
			}
			if strings.HasPrefix(trimmed, ":") {
				if s.loadName != "" {
					s.stopLoad("meta-commands do not run from a file")
					continue
				}
				if quit := s.command(trimmed); quit {
					return
				}
				continue
			}
		}
		if s.chunk.Len()+len(line) > maxChunk {
			s.chunk.Reset()
			fmt.Fprintf(ed, "error: input over %d bytes; discarded\n", maxChunk)
			continue
		}
		// The front judges whether the input is complete, line by line,
		// in time linear in its length; the namespace (a worker, often)
		// sees each chunk once.
		if !s.chunk.Add(line) {
			continue
		}
		evalCtx, done := s.in.evaluating(ctx)
		began := time.Now()
		res, err := s.ns.Eval(evalCtx, s.chunk.String())
		done()
		if errors.Is(err, namespace.ErrIncomplete) {
			continue
		}
		s.cfg.Observer.Evaluated(outcome(err), time.Since(began))
		if s.charMode && strings.Count(s.chunk.String(), "\n") > 1 {
			s.hist.endInput(strings.TrimRight(s.chunk.String(), "\n")) // recalled whole: recall.go
		}
		if err == nil {
			s.recordChunk(s.chunk.String())
		}
		s.chunk.Reset()
		s.fixLine()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, namespace.ErrRolledBack):
			s.takeEvalStopped()
			args := []any{"reason", err}
			if s.cfg.LogLines {
				args = append(args, "line", line)
			}
			log.Warn("a line ended its worker; session rolled back", args...)
			fmt.Fprintf(ed, "%s\n", wrapped(ed, err.Error()))
		case errors.Is(err, namespace.ErrInterrupted) && s.takeEvalStopped():
			fmt.Fprint(ed, "interrupted: the server is migrating and this evaluation ran past the grace period\n")
		case err == namespace.ErrInterrupted:
			fmt.Fprint(ed, "interrupted\n")
		case errors.Is(err, namespace.ErrInterrupted):
			fmt.Fprintf(ed, "%s\n", wrapped(ed, err.Error())) // a limit, named
		case err != nil:
			fmt.Fprintf(ed, "%s\n", wrapped(ed, err.Error()))
		case res.HasValue:
			fmt.Fprintf(ed, "%s\n", fitted(ed, res.Value))
		}
		if err != nil && s.loadName != "" {
			s.stopLoad("the line above failed")
		}
	}
}

// stopLoad abandons the rest of a :load file, saying where and why.
func (s *Session) stopLoad(why string) {
	fmt.Fprintf(s.editor(), "error: :load %s stopped at its line %d (%s); the rest was not run\n", s.loadName, s.loadLine, why)
	s.loading, s.loadName, s.loadLine = nil, "", 0
}

// workerNote names the worker process a namespace runs in, if any.
func workerNote(ns Namespace) string {
	if w, ok := ns.(worker); ok {
		pid, _ := w.Worker()
		return fmt.Sprintf(" (your code runs in worker %d)", pid)
	}
	return ""
}

func (s *Session) namespaceOptions() namespace.Options {
	return namespace.Options{
		Stdout:       (*sessionOutput)(s),
		Stderr:       (*sessionOutput)(s),
		Notes:        (*sessionNotes)(s),
		Version:      s.cfg.Version,
		ServerPid:    os.Getpid(),
		Unrestricted: s.cfg.Unrestricted,
	}
}

func (s *Session) takeEvalStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := s.evalStopped
	s.evalStopped = false
	return stopped
}

// fitted is a value as the client's window shows it: wrapped to its width
// and at most four screens long (namespace.Fit), when the client told its
// size (a character-mode telnet, NAWS); as it is otherwise.
func fitted(ed editor, value string) string {
	w, h := windowSize(ed)
	if w == 0 {
		return value
	}
	return namespace.Fit(value, w, 4*max(h, 1))
}

// wrapped is the REPL's own text (help, messages, errors) folded between
// words to the client's window width when the client told it
// (namespace.Fold); as it is otherwise.
func wrapped(ed editor, text string) string {
	w, _ := windowSize(ed)
	return namespace.Fold(text, w)
}

// windowSize is the client's window, in columns and rows, or zeros when
// the client did not say (plain line mode).
func windowSize(ed editor) (width, height int) {
	if t, ok := ed.(transcribed); ok {
		ed = t.editor
	}
	c, ok := ed.(*charEditor)
	if !ok {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.width, c.height
}

func lineLimit(ed editor) int {
	if t, ok := ed.(transcribed); ok {
		ed = t.editor
	}
	if _, ok := ed.(*charEditor); ok {
		return maxCharLine - 1
	}
	return maxRawLine
}

// fixLine ends the line evaluated code left unterminated, so that the next
// prompt or value starts at the left margin.
func (s *Session) fixLine() {
	s.mu.Lock()
	last := s.lastOut
	s.lastOut = 0
	ed := s.ed
	s.mu.Unlock()
	if last != 0 && last != '\n' {
		fmt.Fprint(ed, "\n")
	}
}

// sessionNotes is where the server's own notes about the session's
// namespace go: to the client as the code's output does, folded to its
// window.
type sessionNotes Session

func (o *sessionNotes) Write(p []byte) (int, error) {
	s := (*Session)(o)
	if _, err := (*sessionOutput)(s).Write([]byte(wrapped(s.editor(), string(p)))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sessionOutput is where evaluated code's standard output and error go:
// the session's own client, never the server's log.
type sessionOutput Session

func (o *sessionOutput) Write(p []byte) (int, error) {
	s := (*Session)(o)
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	for s.paused != nil && !s.moved {
		// A migration is under way: the client is not ours to write to
		// until it ends, here (resume) or in the next process.
		ch := s.paused
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	if s.moved {
		s.mu.Unlock()
		return len(p), nil
	}
	s.lastOut = p[len(p)-1]
	ed := s.ed
	s.mu.Unlock()
	return ed.Write(p)
}

func (s *Session) isMoved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.moved
}
