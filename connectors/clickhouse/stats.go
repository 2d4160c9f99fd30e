package clickhouse

import "sync/atomic"

// Stats counts what a Sink has done since New. Rows and DeadLetters count
// a record again when it is read again, for example after a restart.
type Stats struct {
	Records       int64 // records polled from Kafka
	Batches       int64 // batches flushed and committed, or whose commit failed and was logged
	Rows          int64 // rows inserted into the decisions table
	EventRows     int64 // rows inserted into the feedback, ticket events and dead letters tables
	DeadLetters   int64 // records sent to the dead-letter topic
	InsertRetries int64 // failed ClickHouse inserts, schema applications and schema registry lookups that were retried
	DLQRetries    int64 // failed dead-letter produce calls that were retried
	CommitErrors  int64 // offset commits that failed; the next commit covers their offsets
}

// counter is a Stats field that the sink updates while callers read it.
type counter struct{ atomic.Int64 }

func (c *counter) add(n int64) { c.Add(n) }

type counters struct {
	records, batches, rows, eventRows, deadLetters, insertRetries, dlqRetries, commitErrors counter
}

// Stats returns a snapshot of the counters. It is safe for concurrent use
// with Run.
func (s *Sink) Stats() Stats {
	c := &s.counters
	return Stats{
		Records:       c.records.Load(),
		Batches:       c.batches.Load(),
		Rows:          c.rows.Load(),
		EventRows:     c.eventRows.Load(),
		DeadLetters:   c.deadLetters.Load(),
		InsertRetries: c.insertRetries.Load(),
		DLQRetries:    c.dlqRetries.Load(),
		CommitErrors:  c.commitErrors.Load(),
	}
}
