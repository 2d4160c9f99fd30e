package smtpsink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/schemas"
)

// State is the state of one row of the delivery ledger,
// autoreply_deliveries.
type State string

// Ledger states. The package comment describes the protocol.
const (
	// StateSending: the row was committed before the first session with
	// the relay; a send may be in flight.
	StateSending State = "sending"
	// StateSent: the relay accepted the reply.
	StateSent State = "sent"
	// StateFailed: the relay rejected the reply, or every attempt failed,
	// and the command went to the dead-letter topic.
	StateFailed State = "failed"
	// StateUnknown: a sink stopped while the row was sending, or the
	// connection broke after the end of the data, so the relay may or may
	// not have the reply. It is never sent again.
	StateUnknown State = "unknown"
	// StateSuppressed: the suppression list or a rate limit withheld the
	// reply, and the row's reason names which.
	StateSuppressed State = "suppressed"
)

// Reason codes of the suppressions that the sink decides. The processor's
// codes are in the processors package.
const (
	SuppressListed             = "suppression_list"
	SuppressRateLimitRecipient = "rate_limit_recipient"
	SuppressRateLimitTicket    = "rate_limit_ticket"
	SuppressRateLimitTenant    = "rate_limit_tenant"
)

// claimOutcome is the decision of the claim transaction for one record.
type claimOutcome int

const (
	claimBelowOffset claimOutcome = iota // the stored offset is past the record: handled before
	claimMarker                          // a transaction marker or a dead letter: only the offset moved
	claimSend                            // a new row is sending: the caller sends
	claimSuppressed                      // a new row is suppressed
	claimReplayed                        // the ledger had the row already
	claimInFlight                        // the ledger had the row sending and it is now unknown
)

// claim is the input of the claim transaction for one record.
type claim struct {
	topic     string
	partition int32
	offset    int64
	cmd       *schemas.AutoReply       // nil for a marker or a record that failed to decode
	outbound  *schemas.OutboundMessage // set instead of cmd for an agent reply
	messageID string                   // Message-ID minted for the reply
	dead      *deadLetter              // set when the record goes to the DLQ
}

