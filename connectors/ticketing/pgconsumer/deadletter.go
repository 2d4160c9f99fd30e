package pgconsumer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// maxErrorText bounds the error text of a dead letter, in bytes.
const maxErrorText = 2048

// deadLetter is one DLQ record bound for the outbox.
type deadLetter struct {
	eventID   string
	errorText string
	key       []byte
	value     []byte
	headers   []kgo.RecordHeader
}

// outboxHeader is the JSON form of one record header in the outbox, the
// form the ticket sink also writes.
type outboxHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// newDeadLetter builds the DLQ record for rec. Its event ID follows from
// the stage and the source position, so writing it twice yields one ID.
func (c *Consumer) newDeadLetter(rec *kgo.Record, tenant string, cause error, attempts int) *deadLetter {
	dl := schemas.DeadLetter{
		EventID:         deadLetterID(c.cfg.Stage, rec.Topic, rec.Partition, rec.Offset),
		Tenant:          tenant,
		Stage:           c.cfg.Stage,
		Error:           truncate(cause.Error(), maxErrorText),
		SourceTopic:     rec.Topic,
		SourcePartition: rec.Partition,
		SourceOffset:    rec.Offset,
		TraceID:         tracing.TraceID(rec),
		Attempts:        int32(attempts),
		FailedAt:        c.cfg.Now(),
		Key:             rec.Key,
		Payload:         rec.Value,
	}
	value, err := schemas.Marshal(&dl)
	if err != nil {
		// The headers still carry the context, so the record goes out
		// without a value rather than not at all.
		c.log.Error("encoding a dead letter failed; sending it with headers only",
			"partition", rec.Partition, "offset", rec.Offset, "error", err)
		value = []byte{}
	}
	return &deadLetter{eventID: dl.EventID, errorText: dl.Error, key: rec.Key, value: value, headers: runner.DeadLetterHeaders(&dl)}
}

// deadLetterID derives a dead letter's event ID from the stage and the
// source position.
func deadLetterID(stage, topic string, partition int32, offset int64) string {
	sum := sha256.Sum256([]byte(stage + "\x00" + topic + "\x00" +
		strconv.FormatInt(int64(partition), 10) + "\x00" + strconv.FormatInt(offset, 10)))
	return hex.EncodeToString(sum[:16])
}

// insertOutbox writes a dead letter to dead_letter_outbox in tx.
func (c *Consumer) insertOutbox(ctx context.Context, tx pgx.Tx, dl *deadLetter) error {
	headers := make([]outboxHeader, len(dl.headers))
	for i, h := range dl.headers {
		headers[i] = outboxHeader{Key: h.Key, Value: string(h.Value)}
	}
	body, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("encoding the headers of dead letter %s: %w", dl.eventID, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO dead_letter_outbox (consumer_group, event_id, topic, record_key, record_value, headers)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (consumer_group, event_id) DO NOTHING`,
		c.cfg.Group, dl.eventID, c.cfg.DLQTopic, dl.key, dl.value, string(body))
	if err != nil {
		return fmt.Errorf("writing dead letter %s to the outbox: %w", dl.eventID, err)
	}
	return nil
}

// FlushOutbox produces every dead letter of this group's outbox and
// deletes the rows Kafka acknowledged, retrying until all are sent or ctx
// ends.
func (c *Consumer) FlushOutbox(ctx context.Context) error {
	return c.Retry(ctx, "producing dead letters", func(ctx context.Context) error {
		sent, err := c.sendOutbox(ctx)
		if sent > 0 {
			c.cfg.Metrics.DeadLetters(sent)
			c.log.Info("dead letters produced", "count", sent, "dlq_topic", c.cfg.DLQTopic)
		}
		return err
	})
}

// sendOutbox makes one pass over the outbox and returns how many records
// it produced.
func (c *Consumer) sendOutbox(ctx context.Context) (int, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, topic, record_key, record_value, headers FROM dead_letter_outbox
		WHERE consumer_group = $1 ORDER BY id`, c.cfg.Group)
	if err != nil {
		return 0, fmt.Errorf("reading the dead-letter outbox: %w", err)
	}
	type outboxRow struct {
		id      int64
		rec     *kgo.Record
		headers []outboxHeader
	}
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		r := outboxRow{rec: &kgo.Record{}}
		err := row.Scan(&r.id, &r.rec.Topic, &r.rec.Key, &r.rec.Value, &r.headers)
		return r, err
	})
	if err != nil {
		return 0, fmt.Errorf("reading the dead-letter outbox: %w", err)
	}
	if len(pending) == 0 {
		return 0, nil
	}

	records := make([]*kgo.Record, len(pending))
	ids := make([]int64, len(pending))
	for i, r := range pending {
		for _, h := range r.headers {
			r.rec.Headers = append(r.rec.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		records[i], ids[i] = r.rec, r.id
	}
	if err := c.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return 0, fmt.Errorf("producing %d dead letters: %w", len(records), err)
	}
	if _, err := c.pool.Exec(ctx, `DELETE FROM dead_letter_outbox WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("deleting %d produced dead letters from the outbox: %w", len(ids), err)
	}
	return len(pending), nil
}

// truncate cuts s to at most n bytes at a rune boundary, adding "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
