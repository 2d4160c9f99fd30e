package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/schemas"
)

// Actions of TicketCommand.Action.
const (
	ActionCreate = "create" // open a ticket with its first message
	ActionAppend = "append" // add a follow-up message to the ticket of TicketRef
)

// Kinds of ticket_events rows that the sink writes. The table also allows
// "reassigned" and "closed", which the agents' tools write.
const (
	EventCreated = "created"
	EventRouted  = "routed"
	EventReplied = "replied"
)

// validateCommand checks the fields the sink relies on and names the first
// one missing or invalid. Such a command goes to the dead-letter topic.
func validateCommand(cmd *schemas.TicketCommand) error {
	switch {
	case cmd.EventID == "":
		return errors.New("ticket command has no eventId")
	case cmd.Tenant == "":
		return fmt.Errorf("ticket command %s has no tenant", cmd.EventID)
	case cmd.TicketRef == "":
		return fmt.Errorf("ticket command %s has no ticketRef", cmd.EventID)
	case cmd.MessageID == "":
		return fmt.Errorf("ticket command %s has no messageId", cmd.EventID)
	case cmd.Action != ActionCreate && cmd.Action != ActionAppend:
		return fmt.Errorf("ticket command %s has unknown action %q: expected %q or %q", cmd.EventID, cmd.Action, ActionCreate, ActionAppend)
	}
	return nil
}

// applyCommand writes one command in tx.
//
// Both actions find the ticket by tenant and ticketRef and create it when
// it does not exist. For "create" that is the normal case. For "append" it
// happens when the command that opened the thread never reached this
// database, for example because it was dead-lettered: the follow-up then
// opens the ticket, so the customer's message is not lost.
//
// The message row is keyed by the command's event ID. When it already
// exists, the command is a replay: an append writes nothing else, and a
// create may only change the routing of a ticket that no person has
// worked on yet (rerouteReplay). Otherwise
// a new ticket gets a "created" and a "routed" event, and an existing one
// gets a "replied" event and a later updated_at. An append never changes
// a ticket's queue or priority, because agents own those once the ticket
// exists. It changes the status only of a closed ticket, by the
// closed-ticket policy (applyClosedPolicy): applyCommand reopens it, and
// applyCommandPolicy follows the policy it is given.
func applyCommand(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, now time.Time) error {
	return applyCommandPolicy(ctx, tx, cmd, now, ClosedPolicy{})
}

