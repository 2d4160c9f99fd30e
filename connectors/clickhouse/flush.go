package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

// ClickHouse error codes that mean the schema is gone, for example after a
// DROP TABLE. The sink applies the schema again before the next retry.
const (
	codeUnknownTable    = 60
	codeUnknownDatabase = 81
)

// flush writes one batch and commits its offsets, in this order:
//  1. one insert per table of the rows that decode, each retried until it
//     succeeds;
//  2. the dead letters of the records that do not decode, retried likewise;
//  3. the group offsets of every polled record.
//
// A crash after step 1 and before step 3 leaves the offsets where they
// were, so the next start reads the batch again and inserts the same rows
// again. Every column but inserted_at and sink_ms is derived from the
// record, and version is equal too, so ReplacingMergeTree keeps one row per
// (tenant, event_id), and queries with FINAL or argMax count it once. The
// dead letters of such a batch are sent again with the same event IDs.
//
// A failed commit is logged and not retried. Its offsets stay uncommitted
// in the client, so the next commit covers them. If the sink stops before
// that, the batch is read and inserted again, with the same result.
func (s *Sink) flush(ctx context.Context, records []*kgo.Record) error {
	spans := startRecordSpans(ctx, records)
	defer spans.end()

	var rows []row
	var events eventBatch
	var dead []failedRecord
	// A failed lookup in the schema registry may pass, so the batch is
	// decoded again after a backoff instead of sending records to the DLQ.
	err := s.retry(ctx, "decoding with the schema registry", &s.counters.insertRetries, []any{"records", len(records)},
		func(ctx context.Context) error {
			rows, events, dead = s.decode(ctx, records)
			for _, f := range dead {
				if errors.Is(f.err, schemas.ErrRegistry) {
					return f.err
				}
			}
			return nil
		})
	if err != nil {
		return err
	}

	if len(rows) > 0 && !s.inserted.decisions {
		err := s.retry(ctx, "inserting into ClickHouse", &s.counters.insertRetries,
			[]any{"table", s.cfg.Database + "." + s.cfg.Table, "rows", len(rows)},
			func(ctx context.Context) error { return s.insert(ctx, rows) })
		if err != nil {
			return err
		}
		s.counters.rows.add(int64(len(rows)))
		for i := range rows {
			s.cfg.Metrics.Delivered(rows[i].ReceivedAt)
		}
		s.inserted.decisions = true
	}
	if err := s.insertEvents(ctx, &events); err != nil {
		return err
	}
	if s.afterInsert != nil {
		if err := s.afterInsert(); err != nil {
			return err
		}
	}

	if len(dead) > 0 {
		if err := s.sendDeadLetters(ctx, dead); err != nil {
			return err
		}
	}

	if err := s.kafka.CommitUncommittedOffsets(ctx); err != nil {
		s.counters.commitErrors.add(1)
		s.log.Warn("committing offsets failed; the next commit covers them, and a restart before it inserts the batch again",
			"group", s.cfg.Group, "records", len(records), "error", err.Error())
	}
	s.inserted = insertedTables{}
	s.counters.batches.add(1)
	s.log.Debug("batch flushed", "records", len(records), "rows", len(rows), "event_rows", events.len(), "dead_letters", len(dead))
	return nil
}

// failedRecord is a polled record that did not become a row.
type failedRecord struct {
	rec    *kgo.Record
	tenant string // empty when the value did not decode
	err    error
}

// decode turns the records of the decisions topic into rows and those of
// the other topics into event rows, and collects the records that fail.
func (s *Sink) decode(ctx context.Context, records []*kgo.Record) ([]row, eventBatch, []failedRecord) {
	rows := make([]row, 0, len(records))
	var events eventBatch
	var dead []failedRecord
	for _, rec := range records {
		if rec.Topic != s.cfg.Topic {
			if tenant, err := s.cfg.decodeEventRecord(ctx, rec.Topic, rec.Value, &events); err != nil {
				dead = append(dead, failedRecord{rec: rec, tenant: tenant, err: err})
			}
			continue
		}
		r, err := decodeRowWith(ctx, s.cfg.Serde, rec.Value)
		if err != nil {
			dead = append(dead, failedRecord{rec: rec, tenant: tenantOf(ctx, s.cfg.Serde, rec.Value), err: err})
			continue
		}
		rows = append(rows, r)
	}
	return rows, events, dead
}

// maxMonthsPerInsert bounds the partitions, months of received_at, that
// one INSERT writes. Current releases reject an INSERT over
// max_partitions_per_insert_block, 100 by default.
const maxMonthsPerInsert = 100

// insert sends rows with one INSERT per group of at most maxMonthsPerInsert
// months, usually one in all. A failure after some groups went in makes the
// retry insert those again, and their copies collapse like any replay.
func (s *Sink) insert(ctx context.Context, rows []row) error {
	for _, group := range splitByMonth(rows, maxMonthsPerInsert) {
		if err := s.insertBlock(ctx, group); err != nil {
			return err
		}
	}
	return nil
}

