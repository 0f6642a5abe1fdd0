package front

import (
	"context"
	"net"
	"runtime"
	"sync"
	"time"
)

// A gate bounds the CPU that password checks take, so that people
// guessing passwords make themselves wait, not the users already logged
// in: a bcrypt check is about 60 ms of a CPU, and 64 connections guessing
// at once used to keep every CPU busy.
//
//   - At most slots checks run at once in the process (one CPU fewer than
//     there are, at least one), so a CPU stays free for the sessions.
//   - Each address has a budget of wrong passwords: burst at once, then
//     one every refill. A check takes one from it, and a right password
//     gives it back, so users logging in (ten thousand from one address,
//     in the bench) never wait on it, and a flood of guesses from one
//     address waits on its own budget.
//
// The wait is before the check, on top of the delay after a wrong
// password, and ends early when ctx does (the connection left).
type gate struct {
	slots  chan struct{}
	burst  float64
	refill time.Duration

	mu    sync.Mutex
	addrs map[string]*budget // by host; guarded by mu
}

// budget is an address's token bucket.
type budget struct {
	tokens float64   // at last
	last   time.Time // when tokens was computed
}

// maxBudgets bounds the addresses remembered; past it, those whose budget
// is whole again are forgotten (they would start whole anyway).
const maxBudgets = 4096

func newGate(slots, burst int, refill time.Duration) *gate {
	if slots <= 0 {
		slots = max(runtime.NumCPU()-1, 1)
	}
	return &gate{slots: make(chan struct{}, slots), burst: float64(max(burst, 1)), refill: refill, addrs: map[string]*budget{}}
}

// enter waits for addr's budget and a free slot, and returns the function
// to call with the check's outcome, which frees the slot. Its error is
// ctx's.
func (g *gate) enter(ctx context.Context, addr string) (func(ok bool), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	for {
		wait := g.take(host, time.Now())
		if wait == 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	select {
	case g.slots <- struct{}{}:
		return func(ok bool) {
			<-g.slots
			if ok {
				g.refund(host)
			}
		}, nil
	case <-ctx.Done():
		g.refund(host)
		return nil, ctx.Err()
	}
}

// refund gives host back the token a check took.
func (g *gate) refund(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.addrs[host]; b != nil {
		b.tokens = min(g.burst, b.tokens+1)
	}
}

// take spends one of host's tokens at now, or returns how long until one
// is there.
func (g *gate) take(host string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.addrs[host]
	if b == nil {
		if len(g.addrs) >= maxBudgets {
			g.forgetLocked(now)
		}
		b = &budget{tokens: g.burst, last: now}
		g.addrs[host] = b
	}
	b.tokens = min(g.burst, b.tokens+float64(now.Sub(b.last))/float64(g.refill))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(g.refill))
}

// forgetLocked drops the budgets that have refilled.
func (g *gate) forgetLocked(now time.Time) {
	for host, b := range g.addrs {
		if b.tokens+float64(now.Sub(b.last))/float64(g.refill) >= g.burst {
			delete(g.addrs, host)
		}
	}
}

// An address may get loginBurst wrong passwords checked at once, then one
// every loginRefill (see gate): a user who mistypes a few times never
// waits; a script guessing gets one guess a second, and the CPU that goes
// with it, from each address.
const (
	loginBurst  = 8
	loginRefill = time.Second
)
