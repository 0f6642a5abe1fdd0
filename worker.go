package main

import (
	"errors"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"translucent/worker"
)

// workerCmd is a worker process: it evaluates the sessions its front
// opens, on the descriptor the front gave it (see package worker).
func workerCmd() error {
	fd, err := strconv.Atoi(os.Getenv(worker.EnvFD))
	if err != nil || fd < 3 {
		return errors.New("worker: this command is started by 'translucent serve', not by hand")
	}
	// A runaway recursion ends the worker at a 128 MiB stack rather than
	// the runtime's 1 GB: sooner, and within the default memory limit.
	debug.SetMaxStack(128 << 20)
	if err := worker.Serve(os.NewFile(uintptr(fd), "front")); !errors.Is(err, io.EOF) {
		return err
	}
	return nil // the front closed: code sessions left running ends with the process
}