// applyCommandPolicy is applyCommand with the closed-ticket policy.
func applyCommandPolicy(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, now time.Time, policy ClosedPolicy) error {
	at := cmd.ReceivedAt
	if at.IsZero() {
		at = now
	}
	if cmd.Action == ActionAppend {
		next, replay, err := applyClosedPolicy(ctx, tx, cmd, at, policy)
		if err != nil || replay {
			return err
		}
		cmd = next
	}

	ticketID, created, err := upsertTicket(ctx, tx, cmd, at)
	if err != nil {
		return err
	}
	inserted, err := insertMessage(ctx, tx, ticketID, cmd, at)
	if err != nil {
		return err
	}
	if !inserted {
		if cmd.Action == ActionCreate {
			return rerouteReplay(ctx, tx, ticketID, cmd, now)
		}
		return nil
	}

	if created {
		if cmd.LinkedTicketRef != "" {
			if err := setLinkedTicket(ctx, tx, ticketID, cmd); err != nil {
				return err
			}
		}
		if err := insertEvent(ctx, tx, ticketID, EventCreated, cmd.EventID+"/"+EventCreated, at, createdPayload(cmd)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, ticketID, EventRouted, cmd.EventID+"/"+EventRouted, at, routedPayload(cmd))
	}

	if err := insertEvent(ctx, tx, ticketID, EventReplied, cmd.EventID+"/"+EventReplied, at, repliedPayload(cmd)); err != nil {
		return err
	}
	const touch = `UPDATE tickets SET updated_at = GREATEST(updated_at, $2) WHERE id = $1`
	if _, err := tx.Exec(ctx, touch, ticketID, at); err != nil {
		return fmt.Errorf("updating ticket %s/%s: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	return nil
}

// upsertTicket inserts the ticket of cmd unless one with the same tenant
// and ticketRef exists, and returns its ID and whether it was inserted.
// The first branch of the query returns the inserted row, and the second
// returns the existing one, which the first cannot see within the same
// statement.
func upsertTicket(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, at time.Time) (id int64, created bool, err error) {
	const query = `WITH inserted AS (
		INSERT INTO tickets (tenant, ticket_ref, external_id, queue, priority, tags,
			requester_name, requester_address, subject, created_at, updated_at,
			reason_kind, reason_rule_id, ruleset_version, model_version,
			reason_top_labels, reason_threshold, reason_detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (tenant, ticket_ref) DO NOTHING
		RETURNING id
	)
	SELECT id, true FROM inserted
	UNION ALL
	SELECT id, false FROM tickets WHERE tenant = $1 AND ticket_ref = $2
	LIMIT 1`

	tags := cmd.Tags
	if tags == nil {
		tags = []string{}
	}
	topLabels, err := encodeTopLabels(cmd.Reason.TopLabels)
	if err != nil {
		return 0, false, fmt.Errorf("encoding the top labels of command %s: %w", cmd.EventID, err)
	}
	err = tx.QueryRow(ctx, query,
		cmd.Tenant, cmd.TicketRef, cmd.MessageID, cmd.Queue, cmd.Priority, tags,
		cmd.Requester.Name, cmd.Requester.Address, cmd.Subject, at,
		cmd.Reason.Kind, cmd.Reason.RuleID, cmd.Reason.RulesetVersion, cmd.Reason.ModelVersion,
		topLabels, cmd.Reason.Threshold, cmd.Reason.Detail,
	).Scan(&id, &created)
	if err != nil {
		return 0, false, fmt.Errorf("upserting ticket %s/%s: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	return id, created, nil
}

// insertMessage inserts the inbound message of cmd and reports whether it
// was new.
func insertMessage(ctx context.Context, tx pgx.Tx, ticketID int64, cmd *schemas.TicketCommand, at time.Time) (bool, error) {
	const query = `INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction,
			subject, text, reply_text, attachments, raw_storage_key, received_at)
		VALUES ($1, $2, $3, 'inbound', $4, $5, $6, $7, $8, $9)
		ON CONFLICT (event_id) DO NOTHING`

	attachments, err := json.Marshal(attachmentsOrEmpty(cmd.Attachments))
	if err != nil {
		return false, fmt.Errorf("encoding the attachments of %s: %w", cmd.EventID, err)
	}
	var rawKey *string
	if cmd.Raw != nil && cmd.Raw.Key != "" {
		rawKey = &cmd.Raw.Key
	}
	tag, err := tx.Exec(ctx, query, ticketID, cmd.MessageID, cmd.EventID,
		cmd.Subject, cmd.Text, cmd.ReplyText, string(attachments), rawKey, at)
	if err != nil {
		return false, fmt.Errorf("inserting message of command %s into ticket %s/%s: %w", cmd.EventID, cmd.Tenant, cmd.TicketRef, err)
	}
	return tag.RowsAffected() == 1, nil
}

// insertEvent inserts one ticket event unless its event ID exists.
func insertEvent(ctx context.Context, tx pgx.Tx, ticketID int64, kind, eventID string, at time.Time, payload map[string]any) error {
	const query = `INSERT INTO ticket_events (ticket_id, kind, event_id, payload, at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (event_id) DO NOTHING`
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encoding the payload of %s event %s: %w", kind, eventID, err)
	}
	if _, err := tx.Exec(ctx, query, ticketID, kind, eventID, string(body), at); err != nil {
		return fmt.Errorf("inserting %s event %s: %w", kind, eventID, err)
	}
	return nil
}

func attachmentsOrEmpty(a []schemas.Attachment) []schemas.Attachment {
	if a == nil {
		return []schemas.Attachment{}
	}
	return a
}

// createdPayload is the payload of a "created" event: what opened the
// ticket, and the ticket it is linked to, if any.
func createdPayload(cmd *schemas.TicketCommand) map[string]any {
	payload := map[string]any{"messageId": cmd.MessageID, "action": cmd.Action}
	if cmd.LinkedTicketRef != "" {
		payload["linkedTicketRef"] = cmd.LinkedTicketRef
	}
	return payload
}

// routedPayload is the payload of a "routed" event: where the ticket went
// and why.
func routedPayload(cmd *schemas.TicketCommand) map[string]any {
	return map[string]any{
		"queue":         cmd.Queue,
		"priority":      cmd.Priority,
		"tags":          cmd.Tags,
		"reason":        cmd.Reason,
		"skipAutoReply": cmd.SkipAutoReply,
	}
}

// repliedPayload is the payload of a "replied" event: the follow-up
// message and the message IDs of its In-Reply-To header.
func repliedPayload(cmd *schemas.TicketCommand) map[string]any {
	return map[string]any{"messageId": cmd.MessageID, "inReplyTo": cmd.InReplyTo}
}
