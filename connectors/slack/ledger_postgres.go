package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresLedger is a Ledger in the PostgreSQL table slack_deliveries,
// which Migrate creates. It is safe for concurrent use, also by several
// processes sharing the table.
type PostgresLedger struct {
	pool  *pgxpool.Pool
	table string // schema-qualified and quoted
}

// NewPostgresLedger returns a ledger on the slack_deliveries table of
// schema (DefaultSchema when empty). Run Migrate first. The caller owns
// pool and closes it after the sink stopped.
func NewPostgresLedger(pool *pgxpool.Pool, schema string) *PostgresLedger {
	if schema == "" {
		schema = DefaultSchema
	}
	return &PostgresLedger{pool: pool, table: pgx.Identifier{schema, "slack_deliveries"}.Sanitize()}
}

const entryColumns = "event_id, tenant, status, attempts, last_error, created_at, updated_at"

// RecoverPending implements Ledger.RecoverPending.
func (l *PostgresLedger) RecoverPending(ctx context.Context) ([]Entry, error) {
	rows, err := l.pool.Query(ctx, `UPDATE `+l.table+`
		SET status = 'unknown', updated_at = now()
		WHERE status = 'pending'
		RETURNING `+entryColumns)
	if err != nil {
		return nil, classify(fmt.Errorf("marking pending Slack deliveries unknown: %w", err))
	}
	entries, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, classify(fmt.Errorf("marking pending Slack deliveries unknown: %w", err))
	}
	return entries, nil
}

// Claim implements Ledger.Claim.
func (l *PostgresLedger) Claim(ctx context.Context, eventID, tenant string) (Claim, error) {
	// The loop repeats only if another process released the entry between
	// the failed insert and the read, which makes the insert possible again.
	for range 3 {
		tag, err := l.pool.Exec(ctx, `INSERT INTO `+l.table+` (event_id, tenant, status, attempts)
			VALUES ($1, $2, 'pending', 1)
			ON CONFLICT (event_id) DO NOTHING`, eventID, tenant)
		if err != nil {
			return Claim{}, classify(fmt.Errorf("claiming Slack delivery %s: %w", eventID, err))
		}
		if tag.RowsAffected() == 1 {
			return Claim{Claimed: true}, nil
		}

		// The CTE reads the status as it was before the update in the same
		// statement, so a pending entry comes back as pending.
		var previous Status
		err = l.pool.QueryRow(ctx, `WITH old AS (
				SELECT status FROM `+l.table+` WHERE event_id = $1 FOR UPDATE
			), marked AS (
				UPDATE `+l.table+` SET status = 'unknown', updated_at = now()
				WHERE event_id = $1 AND status = 'pending'
			)
			SELECT status FROM old`, eventID).Scan(&previous)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return Claim{}, classify(fmt.Errorf("reading Slack delivery %s: %w", eventID, err))
		}
		return Claim{Previous: previous}, nil
	}
	return Claim{}, fmt.Errorf("claiming Slack delivery %s: the entry kept appearing and disappearing; another process is releasing it", eventID)
}

// RecordAttempt implements Ledger.RecordAttempt.
func (l *PostgresLedger) RecordAttempt(ctx context.Context, eventID string, attempts int) error {
	_, err := l.pool.Exec(ctx, `UPDATE `+l.table+`
		SET attempts = $2, updated_at = now()
		WHERE event_id = $1 AND status = 'pending'`, eventID, attempts)
	if err != nil {
		return classify(fmt.Errorf("recording attempt %d of Slack delivery %s: %w", attempts, eventID, err))
	}
	return nil
}

// MarkDelivered implements Ledger.MarkDelivered.
func (l *PostgresLedger) MarkDelivered(ctx context.Context, eventID string, attempts int) error {
	_, err := l.pool.Exec(ctx, `UPDATE `+l.table+`
		SET status = 'delivered', attempts = $2, last_error = '', updated_at = now(), delivered_at = now()
		WHERE event_id = $1 AND status IN ('pending', 'unknown')`, eventID, attempts)
	if err != nil {
		return classify(fmt.Errorf("marking Slack delivery %s delivered: %w", eventID, err))
	}
	return nil
}

// MarkFailed implements Ledger.MarkFailed.
func (l *PostgresLedger) MarkFailed(ctx context.Context, eventID string, attempts int, reason string) error {
	_, err := l.pool.Exec(ctx, `UPDATE `+l.table+`
		SET status = 'failed', attempts = $2, last_error = $3, updated_at = now()
		WHERE event_id = $1 AND status IN ('pending', 'unknown')`, eventID, attempts, reason)
	if err != nil {
		return classify(fmt.Errorf("marking Slack delivery %s failed: %w", eventID, err))
	}
	return nil
}

// Release implements Ledger.Release.
func (l *PostgresLedger) Release(ctx context.Context, eventID string) error {
	_, err := l.pool.Exec(ctx, `DELETE FROM `+l.table+` WHERE event_id = $1 AND status = 'pending'`, eventID)
	if err != nil {
		return classify(fmt.Errorf("releasing Slack delivery %s: %w", eventID, err))
	}
	return nil
}

// Lookup implements Ledger.Lookup.
func (l *PostgresLedger) Lookup(ctx context.Context, eventID string) (Entry, bool, error) {
	rows, err := l.pool.Query(ctx, `SELECT `+entryColumns+` FROM `+l.table+` WHERE event_id = $1`, eventID)
	if err != nil {
		return Entry{}, false, classify(fmt.Errorf("looking up Slack delivery %s: %w", eventID, err))
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, classify(fmt.Errorf("looking up Slack delivery %s: %w", eventID, err))
	}
	return e, true, nil
}

func scanEntry(row pgx.CollectableRow) (Entry, error) {
	var e Entry
	var status string
	err := row.Scan(&e.EventID, &e.Tenant, &status, &e.Attempts, &e.LastError, &e.CreatedAt, &e.UpdatedAt)
	e.Status = Status(status)
	return e, err
}

// classify wraps err with ErrLedgerPermanent when PostgreSQL rejected the
// statement for a reason that retrying cannot fix (SQLSTATE classes other
// than connection, resource, shutdown and transaction-rollback errors).
// Errors without a SQLSTATE, such as a refused connection, stay transient.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return err
	}
	switch pgErr.Code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources
		"57", // operator intervention: shutdown, cannot connect now
		"58": // system error: I/O
		return err
	}
	return fmt.Errorf("%w: %w", ErrLedgerPermanent, err)
}
