package ticketing

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailtriage/connectors/ticketing/pgconsumer"
)

// Ledger states of external_tickets and external_comments.
const (
	stateCreating = "creating"
	stateCreated  = "created"
	statePosting  = "posting"
	statePosted   = "posted"
)

// ticketRow is the part of an external_tickets row the sink reads.
type ticketRow struct {
	state         string
	externalID    string
	createEventID string
	fresh         bool // inserted by this handling, so no earlier create went out
}

// selectTicket reads and locks the ticket row of ticketRef.
func (s *Sink) selectTicket(ctx context.Context, tx pgx.Tx, tenant, ticketRef string) (ticketRow, bool, error) {
	var r ticketRow
	err := tx.QueryRow(ctx, `SELECT state, external_id, create_event_id FROM external_tickets
		WHERE system = $1 AND tenant = $2 AND ticket_ref = $3 FOR UPDATE`, s.cfg.System, tenant, ticketRef).
		Scan(&r.state, &r.externalID, &r.createEventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ticketRow{}, false, nil
	}
	if err != nil {
		return ticketRow{}, false, fmt.Errorf("reading external ticket %s/%s: %w", tenant, ticketRef, err)
	}
	return r, true, nil
}

// insertTicket records the intent to create the ticket of t.
func (s *Sink) insertTicket(ctx context.Context, tx pgx.Tx, t *Ticket) (ticketRow, error) {
	_, err := tx.Exec(ctx, `INSERT INTO external_tickets (system, tenant, ticket_ref, idempotency_key, create_event_id, state)
		VALUES ($1, $2, $3, $4, $5, 'creating')`, s.cfg.System, t.Tenant, t.TicketRef, t.Key, t.EventID)
	if err != nil {
		return ticketRow{}, fmt.Errorf("recording the create of %s: %w", t.Key, err)
	}
	return ticketRow{state: stateCreating, createEventID: t.EventID, fresh: true}, nil
}

// linkedExternalID returns the external ID of the created ticket of
// ticketRef, or "".
func (s *Sink) linkedExternalID(ctx context.Context, tx pgx.Tx, tenant, ticketRef string) (string, error) {
	if ticketRef == "" {
		return "", nil
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT external_id FROM external_tickets
		WHERE system = $1 AND tenant = $2 AND ticket_ref = $3 AND state = 'created'`, s.cfg.System, tenant, ticketRef).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading linked ticket %s/%s: %w", tenant, ticketRef, err)
	}
	return id, nil
}

// markTicketCreated returns the write that records the external ID.
func (s *Sink) markTicketCreated(t *Ticket, externalID string, attempts int) pgconsumer.TxFunc {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE external_tickets
			SET state = 'created', external_id = $4, attempts = attempts + $5, updated_at = now()
			WHERE system = $1 AND tenant = $2 AND ticket_ref = $3 AND state = 'creating'`,
			s.cfg.System, t.Tenant, t.TicketRef, externalID, attempts)
		if err != nil {
			return fmt.Errorf("recording external ticket %s of %s: %w", externalID, t.Key, err)
		}
		return nil
	}
}

// deleteCreatingTicket returns the write that deletes the row of a create
// that failed for good, so that a replay of its dead letter can create it.
func (s *Sink) deleteCreatingTicket(t *Ticket) pgconsumer.TxFunc {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM external_tickets
			WHERE system = $1 AND tenant = $2 AND ticket_ref = $3 AND state = 'creating'`, s.cfg.System, t.Tenant, t.TicketRef)
		if err != nil {
			return fmt.Errorf("deleting the failed create of %s: %w", t.Key, err)
		}
		return nil
	}
}

// commentRow is the part of an external_comments row the sink reads.
type commentRow struct {
	state      string
	externalID string
}

// selectComment reads and locks the comment row of eventID.
func (s *Sink) selectComment(ctx context.Context, tx pgx.Tx, eventID string) (commentRow, bool, error) {
	var r commentRow
	err := tx.QueryRow(ctx, `SELECT state, external_id FROM external_comments
		WHERE system = $1 AND event_id = $2 FOR UPDATE`, s.cfg.System, eventID).Scan(&r.state, &r.externalID)
	if errors.Is(err, pgx.ErrNoRows) {
		return commentRow{}, false, nil
	}
	if err != nil {
		return commentRow{}, false, fmt.Errorf("reading external comment %s: %w", eventID, err)
	}
	return r, true, nil
}

// insertComment records the intent to post c on the ticket externalID.
func (s *Sink) insertComment(ctx context.Context, tx pgx.Tx, c *Comment, externalID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO external_comments (system, event_id, tenant, ticket_ref, external_id, state)
		VALUES ($1, $2, $3, $4, $5, 'posting')
		ON CONFLICT (system, event_id) DO NOTHING`, s.cfg.System, c.EventID, c.Tenant, c.TicketRef, externalID)
	if err != nil {
		return fmt.Errorf("recording the comment %s: %w", c.EventID, err)
	}
	return nil
}

// markCommentPosted returns the write that records a posted comment.
func (s *Sink) markCommentPosted(c *Comment, attempts int) pgconsumer.TxFunc {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE external_comments SET state = 'posted', attempts = attempts + $3, updated_at = now()
			WHERE system = $1 AND event_id = $2`, s.cfg.System, c.EventID, attempts)
		if err != nil {
			return fmt.Errorf("recording the posted comment %s: %w", c.EventID, err)
		}
		return nil
	}
}

// deletePostingComment returns the write that deletes the row of a
// comment that failed for good.
func (s *Sink) deletePostingComment(c *Comment) pgconsumer.TxFunc {
	return func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM external_comments WHERE system = $1 AND event_id = $2 AND state = 'posting'`, s.cfg.System, c.EventID)
		if err != nil {
			return fmt.Errorf("deleting the failed comment %s: %w", c.EventID, err)
		}
		return nil
	}
}
