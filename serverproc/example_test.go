package serverproc_test

import (
	"context"
	"fmt"
	"time"

	"translucent/serverproc"
)

// A server on a free loopback port, followed through a migration.
func Example() {
	c, err := serverproc.Start(serverproc.Config{
		Binary: "translucent",
		Args:   []string{"--listen", "127.0.0.1:0", "--control", "/tmp/example.sock"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Stop(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := c.WaitListening(ctx, c.First())
	if err != nil {
		fmt.Printf("%v\n%s\n", err, c.Tail(20))
		return
	}
	fmt.Println("telnet to", l.Addr)

	// `translucent migrate --control /tmp/example.sock` starts a successor,
	// which logs that it listens, on the same address, and takes over.
	next, err := c.WaitListening(ctx, 0)
	if err == nil && next.Pid != c.First() {
		c.Follow(next.Pid)
	}
}
