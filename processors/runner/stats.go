package runner

import (
	"maps"
	"sync"
)

// Stats are the runner's totals since New. Record counts cover committed
// transactions only, so a batch that aborted and ran again counts once.
type Stats struct {
	RecordsIn   int64 // input records processed
	Outputs     int64 // records produced to the output topics
	Duplicates  int64 // messages the chain marked as duplicates
	DeadLetters int64 // records sent to the DLQ
	Commits     int64 // transactions committed
	Aborts      int64 // transactions aborted, by a rebalance or a failed produce
	// Positions maps each input partition to the offset after the highest
	// record this runner committed from it. Partitions it never committed
	// from are absent.
	Positions map[int32]int64
}

// Stats returns a copy of the runner's totals. It is safe to call while Run
// is running.
func (r *Runner) Stats() Stats { return r.stats.snapshot() }

// batchTally counts one batch until its transaction ends.
type batchTally struct {
	records, outputs, duplicates, deadLetters int64
	next                                      map[int32]int64 // offset after the last record, per partition
}

type statsCounter struct {
	mu sync.Mutex // guards s
	s  Stats
}

func (c *statsCounter) committed(t *batchTally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Commits++
	c.s.RecordsIn += t.records
	c.s.Outputs += t.outputs
	c.s.Duplicates += t.duplicates
	c.s.DeadLetters += t.deadLetters
	if c.s.Positions == nil {
		c.s.Positions = make(map[int32]int64)
	}
	for p, next := range t.next {
		c.s.Positions[p] = max(c.s.Positions[p], next)
	}
}

func (c *statsCounter) aborted() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Aborts++
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Positions = maps.Clone(c.s.Positions)
	if s.Positions == nil {
		s.Positions = map[int32]int64{}
	}
	return s
}
