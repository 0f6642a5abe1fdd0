package front

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
)

// holdGC stops garbage collection until the returned func is called.
//
// Most of a server's heap is interpreters that live as long as their
// sessions, so a collection marks nearly all of it: gigabytes at 10,000
// sessions, seconds of CPU and of assists that every user's line pays
// for. A process that is about to hand over and exit has no use for one.
//
// The process may then grow by half the memory the machine has available,
// or by its own size if that cannot be read; a memory limit makes the
// collector run at that point all the same. A collection already under
// way goes on beside, but with so distant a goal that nobody is made to
// assist it.
func holdGC() (release func()) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	extra := ms.Sys
	if avail, ok := memAvailable(); ok {
		extra = avail / 2
	}
	limit := debug.SetMemoryLimit(-1) // -1 reads it
	debug.SetMemoryLimit(min(limit, int64(min(ms.Sys+extra, 1<<62))))
	// Not -1, which would wait here for that collection to end.
	percent := debug.SetGCPercent(1 << 16)
	var once sync.Once
	return func() {
		once.Do(func() {
			debug.SetGCPercent(percent)
			debug.SetMemoryLimit(limit)
		})
	}
}

// memAvailable is the kernel's estimate of the memory available to start
// new work without swapping (MemAvailable in /proc/meminfo), in bytes.
func memAvailable() (uint64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return parseMemAvailable(f)
}

func parseMemAvailable(r io.Reader) (uint64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 3 && string(f[0]) == "MemAvailable:" && string(f[2]) == "kB" {
			kb, err := strconv.ParseUint(string(f[1]), 10, 64)
			return kb << 10, err == nil && kb < 1<<50
		}
	}
	return 0, false
}