// splitByMonth cuts rows, in order, into runs that span at most maxMonths
// distinct months of ReceivedAt.
func splitByMonth(rows []row, maxMonths int) [][]row {
	var groups [][]row
	months := make(map[int]bool)
	start := 0
	for i := range rows {
		month := rows[i].ReceivedAt.Year()*12 + int(rows[i].ReceivedAt.Month())
		if !months[month] && len(months) == maxMonths {
			groups = append(groups, rows[start:i])
			clear(months)
			start = i
		}
		months[month] = true
	}
	if start < len(rows) {
		groups = append(groups, rows[start:])
	}
	return groups
}

// insertBlock sends rows as one batch insert with the explicit column list.
// Each attempt stamps inserted_at anew. When the table or database is
// missing, it applies the schema again before returning the error, so the
// next attempt can succeed.
func (s *Sink) insertBlock(ctx context.Context, rows []row) error {
	batch, err := s.conn.PrepareBatch(ctx, s.insertSQL)
	if err != nil {
		s.reapplySchemaIfMissing(ctx, err)
		return fmt.Errorf("preparing the insert of %d rows: %w", len(rows), err)
	}
	defer func() {
		if !batch.IsSent() {
			_ = batch.Abort()
		}
	}()

	now := time.Now()
	for i := range rows {
		if err := batch.Append(rows[i].values(now)...); err != nil {
			return fmt.Errorf("adding event %s to the insert: %w", rows[i].EventID, err)
		}
	}
	if err := batch.Send(); err != nil {
		s.reapplySchemaIfMissing(ctx, err)
		return fmt.Errorf("sending the insert of %d rows: %w", len(rows), err)
	}
	return nil
}

func (s *Sink) reapplySchemaIfMissing(ctx context.Context, err error) {
	var ex *ch.Exception
	if !errors.As(err, &ex) || (ex.Code != codeUnknownTable && ex.Code != codeUnknownDatabase) {
		return
	}
	if err := s.applySchemas(ctx); err != nil {
		s.log.Warn("applying the ClickHouse schema again failed", "error", err.Error())
		return
	}
	s.log.Info("applied the ClickHouse schema again after a table was not found",
		"database", s.cfg.Database, "table", s.cfg.Table)
}

// sendDeadLetters produces a dead letter for each failed record and waits
// until Kafka acknowledged all of them. A dead letter that Kafka rejects as
// too large is sent again without the source key and value.
func (s *Sink) sendDeadLetters(ctx context.Context, failed []failedRecord) error {
	now := time.Now()
	pending := make([]*kgo.Record, 0, len(failed))
	for _, f := range failed {
		s.log.Warn("record sent to the dead-letter topic", "topic", f.rec.Topic, "partition", f.rec.Partition,
			"offset", f.rec.Offset, "tenant", f.tenant, "stage", Stage, "error", f.err.Error())
		out, err := deadLetter(s.cfg.DLQTopic, f.rec, f.tenant, f.err, now, true)
		if err != nil {
			return fmt.Errorf("encoding the dead letter of %s/%d@%d: %w", f.rec.Topic, f.rec.Partition, f.rec.Offset, err)
		}
		pending = append(pending, out)
	}

	// sources maps each pending dead letter to its failed record; stripped
	// marks the dead letters already sent again without the source.
	sources := make(map[*kgo.Record]failedRecord, len(failed))
	stripped := make(map[*kgo.Record]bool)
	for i, out := range pending {
		sources[out] = failed[i]
	}

	err := s.retry(ctx, "sending dead letters", &s.counters.dlqRetries,
		[]any{"topic", s.cfg.DLQTopic},
		func(ctx context.Context) error {
			var again []*kgo.Record
			var firstErr error
			for _, res := range s.kafka.ProduceSync(ctx, pending...) {
				if res.Err == nil {
					continue
				}
				if firstErr == nil {
					firstErr = res.Err
				}
				next := res.Record
				if recordTooLarge(res.Err) && !stripped[res.Record] {
					f := sources[res.Record]
					smaller, err := deadLetter(s.cfg.DLQTopic, f.rec, f.tenant, f.err, now, false)
					if err != nil {
						return err
					}
					sources[smaller], stripped[smaller] = f, true
					next = smaller
				}
				again = append(again, next)
			}
			pending = again
			if firstErr != nil {
				return fmt.Errorf("producing %d of the dead letters: %w", len(again), firstErr)
			}
			return nil
		})
	if err != nil {
		return err
	}
	s.counters.deadLetters.add(int64(len(failed)))
	s.cfg.Metrics.DeadLetters(len(failed))
	return nil
}

// tenantOf returns the tenant of a DecisionEvent value that decodes but was
// rejected, or "" when it does not decode.
func tenantOf(ctx context.Context, serde *schemas.Serde, value []byte) string {
	var ev schemas.DecisionEvent
	if serde.DecodeContext(ctx, value, &ev) != nil {
		return ""
	}
	return ev.Tenant
}
