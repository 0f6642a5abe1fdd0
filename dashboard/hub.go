package dashboard

import (
	"encoding/json"
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

type message struct {
	event string
	data  []byte // JSON
}

// NewHub returns a Hub with no stream.
func NewHub() *Hub { return &Hub{streams: map[*stream]struct{}{}} }

// Publish sends an event of type event, v as JSON, to every stream. It
// never blocks: a stream whose queue is full misses it (Dropped).
func (h *Hub) Publish(event string, v any) {
	if h == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.streams {
		select {
		case s.c <- message{event, data}:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
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
