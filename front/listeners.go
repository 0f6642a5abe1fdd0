package front

import (
	"fmt"
	"net"
	"os"

	"translucent/migrate"
)

// The names of a serving process's listeners. A handoff lists them in its
// meta (meta.Listeners), in the order of the descriptors it carries, and
// the successor takes each by name: a listener added later (a web port, an
// SSH port) is then never taken for another, and a successor that does not
// know one says so rather than serve it as something else.
const (
	listenTelnet  = "telnet"
	listenControl = "control"
	listenHTTP    = "http"
	// serve --ssh: the SSH port, which the relay process accepts on (the
	// front keeps a copy, so that a relay it restarts listens on the same
	// port), and the Unix socket where the relay reaches the front.
	listenSSH   = "ssh"
	listenRelay = "relay"
	listenWeb   = "web"
)

// positional is the order of a predecessor that did not name its
// listeners (before names): telnet, control, and http when there is one.
var positional = []string{listenTelnet, listenControl, listenHTTP}

// listeners are what a serving process listens on; they move with it.
type listeners struct {
	telnet  net.Listener
	control *migrate.ControlListener
	http    net.Listener      // nil without --http
	ssh     *net.TCPListener  // nil without --ssh
	relay   *net.UnixListener // nil without --ssh
	web     net.Listener      // nil without --web
}

// listen takes cfg's listeners afresh: a server's first process.
func listen(cfg *Config) (listeners, error) {
	var l listeners
	var err error
	if l.telnet, err = net.Listen("tcp", cfg.Listen); err != nil {
		return l, err
	}
	if cfg.HTTP != "" {
		if l.http, err = net.Listen("tcp", cfg.HTTP); err != nil {
			l.close()
			return listeners{}, err
		}
	}
	if cfg.Web != "" {
		if l.web, err = net.Listen("tcp", cfg.Web); err != nil {
			l.close()
			return listeners{}, err
		}
	}
	if l.control, err = migrate.ListenControl(cfg.Control); err != nil {
		l.close()
		return listeners{}, err
	}
	if cfg.SSH != "" {
		if err := l.listenSSH(cfg); err != nil {
			l.close()
			return listeners{}, err
		}
	}
	return l, nil
}

// A namedListener is one of a process's listeners as a successor gets
// it: its name, and how to make the descriptor to send.
type namedListener struct {
	name string
	file func() (*os.File, error)
}

// named lists l's listeners in the order a successor gets them. telnet
// makes the telnet listener's copy, which the REPL server makes (it owns
// the listener while it serves).
func (l *listeners) named(telnet func() (*os.File, error)) []namedListener {
	ls := []namedListener{{listenTelnet, telnet}, {listenControl, l.control.File}}
	if l.http != nil {
		ls = append(ls, namedListener{listenHTTP, l.http.(*net.TCPListener).File})
	}
	if l.ssh != nil {
		ls = append(ls, namedListener{listenSSH, l.ssh.File}, namedListener{listenRelay, l.relay.File})
	}
	if l.web != nil {
		ls = append(ls, namedListener{listenWeb, l.web.(*net.TCPListener).File})
	}
	return ls
}

// names are the names of l's listeners, in the order files gives them.
func (l *listeners) names() []string {
	var names []string
	for _, n := range l.named(nil) {
		names = append(names, n.name)
	}
	return names
}

// files duplicates l's listeners for a successor, in the order of names.
func (l *listeners) files(telnet func() (*os.File, error)) ([]*os.File, error) {
	var files []*os.File
	for _, n := range l.named(telnet) {
		f, err := n.file()
		if err != nil {
			closeFiles(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// inherit makes listeners of the descriptors a predecessor handed over,
// named by names (nil: the positional order). It closes every file; on
// failure, the listeners it made too.
func inherit(names []string, files []*os.File) (l listeners, err error) {
	defer closeFiles(files) // each listener holds its own copy
	if names == nil {
		names = positional[:min(len(files), len(positional))]
	}
	if len(names) != len(files) {
		return l, fmt.Errorf("handoff: %d listeners named, %d handed over", len(names), len(files))
	}
	defer func() {
		if err != nil {
			l.abandon()
			l = listeners{}
		}
	}()
	for i, name := range names {
		switch {
		case name == listenTelnet && l.telnet == nil:
			l.telnet, err = net.FileListener(files[i])
		case name == listenHTTP && l.http == nil:
			l.http, err = net.FileListener(files[i])
		case name == listenWeb && l.web == nil:
			l.web, err = net.FileListener(files[i])
		case name == listenControl && l.control == nil:
			l.control, err = migrate.ControlFromFile(files[i])
		case name == listenSSH && l.ssh == nil:
			l.ssh, err = tcpListener(files[i])
		case name == listenRelay && l.relay == nil:
			l.relay, err = unixListener(files[i])
		default:
			err = fmt.Errorf("handoff: a listener named %q, which this build does not serve, or twice", name)
		}
		if err != nil {
			return l, fmt.Errorf("handoff: listener %q: %w", name, err)
		}
	}
	if l.telnet == nil || l.control == nil {
		return l, fmt.Errorf("handoff: listeners %q, without telnet and control", names)
	}
	if (l.ssh == nil) != (l.relay == nil) {
		return l, fmt.Errorf("handoff: listeners %q: ssh and relay go together", names)
	}
	return l, nil
}

// abandon closes inherited listeners that this process will not serve
// after all (a handoff that failed): the control socket's path stays, the
// predecessor's still.
func (l *listeners) abandon() {
	if l.control != nil {
		l.control.Detach()
	}
	l.close()
}

// close closes every listener l has (the control socket's path with it,
// unless detached).
func (l *listeners) close() {
	if l.telnet != nil {
		l.telnet.Close()
	}
	if l.http != nil {
		l.http.Close()
	}
	if l.ssh != nil {
		l.ssh.Close()
	}
	if l.relay != nil {
		l.relay.Close() // the socket's path stays: see removeRelaySocket
	}
	if l.web != nil {
		l.web.Close()
	}
	if l.control != nil {
		l.control.Close()
	}
}
