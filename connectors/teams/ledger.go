package teams

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Status is the state of one ledger entry, with the meanings of the Slack
// sink's ledger.
type Status string

// Ledger entry states.
const (
	StatusPending   Status = "pending"   // a post is about to start or in flight
	StatusDelivered Status = "delivered" // the webhook returned a 2xx status
	StatusFailed    Status = "failed"    // the post failed for good; the notice went to the DLQ
	StatusUnknown   Status = "unknown"   // a process stopped while pending; never posted again
)

// Ledger records the delivery state of notifications by EventID in the
// table teams_deliveries. It is safe for concurrent use, also by several
// processes sharing the table.
type Ledger struct {
	pool *pgxpool.Pool
}

// NewLedger returns the ledger on pool's teams_deliveries table, which
// postgres.Migrate creates. The caller owns pool.
func NewLedger(pool *pgxpool.Pool) *Ledger { return &Ledger{pool: pool} }

// RecoverPending marks every pending entry unknown and returns their event
// IDs and tenants.
func (l *Ledger) RecoverPending(ctx context.Context) ([][2]string, error) {
	rows, err := l.pool.Query(ctx, `UPDATE teams_deliveries SET status = 'unknown', updated_at = now()
		WHERE status = 'pending' RETURNING event_id, tenant`)
	if err != nil {
		return nil, fmt.Errorf("marking pending Teams deliveries unknown: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var e [2]string
		err := row.Scan(&e[0], &e[1])
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("marking pending Teams deliveries unknown: %w", err)
	}
	return out, nil
}

// Claim inserts eventID as pending and reports claimed true when the ledger
// did not have it. Otherwise it returns the status the entry had, and
// marks a pending entry unknown.
func (l *Ledger) Claim(ctx context.Context, eventID, tenant string) (claimed bool, previous Status, err error) {
	// The loop repeats only if another process released the entry between
	// the failed insert and the read.
	for range 3 {
		tag, err := l.pool.Exec(ctx, `INSERT INTO teams_deliveries (event_id, tenant, status, attempts)
			VALUES ($1, $2, 'pending', 1) ON CONFLICT (event_id) DO NOTHING`, eventID, tenant)
		if err != nil {
			return false, "", fmt.Errorf("claiming Teams delivery %s: %w", eventID, err)
		}
		if tag.RowsAffected() == 1 {
			return true, "", nil
		}
		// The CTE reads the status from before the update of the same
		// statement, so a pending entry comes back as pending.
		err = l.pool.QueryRow(ctx, `WITH old AS (
				SELECT status FROM teams_deliveries WHERE event_id = $1 FOR UPDATE
			), marked AS (
				UPDATE teams_deliveries SET status = 'unknown', updated_at = now()
				WHERE event_id = $1 AND status = 'pending'
			)
			SELECT status FROM old`, eventID).Scan(&previous)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, "", fmt.Errorf("reading Teams delivery %s: %w", eventID, err)
		}
		return false, previous, nil
	}
	return false, "", fmt.Errorf("claiming Teams delivery %s: the entry kept appearing and disappearing; another process is releasing it", eventID)
}

// MarkDelivered records a 2xx after attempts posts, also for an entry that
// another process marked unknown meanwhile.
func (l *Ledger) MarkDelivered(ctx context.Context, eventID string, attempts int) error {
	_, err := l.pool.Exec(ctx, `UPDATE teams_deliveries
		SET status = 'delivered', attempts = $2, last_error = '', updated_at = now(), delivered_at = now()
		WHERE event_id = $1 AND status IN ('pending', 'unknown')`, eventID, attempts)
	if err != nil {
		return fmt.Errorf("marking Teams delivery %s delivered: %w", eventID, err)
	}
	return nil
}

// MarkFailed records a permanent failure after attempts posts.
func (l *Ledger) MarkFailed(ctx context.Context, eventID string, attempts int, reason string) error {
	_, err := l.pool.Exec(ctx, `UPDATE teams_deliveries SET status = 'failed', attempts = $2, last_error = $3, updated_at = now()
		WHERE event_id = $1 AND status IN ('pending', 'unknown')`, eventID, attempts, reason)
	if err != nil {
		return fmt.Errorf("marking Teams delivery %s failed: %w", eventID, err)
	}
	return nil
}

// Release deletes a pending entry whose post did not go out, so that the
// notice is posted when its record is read again.
func (l *Ledger) Release(ctx context.Context, eventID string) error {
	_, err := l.pool.Exec(ctx, `DELETE FROM teams_deliveries WHERE event_id = $1 AND status = 'pending'`, eventID)
	if err != nil {
		return fmt.Errorf("releasing Teams delivery %s: %w", eventID, err)
	}
	return nil
}

// Status returns the status of eventID, or "" when the ledger lacks it.
func (l *Ledger) Status(ctx context.Context, eventID string) (Status, error) {
	var s Status
	err := l.pool.QueryRow(ctx, `SELECT status FROM teams_deliveries WHERE event_id = $1`, eventID).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading Teams delivery %s: %w", eventID, err)
	}
	return s, nil
}
