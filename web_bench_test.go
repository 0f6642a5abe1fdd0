package main

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkKeystrokeEcho: one key typed at the prompt to its echo, through
// telnet and through the browser's path (telnet over a WebSocket), side by
// side on one server. Besides ns/op it reports the p50 and p99 of the
// round trips.
func BenchmarkKeystrokeEcho(b *testing.B) {
	s := startServer(b, "--web", "127.0.0.1:0")
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
}
