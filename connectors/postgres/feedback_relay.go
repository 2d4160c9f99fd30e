package postgres

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// feedbackLockKey is the key of the transaction-level advisory lock that
// lets one relay at a time drain feedback_outbox, so that the events of
// one ticket reach Kafka in the order they were written. It is
// migrationLockKey plus one, an arbitrary but fixed value.
const feedbackLockKey = migrationLockKey + 1

// DefaultFeedbackBatch bounds the outbox rows that one relay pass sends.
const DefaultFeedbackBatch = 500

// FeedbackRelay produces the rows of feedback_outbox to the feedback
// topic and deletes each row once Kafka has acknowledged it. A crash
// after the produce and before the delete sends the row again on the next
// pass, with the same event ID, so consumers see at most a repeated event
// and never miss one. Every instance of the sink runs a relay, and an
// advisory lock lets one of them send at a time.
type FeedbackRelay struct {
	pool   *pgxpool.Pool
	client *kgo.Client
	topic  string
	batch  int
	log    *slog.Logger

	// afterProduce, when set by a test, runs after Kafka acknowledged a
	// pass and before its rows are deleted. An error aborts the pass as a
	// crash at that point would.
	afterProduce func() error
}

// NewFeedbackRelay returns a relay that reads the outbox through pool and
// produces to topic with client. The client must keep franz-go's default
// idempotent writes, so that a retried produce does not duplicate a
// record. logger may be nil.
func NewFeedbackRelay(pool *pgxpool.Pool, client *kgo.Client, topic string, logger *slog.Logger) *FeedbackRelay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FeedbackRelay{pool: pool, client: client, topic: topic, batch: DefaultFeedbackBatch, log: logger}
}

// Drain sends outbox rows until the outbox is empty, or until another
// relay holds the lock, and returns how many it sent. On error the rows
// of the failed pass stay in the outbox for the next call.
func (r *FeedbackRelay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		sent, err := r.pass(ctx)
		total += sent
		if err != nil || sent < r.batch {
			return total, err
		}
	}
}

// pass sends up to r.batch rows in one transaction and returns how many
// it sent. It sends nothing when another relay holds the lock.
func (r *FeedbackRelay) pass(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("beginning a feedback outbox pass: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var locked bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", feedbackLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("taking the feedback outbox lock: %w", err)
	}
	if !locked {
		return 0, nil
	}

	rows, err := tx.Query(ctx, `SELECT id, record_key, record_value FROM feedback_outbox ORDER BY id LIMIT $1`, r.batch)
	if err != nil {
		return 0, fmt.Errorf("reading the feedback outbox: %w", err)
	}
	var ids []int64
	var records []*kgo.Record
	for rows.Next() {
		var id int64
		rec := &kgo.Record{Topic: r.topic}
		if err := rows.Scan(&id, &rec.Key, &rec.Value); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading the feedback outbox: %w", err)
		}
		ids = append(ids, id)
		records = append(records, rec)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading the feedback outbox: %w", err)
	}
	if len(records) == 0 {
		return 0, nil
	}

	// One ProduceSync keeps the order of the rows within each partition,
	// and the idempotent producer keeps its own retries from doubling a
	// record.
	if err := r.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return 0, fmt.Errorf("producing %d feedback events to %s: %w", len(records), r.topic, err)
	}
	if r.afterProduce != nil {
		if err := r.afterProduce(); err != nil {
			return 0, err
		}
	}

	if _, err := tx.Exec(ctx, `DELETE FROM feedback_outbox WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("deleting %d sent feedback events from the outbox: %w", len(ids), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing the deletion of %d sent feedback events: %w", len(ids), err)
	}
	return len(records), nil
}
