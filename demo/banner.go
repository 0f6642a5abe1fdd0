package demo

import (
	"fmt"
	"net"
	"strings"
)

// joinBanner is what the audience reads off the projector to join: every
// address of this machine the server can be reached on, boxed so that it
// stands out of the transcript. addr is where the server listens, connect
// the command it logged, hosts this machine's addresses (hostAddrs).
func joinBanner(addr, connect string, hosts []string, password string) string {
	lines := []string{"Join in: connect your own sessions now; they migrate too.", ""}
	host, port, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	wildcard := host == "" || ip != nil && ip.IsUnspecified()
	switch {
	case err != nil:
		lines = append(lines, "  "+connect)
	case wildcard && len(hosts) > 0:
		for _, h := range hosts {
			lines = append(lines, "  telnet "+h+" "+port)
		}
	case wildcard, ip != nil && ip.IsLoopback():
		lines = append(lines, "  telnet 127.0.0.1 "+port,
			"  (this machine only: demo --listen :2323 lets the room in)")
	default:
		lines = append(lines, "  telnet "+host+" "+port)
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
