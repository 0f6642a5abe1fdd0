package demo

import (
	"fmt"
	"net"
	"strings"
)

// A way in: telnet, ssh or web, and the address the server listens on
// for it.
type way struct{ kind, addr string }

// joinBanner is what the audience reads off the projector to join: for
// each way in, every address of this machine it can be reached on (hosts:
// hostAddrs), boxed so that it stands out of the transcript.
func joinBanner(ways []way, hosts []string, password string) string {
	lines := []string{"Join in: connect your own sessions now; they migrate too.", ""}
	for _, w := range ways {
		host, port, err := net.SplitHostPort(w.addr)
		if err != nil {
			continue
		}
		ip := net.ParseIP(host)
		names, only := []string{host}, ""
		switch wildcard := host == "" || ip != nil && ip.IsUnspecified(); {
		case wildcard && len(hosts) > 0:
			names = hosts
		case wildcard, ip != nil && ip.IsLoopback():
			names, only = []string{"127.0.0.1"}, "    (this machine only)"
		}
		for _, h := range names {
			switch w.kind {
			case "ssh":
				lines = append(lines, fmt.Sprintf("  ssh -p %s %s@%s%s", port, demoUser, h, only))
			case "web":
				lines = append(lines, "  http://"+net.JoinHostPort(h, port)+"/"+only)
			default:
				lines = append(lines, "  telnet "+h+" "+port+only)
			}
		}
	}
	lines = append(lines, "", fmt.Sprintf("  username %s    password %s", demoUser, password))
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	var b strings.Builder
	rule := "+" + strings.Repeat("-", width+4) + "+"
	b.WriteString("\n" + rule + "\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "|  %-*s  |\n", width, l)
	}
	b.WriteString(rule)
	return b.String()
}

// hostAddrs lists this machine's addresses other than loopback, IPv4
// first: those the room can reach.
func hostAddrs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var v4, v6 []string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			v4 = append(v4, n.IP.String())
		} else {
			v6 = append(v6, n.IP.String())
		}
	}
	return append(v4, v6...)
}

// dialable is an address the demo's own client can dial for a listening
// address: loopback for a wildcard one.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && (host == "" || ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}
