package ticketapi

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// outboxLockKey is the key of the transaction-level advisory lock that
// lets one relay at a time drain api_outbox, so that the records of one
// ticket reach Kafka in the order they were written. It is an arbitrary
// fixed value, one above the lock of the PostgreSQL sink's feedback relay.
const outboxLockKey int64 = 0x6d61696c74726963

// DefaultRelayBatch bounds the outbox rows of one relay pass.
const DefaultRelayBatch = 500

// DefaultRelayInterval is the wait between two passes of Run when the
// outbox was empty.
const DefaultRelayInterval = time.Second

// writeOutbox adds one record to api_outbox in tx.
func writeOutbox(ctx context.Context, tx pgx.Tx, topic, eventID, key string, value []byte) error {
	const insert = `INSERT INTO api_outbox (topic, event_id, record_key, record_value) VALUES ($1, $2, $3, $4)`
	if _, err := tx.Exec(ctx, insert, topic, eventID, []byte(key), value); err != nil {
		return fmt.Errorf("writing record %s for %s to the outbox: %w", eventID, topic, err)
	}
	return nil
}

// OutboxRelay produces the rows of api_outbox to their topics and deletes
// each row once Kafka has acknowledged it. A crash between the produce
// and the delete sends the row again with the same event ID, so consumers
// may see a record twice and must keep it idempotent by event ID (the
// SMTP sink's ledger and ClickHouse's ReplacingMergeTree do), but never
// miss one. Several relays may share the table: an advisory lock lets one
// send at a time.
type OutboxRelay struct {
	pool   *pgxpool.Pool
	client *kgo.Client
	batch  int
	log    *slog.Logger
}

// NewOutboxRelay returns a relay that reads api_outbox through pool and
// produces with client, which must keep franz-go's default idempotent
// writes. logger may be nil.
func NewOutboxRelay(pool *pgxpool.Pool, client *kgo.Client, logger *slog.Logger) *OutboxRelay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &OutboxRelay{pool: pool, client: client, batch: DefaultRelayBatch, log: logger.With("component", "ticket-api-outbox")}
}

// Run drains the outbox every interval until ctx ends, and returns nil
// then. A failed pass is logged with its error and retried with a
// doubling wait of up to one minute.
func (r *OutboxRelay) Run(ctx context.Context, interval time.Duration) error {
	wait := interval
	for {
		sent, err := r.Drain(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			wait = min(2*wait, time.Minute)
			r.log.Warn("relaying the ticket API outbox failed; retrying", "retry_in", wait.String(), "error", err)
		default:
			wait = interval
			if sent > 0 {
				r.log.Debug("outbox records produced", "records", sent)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Drain sends outbox rows until the outbox is empty or another relay
// holds the lock, and returns how many it sent. On error the rows of the
// failed pass stay in the outbox for the next call.
func (r *OutboxRelay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		sent, err := r.pass(ctx)
		total += sent
		if err != nil || sent < r.batch {
			return total, err
		}
	}
}

// pass sends up to r.batch rows in one transaction.
func (r *OutboxRelay) pass(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("beginning an outbox pass: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var locked bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", outboxLockKey).Scan(&locked); err != nil {
		return 0, fmt.Errorf("taking the outbox lock: %w", err)
	}
	if !locked {
		return 0, nil
	}

	rows, err := tx.Query(ctx, `SELECT id, topic, record_key, record_value FROM api_outbox ORDER BY id LIMIT $1`, r.batch)
	if err != nil {
		return 0, fmt.Errorf("reading the outbox: %w", err)
	}
	var ids []int64
	var records []*kgo.Record
	for rows.Next() {
		var id int64
		rec := &kgo.Record{}
		if err := rows.Scan(&id, &rec.Topic, &rec.Key, &rec.Value); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading the outbox: %w", err)
		}
		ids = append(ids, id)
		records = append(records, rec)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading the outbox: %w", err)
	}
	if len(records) == 0 {
		return 0, nil
	}

	// One ProduceSync keeps the order of the rows within each partition.
	if err := r.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return 0, fmt.Errorf("producing %d outbox records: %w", len(records), err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM api_outbox WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("deleting %d sent outbox records: %w", len(ids), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing the deletion of %d sent outbox records: %w", len(ids), err)
	}
	return len(records), nil
}
