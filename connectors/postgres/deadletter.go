package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// Stage is the DeadLetter.Stage of the records this sink cannot apply.
const Stage = "sink-postgres"

// maxErrorText bounds the error text of a dead letter, in bytes.
const maxErrorText = 2048

// deadLetter is one DLQ record waiting in the outbox.
type deadLetter struct {
	eventID string
	key     []byte
	value   []byte
	headers []kgo.RecordHeader
}

// outboxHeader is the JSON form of one record header in the outbox.
type outboxHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// newDeadLetter builds the DLQ record for an item that cannot be applied.
// Its event ID follows from the source position, so a dead letter written
// twice (after a crash, or a replay) has the same ID both times.
func (s *Sink) newDeadLetter(it item, fault error, now time.Time) deadLetter {
	rec := it.rec
	dl := schemas.DeadLetter{
		EventID:         deadLetterID(rec.Topic, rec.Partition, rec.Offset),
		Stage:           Stage,
		Error:           truncate(fault.Error(), maxErrorText),
		SourceTopic:     rec.Topic,
		SourcePartition: rec.Partition,
		SourceOffset:    rec.Offset,
		TraceID:         tracing.TraceID(rec),
		Attempts:        1,
		FailedAt:        now,
		Key:             rec.Key,
		Payload:         rec.Value,
	}
	if it.cmd != nil {
		dl.Tenant = it.cmd.Tenant
		dl.Raw = it.cmd.Raw
	}

	value, err := schemas.Marshal(&dl)
	if err != nil {
		// The headers still carry the context, so the record goes out
		// with an empty value rather than not at all.
		s.log.Error("encoding a dead letter failed; sending it with headers only",
			"partition", rec.Partition, "offset", rec.Offset, "error", err)
		value = []byte{}
	}

	s.log.Warn("record sent to the dead-letter topic", "partition", rec.Partition, "offset", rec.Offset,
		"tenant", dl.Tenant, "error", s.redact.text(fault))
	return deadLetter{eventID: dl.EventID, key: rec.Key, value: value, headers: runner.DeadLetterHeaders(&dl)}
}

// deadLetterID derives a dead letter's event ID from the stage and the
// source position.
func deadLetterID(topic string, partition int32, offset int64) string {
	sum := sha256.Sum256([]byte(Stage + "\x00" + topic + "\x00" +
		strconv.FormatInt(int64(partition), 10) + "\x00" + strconv.FormatInt(offset, 10)))
	return hex.EncodeToString(sum[:16])
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// insertOutbox writes dead letters to the outbox in the batch
// transaction.
//
// Ordering: a dead letter is produced to Kafka only after the transaction
// that moves the offset past its record commits. Producing it before
// would send it again on every retry of a batch that fails to commit,
// for example throughout a PostgreSQL outage. Producing it after without
// the outbox would lose it if the process died between COMMIT and the
// produce. With the outbox no dead letter is lost: a crash after the
// produce and before the outbox row is deleted sends it once more on the
// next start, and DLQ consumers drop such copies by EventID.
func (s *Sink) insertOutbox(ctx context.Context, tx pgx.Tx, dead []deadLetter) error {
	const query = `INSERT INTO dead_letter_outbox (consumer_group, event_id, topic, record_key, record_value, headers)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (consumer_group, event_id) DO NOTHING`
	for _, dl := range dead {
		headers := make([]outboxHeader, len(dl.headers))
		for i, h := range dl.headers {
			headers[i] = outboxHeader{Key: h.Key, Value: string(h.Value)}
		}
		body, err := json.Marshal(headers)
		if err != nil {
			return fmt.Errorf("encoding the headers of dead letter %s: %w", dl.eventID, err)
		}
		if _, err := tx.Exec(ctx, query, s.cfg.Group, dl.eventID, s.cfg.DLQTopic, dl.key, dl.value, string(body)); err != nil {
			return fmt.Errorf("writing dead letter %s to the outbox: %w", dl.eventID, err)
		}
	}
	return nil
}

// flushOutbox produces every dead letter in this connector's outbox to
// Kafka and deletes the rows Kafka acknowledged, retrying with backoff
// until all are sent or ctx ends.
func (s *Sink) flushOutbox(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		sent, err := s.sendOutbox(ctx)
		if err == nil {
			if sent > 0 {
				s.log.Info("dead letters produced", "count", sent, "dlq_topic", s.cfg.DLQTopic)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.waitRetry(ctx, "producing dead letters failed; retrying", attempt, err) {
			return ctx.Err()
		}
	}
}

// outboxRow is one row of dead_letter_outbox.
type outboxRow struct {
	id      int64
	topic   string
	key     []byte
	value   []byte
	headers []outboxHeader
}

// sendOutbox makes one pass over the outbox and returns how many records
// it sent.
func (s *Sink) sendOutbox(ctx context.Context) (int, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, topic, record_key, record_value, headers FROM dead_letter_outbox
		WHERE consumer_group = $1 ORDER BY id`, s.cfg.Group)
	if err != nil {
		return 0, fmt.Errorf("reading the dead-letter outbox: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var r outboxRow
		err := row.Scan(&r.id, &r.topic, &r.key, &r.value, &r.headers)
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("reading the dead-letter outbox: %w", err)
	}
	if len(pending) == 0 {
		return 0, nil
	}

	records := make([]*kgo.Record, len(pending))
	for i, r := range pending {
		rec := &kgo.Record{Topic: r.topic, Key: r.key, Value: r.value}
		for _, h := range r.headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		records[i] = rec
	}
	if err := s.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return 0, fmt.Errorf("producing %d dead letters to %s: %w", len(records), s.cfg.DLQTopic, err)
	}

	ids := make([]int64, len(pending))
	for i, r := range pending {
		ids[i] = r.id
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM dead_letter_outbox WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("deleting %d sent dead letters from the outbox: %w", len(ids), err)
	}
	return len(pending), nil
}
