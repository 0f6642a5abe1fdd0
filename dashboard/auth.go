package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// authCache remembers, for a short while, the credentials a bcrypt check
// accepted: a browser sends them with every request (the page, its
// scripts, the stream, a graph), and each check is 60 ms of a CPU that
// the sessions need. Only accepted ones are remembered, by a salted
// hash, so a wrong password costs its full check and delay every time.
type authCache struct {
	salt [32]byte

	mu sync.Mutex
	ok map[[32]byte]time.Time // credentials' hash → until; guarded by mu
}

const (
	authTTL     = time.Minute
	authEntries = 64
)

func newAuthCache() *authCache {
	c := &authCache{ok: map[[32]byte]time.Time{}}
	rand.Read(c.salt[:])
	return c
}

func (c *authCache) check(ctx context.Context, src Source, addr, user, password string) bool {
	h := sha256.New()
	h.Write(c.salt[:])
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var key [32]byte
	h.Sum(key[:0])
	now := time.Now()
	c.mu.Lock()
	until, ok := c.ok[key]
	c.mu.Unlock()
	if ok && now.Before(until) {
		return true
	}
	if !src.CheckPassword(ctx, addr, user, password) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ok) >= authEntries {
		for k, until := range c.ok {
			if !now.Before(until) {
				delete(c.ok, k)
			}
		}
		if len(c.ok) >= authEntries {
			clear(c.ok)
		}
	}
	c.ok[key] = now.Add(authTTL)
	return true
}
