// Command successor is the smallest successor: it receives a handoff,
// answers READY and waits for COMMIT. BenchmarkStartToReady builds it to
// measure fork+exec to READY without the test binary's size.
package main

import (
	"context"
	"fmt"
	"os"

	"translucent/migrate"
)

func main() {
	p, err := migrate.Inherited()
	if err != nil || p == nil {
		fmt.Fprintln(os.Stderr, "successor: not started by migrate.Start:", err)
		os.Exit(2)
	}
	if _, _, _, err := p.Receive(); err != nil {
		p.Fail(err.Error())
		os.Exit(1)
	}
	if err := p.Ready(nil); err != nil {
		os.Exit(1)
	}
	if err := p.WaitCommit(context.Background()); err != nil {
		os.Exit(1)
	}
}
