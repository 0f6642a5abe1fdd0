package serverproc_test

import (
	"context"
	"fmt"
	"strconv"
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

	// `translucent migrate --control /tmp/example.sock`, run meanwhile,
	// starts a successor on the same address, which says so when it serves.
	next, err := c.Wait(ctx, func(l serverproc.Line) bool {
		return l.Get("msg") == "listening" && l.Get("pid") != strconv.Itoa(c.First())
	})
	if err != nil {
		fmt.Println("no migration:", err)
		return
	}
	pid, _ := strconv.Atoi(next.Get("pid"))
	c.Follow(pid)
	fmt.Println("now served by pid", c.Pid())
}