// claimRecord runs the first transaction of a record. It locks the
// partition's stored offset, skips a record below it, and otherwise
// decides the record's fate, writes the ledger row or the dead letter,
// and moves the stored offset past the record, all in one commit. It
// returns the suppression reason with claimSuppressed.
func (s *Sink) claimRecord(ctx context.Context, c *claim) (claimOutcome, string, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("beginning the claim transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	next, err := lockOffset(ctx, tx, s.cfg.Group, c.topic, c.partition)
	if err != nil {
		return 0, "", err
	}
	if c.offset < next {
		return claimBelowOffset, "", tx.Commit(ctx)
	}

	outcome, reason := claimMarker, ""
	switch {
	case c.dead != nil:
		if err := s.insertOutbox(ctx, tx, c.dead); err != nil {
			return 0, "", err
		}
	case c.cmd != nil:
		if outcome, reason, err = s.claimCommand(ctx, tx, c); err != nil {
			return 0, "", err
		}
	case c.outbound != nil:
		if outcome, err = s.claimOutbound(ctx, tx, c); err != nil {
			return 0, "", err
		}
	}

	if err := storeOffset(ctx, tx, s.cfg.Group, c.topic, c.partition, c.offset+1); err != nil {
		return 0, "", err
	}
	if s.beforeClaimCommit != nil {
		s.beforeClaimCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, "", fmt.Errorf("committing the claim of offset %d: %w", c.offset, err)
	}
	return outcome, reason, nil
}

// claimCommand checks the ledger, the suppression list and the rate limits
// for a decoded command and inserts its ledger row.
func (s *Sink) claimCommand(ctx context.Context, tx pgx.Tx, c *claim) (claimOutcome, string, error) {
	cmd := c.cmd
	var previous State
	err := tx.QueryRow(ctx, `SELECT state FROM autoreply_deliveries WHERE event_id = $1 FOR UPDATE`, cmd.EventID).Scan(&previous)
	switch {
	case err == nil:
		if previous != StateSending {
			return claimReplayed, "", nil
		}
		_, err := tx.Exec(ctx, `UPDATE autoreply_deliveries SET state = 'unknown', updated_at = $2 WHERE event_id = $1`, cmd.EventID, s.cfg.Now())
		if err != nil {
			return 0, "", fmt.Errorf("marking auto-reply %s unknown: %w", cmd.EventID, err)
		}
		return claimInFlight, "", nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, "", fmt.Errorf("reading auto-reply %s from the ledger: %w", cmd.EventID, err)
	}

	// One tenant's rows are counted and inserted under one lock, so two
	// sink instances on different partitions cannot both pass a tenant
	// cap with its last free place.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "mailtriage.autoreply/"+cmd.Tenant); err != nil {
		return 0, "", fmt.Errorf("locking the rate limits of tenant %s: %w", cmd.Tenant, err)
	}

	now := s.cfg.Now()
	recipient := schemas.RecipientHash(cmd.To.Address)
	reason, err := s.suppression(ctx, tx, cmd, recipient, now)
	if err != nil {
		return 0, "", err
	}

	state, outcome := StateSending, claimSend
	if reason != "" {
		state, outcome = StateSuppressed, claimSuppressed
	}
	_, err = tx.Exec(ctx, `INSERT INTO autoreply_deliveries
		(event_id, tenant, ticket_ref, recipient_hash, state, reason, message_id, source_partition, source_offset, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		cmd.EventID, cmd.Tenant, cmd.TicketRef, recipient, string(state), reason, c.messageID, c.partition, c.offset, now)
	if err != nil {
		return 0, "", fmt.Errorf("inserting auto-reply %s into the ledger: %w", cmd.EventID, err)
	}
	return outcome, reason, nil
}

// suppression returns the reason the suppression list or a rate limit
// withholds cmd, or "".
func (s *Sink) suppression(ctx context.Context, tx pgx.Tx, cmd *schemas.AutoReply, recipient string, now time.Time) (string, error) {
	var listed bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM autoreply_suppressions
		WHERE tenant IN ($1, '*') AND address = lower($2))`, cmd.Tenant, normalizeAddress(cmd.To.Address)).Scan(&listed)
	if err != nil {
		return "", fmt.Errorf("reading the suppression list: %w", err)
	}
	if listed {
		return SuppressListed, nil
	}

	// Agent replies share the table but never count against these limits.
	const count = `SELECT count(*) FROM autoreply_deliveries
		WHERE state IN ('sending', 'sent', 'unknown') AND kind = 'acknowledgement' AND tenant = $1 AND created_at > $2`
	checks := []struct {
		reason string
		limits []Limit
		query  string
		arg    []any
	}{
		{SuppressRateLimitRecipient, s.cfg.Limits.PerRecipient, count + ` AND recipient_hash = $3`, []any{recipient}},
		{SuppressRateLimitTicket, s.cfg.Limits.PerTicket, count + ` AND ticket_ref = $3`, []any{cmd.TicketRef}},
		{SuppressRateLimitTenant, s.cfg.Limits.PerTenant, count, nil},
	}
	for _, check := range checks {
		for _, limit := range check.limits {
			args := append([]any{cmd.Tenant, now.Add(-limit.Window)}, check.arg...)
			var n int
			if err := tx.QueryRow(ctx, check.query, args...).Scan(&n); err != nil {
				return "", fmt.Errorf("counting replies for the %s check: %w", check.reason, err)
			}
			if n >= limit.Max {
				return check.reason, nil
			}
		}
	}
	return "", nil
}

