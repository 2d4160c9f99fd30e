package ingress

import (
	"sync"
	"time"
)

// Timestamps hands out record timestamps that strictly increase, one
// millisecond apart at least, so that the order in which a source produced
// its records survives on the broker even across partitions.
//
// Kafka keeps record timestamps in milliseconds. A bulk import produces
// many records within one millisecond, and the processor, which merges the
// partitions of a batch by timestamp, could then not tell a reply from the
// message it replies to, and might see the reply first. Timestamps drift ahead
// of the wall clock by at most one millisecond per record produced faster
// than that, and fall back to the wall clock as soon as it passes them.
//
// The zero value is ready to use and safe for concurrent use.
type Timestamps struct {
	mu   sync.Mutex // guards last
	last time.Time
}

// Next returns now, truncated to the millisecond, or one millisecond after
// the previous timestamp when that is later.
func (t *Timestamps) Next(now time.Time) time.Time {
	now = now.Truncate(time.Millisecond)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !now.After(t.last) {
		now = t.last.Add(time.Millisecond)
	}
	t.last = now
	return now
}
