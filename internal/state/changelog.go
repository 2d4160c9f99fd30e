package state

import (
	"bytes"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Changelog is the Store of one input partition, backed by partition
// Partition of a compacted changelog topic. Writes made while a batch is
// processed go to a pending overlay. The runner turns the overlay into
// changelog records with Pending, produces them in the batch's transaction
// and then calls Commit or Abort depending on how the transaction ended.
// It is safe for concurrent use.
type Changelog struct {
	topic     string
	partition int32

	mu      sync.Mutex // guards base, pending and order
	base    map[string][]byte
	pending map[string]write // writes of the open batch
	order   []string         // keys of pending in the order of their first write
}

// write is one pending change: a value, or a deletion when deleted is set.
type write struct {
	value   []byte
	deleted bool
}

// NewChangelog returns an empty store for partition partition of the
// changelog topic.
func NewChangelog(topic string, partition int32) *Changelog {
	return &Changelog{
		topic:     topic,
		partition: partition,
		base:      make(map[string][]byte),
		pending:   make(map[string]write),
	}
}

// Topic returns the changelog topic.
func (c *Changelog) Topic() string { return c.topic }

// Partition returns the changelog partition, which is also the number of
// the input partition the store belongs to.
func (c *Changelog) Partition() int32 { return c.partition }

// Get returns the value under key, with the pending writes of the open
// batch taking precedence over the committed state.
func (c *Changelog) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.pending[key]; ok {
		if w.deleted {
			return nil, false
		}
		return w.value, true
	}
	v, ok := c.base[key]
	return v, ok
}

// Put stores a copy of value under key in the pending overlay. A nil value
// is stored as an empty one, because a nil changelog value is a tombstone.
func (c *Changelog) Put(key string, value []byte) {
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	c.record(key, write{value: v})
}

// Delete removes key in the pending overlay.
func (c *Changelog) Delete(key string) {
	c.record(key, write{deleted: true})
}

func (c *Changelog) record(key string, w write) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.pending[key]; !seen {
		c.order = append(c.order, key)
	}
	c.pending[key] = w
}

// Pending returns the changelog records of the open batch: one per written
// key holding its last value, or a tombstone (nil value) for a deleted key.
// Every record names the store's partition explicitly, so the producer must
// use a partitioner that keeps Record.Partition for the changelog topic.
func (c *Changelog) Pending() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs := make([]*kgo.Record, 0, len(c.order))
	for _, key := range c.order {
		w := c.pending[key]
		rec := &kgo.Record{Topic: c.topic, Partition: c.partition, Key: []byte(key)}
		if !w.deleted {
			rec.Value = w.value
		}
		recs = append(recs, rec)
	}
	return recs
}

// Commit merges the pending overlay into the committed state. Call it once
// the transaction that carried the Pending records has committed.
func (c *Changelog) Commit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, w := range c.pending {
		if w.deleted {
			delete(c.base, key)
		} else {
			c.base[key] = w.value
		}
	}
	c.clearPending()
}

// Abort discards the pending overlay. Call it when the batch's transaction
// aborted.
func (c *Changelog) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearPending()
}

func (c *Changelog) clearPending() {
	clear(c.pending)
	c.order = c.order[:0]
}

// Len returns the number of committed keys.
func (c *Changelog) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.base)
}

// apply sets the committed state of key from a changelog record value, a
// nil value being a tombstone. Restore uses it.
func (c *Changelog) apply(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if value == nil {
		delete(c.base, key)
		return
	}
	c.base[key] = bytes.Clone(value)
}
