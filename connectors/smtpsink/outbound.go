package smtpsink

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

// prepareOutbound decodes and checks the agent reply in rec, builds its
// message and sets c.outbound. A failed lookup in the schema registry is
// retried until ctx ends; any other error is the record's fault and sends
// it to the DLQ.
func (s *Sink) prepareOutbound(ctx context.Context, rec *kgo.Record, c *claim) (sendJob, Outgoing, error) {
	job := sendJob{what: "agent reply"}
	var msg schemas.OutboundMessage
	err := s.retry(ctx, "looking up a schema in the registry", func(ctx context.Context) error {
		err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &msg)
		if err != nil && !errors.Is(err, schemas.ErrRegistry) {
			return nil // not retryable: decoded again below for the error
		}
		return err
	})
	if err != nil {
		return job, Outgoing{}, err
	}
	if err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &msg); err != nil {
		return job, Outgoing{}, fmt.Errorf("decoding the OutboundMessage: %w", err)
	}
	job.eventID, job.tenant, job.ticketRef, job.receivedAt = msg.EventID, msg.Tenant, msg.TicketRef, msg.CreatedAt

	switch {
	case msg.EventID == "":
		return job, Outgoing{}, errors.New("the OutboundMessage has no eventId, so the ledger cannot track it: fix the producer")
	case msg.Tenant == "" || msg.TicketRef == "":
		return job, Outgoing{}, fmt.Errorf("agent reply %s has no tenant or ticketRef: fix the producer", msg.EventID)
	case msg.Kind != schemas.OutboundKindAgentReply:
		return job, Outgoing{}, fmt.Errorf("outbound message %s has kind %q, and this sink sends only %q", msg.EventID, msg.Kind, schemas.OutboundKindAgentReply)
	}
	from, ok := s.cfg.fromFor(msg.Tenant)
	if !ok {
		return job, Outgoing{}, fmt.Errorf("tenant %s has no From address: add one for it, or set a default From", msg.Tenant)
	}

	// A bounce of a message a person wrote should reach a person, so the
	// envelope sender is the tenant's address rather than <>.
	job.envelopeFrom = s.cfg.EnvelopeFrom
	if job.envelopeFrom == "" {
		job.envelopeFrom = from.Address
	}
	out, err := BuildAgentReply(&msg, from, s.cfg.Now())
	if err != nil {
		return job, Outgoing{}, err
	}
	c.outbound, c.messageID = &msg, out.MessageID
	return job, out, nil
}

// claimOutbound checks the ledger for an agent reply and inserts its row
// as sending. Unlike claimCommand it applies neither the suppression list
// nor the rate limits, because a person wrote the reply and chose to send
// it. Its row has kind agent_reply, which the rate-limit counts skip.
func (s *Sink) claimOutbound(ctx context.Context, tx pgx.Tx, c *claim) (claimOutcome, error) {
	msg := c.outbound
	var previous State
	err := tx.QueryRow(ctx, `SELECT state FROM autoreply_deliveries WHERE event_id = $1 FOR UPDATE`, msg.EventID).Scan(&previous)
	switch {
	case err == nil:
		if previous != StateSending {
			return claimReplayed, nil
		}
		_, err := tx.Exec(ctx, `UPDATE autoreply_deliveries SET state = 'unknown', updated_at = $2 WHERE event_id = $1`, msg.EventID, s.cfg.Now())
		if err != nil {
			return 0, fmt.Errorf("marking agent reply %s unknown: %w", msg.EventID, err)
		}
		return claimInFlight, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, fmt.Errorf("reading agent reply %s from the ledger: %w", msg.EventID, err)
	}

	_, err = tx.Exec(ctx, `INSERT INTO autoreply_deliveries
		(event_id, kind, tenant, ticket_ref, recipient_hash, state, message_id, source_partition, source_offset, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'sending', $6, $7, $8, $9, $9)`,
		msg.EventID, schemas.OutboundKindAgentReply, msg.Tenant, msg.TicketRef, schemas.RecipientHash(msg.To.Address),
		c.messageID, c.partition, c.offset, s.cfg.Now())
	if err != nil {
		return 0, fmt.Errorf("inserting agent reply %s into the ledger: %w", msg.EventID, err)
	}
	return claimSend, nil
}