// finish records the outcome of a send in a transaction of its own: the
// state, the attempts and the reason, and for StateFailed the dead letter.
// It applies to a row that is sending, or unknown because another sink's
// start-up recovery marked it while this one was sending.
func (s *Sink) finish(ctx context.Context, eventID string, state State, attempts int, reason string, dead *deadLetter) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning the outcome transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	now := s.cfg.Now()
	var sentAt any
	if state == StateSent {
		sentAt = now
	}
	_, err = tx.Exec(ctx, `UPDATE autoreply_deliveries
		SET state = $2, attempts = $3, reason = $4, updated_at = $5, sent_at = $6
		WHERE event_id = $1 AND state IN ('sending', 'unknown')`,
		eventID, string(state), attempts, truncate(reason, maxErrorText), now, sentAt)
	if err != nil {
		return fmt.Errorf("marking auto-reply %s %s: %w", eventID, state, err)
	}
	if dead != nil {
		if err := s.insertOutbox(ctx, tx, dead); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing the outcome of auto-reply %s: %w", eventID, err)
	}
	return nil
}

// release undoes the claim of a reply that was not sent because the sink
// is stopping: it deletes the sending row and moves the stored offset back
// to the record, in one transaction, so the next run sends it.
func (s *Sink) release(ctx context.Context, eventID, topic string, partition int32, offset int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning the release transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	tag, err := tx.Exec(ctx, `DELETE FROM autoreply_deliveries WHERE event_id = $1 AND state = 'sending'`, eventID)
	if err != nil {
		return fmt.Errorf("releasing auto-reply %s: %w", eventID, err)
	}
	if tag.RowsAffected() == 0 {
		// Another sink marked the row unknown meanwhile; it stays so.
		return tx.Commit(ctx)
	}
	_, err = tx.Exec(ctx, `UPDATE consumer_offsets SET next_offset = LEAST(next_offset, $4), updated_at = now()
		WHERE consumer_group = $1 AND topic = $2 AND partition = $3`, s.cfg.Group, topic, partition, offset)
	if err != nil {
		return fmt.Errorf("moving the offset of %s/%d back to %d: %w", topic, partition, offset, err)
	}
	return tx.Commit(ctx)
}

// recoveredRow is a row that start-up recovery marked unknown.
type recoveredRow struct {
	eventID  string
	tenant   string
	attempts int
}

// markSendingUnknown marks every row left sending as unknown and returns
// them.
func (s *Sink) markSendingUnknown(ctx context.Context) ([]recoveredRow, error) {
	rows, err := s.pool.Query(ctx, `UPDATE autoreply_deliveries SET state = 'unknown', updated_at = $1
		WHERE state = 'sending' RETURNING event_id, tenant, attempts`, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("marking sending auto-replies unknown: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (recoveredRow, error) {
		var r recoveredRow
		err := row.Scan(&r.eventID, &r.tenant, &r.attempts)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("marking sending auto-replies unknown: %w", err)
	}
	return out, nil
}

// lockOffset locks the offset row of one partition for the rest of tx and
// returns the stored next offset, creating the row at 0 when the
// partition has none yet.
func lockOffset(ctx context.Context, tx pgx.Tx, group, topic string, partition int32) (int64, error) {
	const upsert = `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
		VALUES ($1, $2, $3, 0)
		ON CONFLICT (consumer_group, topic, partition)
		DO UPDATE SET next_offset = consumer_offsets.next_offset
		RETURNING next_offset`
	var next int64
	if err := tx.QueryRow(ctx, upsert, group, topic, partition).Scan(&next); err != nil {
		return 0, fmt.Errorf("locking the offset of %s/%d: %w", topic, partition, err)
	}
	return next, nil
}

// storeOffset sets the stored next offset of one partition.
func storeOffset(ctx context.Context, tx pgx.Tx, group, topic string, partition int32, next int64) error {
	const update = `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
		WHERE consumer_group = $1 AND topic = $2 AND partition = $3`
	if _, err := tx.Exec(ctx, update, group, topic, partition, next); err != nil {
		return fmt.Errorf("storing offset %d of %s/%d: %w", next, topic, partition, err)
	}
	return nil
}
