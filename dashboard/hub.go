package dashboard

import (
	"sync"
	"sync/atomic"
)

// streamQueue is the events one stream may hold unsent: a migration
// publishes about a dozen.
const streamQueue = 64

// A Hub fans events out to the open streams. The zero value is not
// usable; a nil *Hub drops everything, so a process without a dashboard
// publishes to nil.
type Hub struct {
	mu      sync.Mutex
	streams map[*stream]struct{} // guarded by mu
	closed  bool                 // guarded by mu

	dropped atomic.Int64 // events a slow stream missed, in all
}

// stream is one client's queue of events.
type stream struct {
	c       chan message // closed by the Hub when it closes
	dropped atomic.Int64 // events missed since the client was last told
}

// message is an event and its value, which the stream's own goroutine
// encodes, not the publisher: a migration publishes in its pause. The
// value is not changed once published.
type message struct {
	event string
	v     any
}

// NewHub returns a Hub with no stream.
func NewHub() *Hub { return &Hub{streams: map[*stream]struct{}{}} }

// Publish sends an event of type event, v as JSON, to every stream; v
// must not change afterwards. It never blocks: a stream whose queue is
// full misses it (Dropped).
func (h *Hub) Publish(event string, v any) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.streams {
		select {
		case s.c <- message{event, v}:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
}

// Listening reports whether any stream is open: a publisher may spare
// itself making an event nobody would receive.
func (h *Hub) Listening() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams) > 0
}

// Dropped reports how many events slow streams have missed.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// subscribe opens a stream; leave ends it. A stream opened after Close
// is closed already.
func (h *Hub) subscribe() (s *stream, leave func()) {
	s = &stream{c: make(chan message, streamQueue)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.c)
		return s, func() {}
	}
	h.streams[s] = struct{}{}
	return s, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.streams[s]; ok {
			delete(h.streams, s)
			close(s.c)
		}
	}
}

// Close ends every stream once it has sent what it holds: the process is
// handing its listener over, or stopping.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.streams {
		delete(h.streams, s)
		close(s.c)
	}
}
