package smtpsink

import "sync/atomic"

// Stats counts what the sink did since it started.
type Stats struct {
	Sent         int64 // replies the relay accepted
	Suppressed   int64 // replies withheld by the suppression list or a rate limit
	Replayed     int64 // commands the ledger had already handled
	Unknown      int64 // replies whose outcome is unknown: never sent again
	Failed       int64 // replies that failed for good and went to the DLQ
	Retries      int64 // sessions with the relay after a temporary failure
	DeadLettered int64 // dead letters produced, bad records included
}

// counters are the live counters behind Stats.
type counters struct {
	sent, suppressed, replayed, unknown, failed, retries, deadLettered atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Sent:         c.sent.Load(),
		Suppressed:   c.suppressed.Load(),
		Replayed:     c.replayed.Load(),
		Unknown:      c.unknown.Load(),
		Failed:       c.failed.Load(),
		Retries:      c.retries.Load(),
		DeadLettered: c.deadLettered.Load(),
	}
}
