package repl

import (
	"testing"
)

// BenchmarkRoundTrip: `x + 1` typed by a client in line mode, to its
// answer and the next prompt, in a namespace in this process: the front's
// own cost per line (run with -benchtime, side by side with another build).
func BenchmarkRoundTrip(b *testing.B) {
	_, addr := lineServer(b, Config{Home: b.TempDir()})
	c := dialLine(b, addr)
	c.expect("username: ")
	c.login()
	c.send("x := 41\r\n")
	c.expect(">>> ")
	for b.Loop() {
		c.send("x + 1\r\n")
		c.expect("42\r\n>>> ")
	}
}
