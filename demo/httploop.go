package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// httpLoop asks the server's status page for its pid, over and over, while
// the port changes hands: the talk's "simple (stateless) migration", where
// only the listening socket has to move.
type httpLoop struct {
	url    string
	client *http.Client
	stop   context.CancelFunc
	done   chan struct{} // closed when the loop has ended

	mu    sync.Mutex
	stats httpStats // guarded by mu
}

// httpStats counts what the loop saw.
type httpStats struct {
	Requests int           // answered or failed; a request cut short by stop is not counted
	Failed   int           // an error, a status other than 200 or an unreadable answer
	Errors   []string      // the first few failures
	ByPid    map[int]int   // answers per pid
	Pids     []int         // the pids in the order they first answered
	Switches int           // how often the answering pid changed from one request to the next
	Slowest  time.Duration // the longest request
}

// startHTTPLoop starts asking url every interval, until stopped.
func startHTTPLoop(ctx context.Context, url string, interval time.Duration) *httpLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &httpLoop{
		url:    url,
		client: newHTTPClient(),
		stop:   cancel,
		done:   make(chan struct{}),
		stats:  httpStats{ByPid: map[int]int{}},
	}
	go l.run(ctx, interval) // ends when ctx does (Stop)
	return l
}

func (l *httpLoop) run(ctx context.Context, interval time.Duration) {
	defer close(l.done)
	defer l.client.CloseIdleConnections()
	t := time.NewTicker(interval)
	defer t.Stop()
	last := 0
	for {
		pid, _, d, err := getStatus(ctx, l.client, l.url)
		if ctx.Err() != nil {
			return // stopped; a request cut short says nothing
		}
		l.mu.Lock()
		s := &l.stats
		s.Requests++
		s.Slowest = max(s.Slowest, d)
		if err != nil {
			s.Failed++
			if len(s.Errors) < 5 {
				s.Errors = append(s.Errors, err.Error())
			}
		} else {
			if s.ByPid[pid] == 0 {
				s.Pids = append(s.Pids, pid)
			}
			s.ByPid[pid]++
			if last != 0 && pid != last {
				s.Switches++
			}
			last = pid
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newHTTPClient makes a client that opens a new connection for each
// request, the way a loop of curl commands does: what is tested is that
// the listening socket keeps accepting while it moves, not that an idle
// keep-alive connection is retried.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

// getStatus asks the status page once and returns its answer, parsed
// ("pid N version V"), and how long it took.
func getStatus(ctx context.Context, c *http.Client, url string) (pid int, body string, d time.Duration, err error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	d = time.Since(start)
	if err != nil {
		return 0, "", d, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, "", d, fmt.Errorf("status %s: %q", resp.Status, b)
	}
	pid, _, err = parseStatusPage(string(b))
	return pid, string(b), d, err
}

// parseStatusPage parses "pid 4242 version v1 (go1.26.8)\n".
func parseStatusPage(body string) (int, string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(body, "\n"), "pid ")
	if !ok {
		return 0, "", fmt.Errorf("status page %q: want \"pid N version V\"", body)
	}
	p, v, ok := strings.Cut(rest, " version ")
	pid, err := strconv.Atoi(p)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("status page %q: want \"pid N version V\"", body)
	}
	return pid, v, nil
}

// snapshot returns the counts so far.
func (l *httpLoop) snapshot() httpStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.ByPid = make(map[int]int, len(l.stats.ByPid))
	for k, v := range l.stats.ByPid {
		s.ByPid[k] = v
	}
	s.Pids = append([]int(nil), l.stats.Pids...)
	s.Errors = append([]string(nil), l.stats.Errors...)
	return s
}

// Stop ends the loop, waits for it, and returns the counts.
func (l *httpLoop) Stop() httpStats {
	l.stop()
	<-l.done
	return l.snapshot()
}
