package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/schemas"
)

// written is the outcome of writeCommand.
type written struct {
	ticketID int64
	created  bool // the command opened the ticket
	inserted bool // the message was new, so the command is no replay
}

// writeCommandSQL upserts the ticket of a command, inserts its message
// and, when the message is new, inserts the events of a new ticket
// ("created", then "routed") or of an existing one ("replied", with a
// later updated_at). It returns the ticket's ID, whether the ticket was
// inserted, and whether the message was.
//
// The parts of a statement run with one snapshot and see each other's
// rows only through RETURNING (PostgreSQL manual, "Data-Modifying
// Statements in WITH"). So the later parts take the ticket from the
// ticket CTE: its first branch returns the row that new_ticket inserted,
// and its second the existing row. The event and updated_at parts write
// only when the message CTE returned a row. No two parts change the same
// row, because the update runs only when the ticket existed. An event's
// ID is the command's event ID, a slash and the kind, so replaying the
// command adds no event. The kinds are literals here and must match
// EventCreated, EventRouted and EventReplied.
const writeCommandSQL = `WITH new_ticket AS (
	INSERT INTO tickets (tenant, ticket_ref, external_id, queue, priority, tags,
		requester_name, requester_address, subject, created_at, updated_at,
		reason_kind, reason_rule_id, ruleset_version, model_version,
		reason_top_labels, reason_threshold, reason_detail)
	VALUES (@tenant, @ticket_ref, @message_id, @queue, @priority, @tags,
		@requester_name, @requester_address, @subject, @at, @at,
		@reason_kind, @rule_id, @ruleset_version, @model_version,
		@top_labels, @threshold, @detail)
	ON CONFLICT (tenant, ticket_ref) DO NOTHING
	RETURNING id
), ticket AS (
	SELECT id, true AS created FROM new_ticket
	UNION ALL
	SELECT id, false FROM tickets WHERE tenant = @tenant AND ticket_ref = @ticket_ref
	LIMIT 1
), message AS (
	INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction,
		subject, text, reply_text, attachments, raw_storage_key, received_at)
	SELECT id, @message_id::text, @event_id::text, 'inbound',
		@subject::text, @body_text::text, @reply_text::text, @attachments::jsonb,
		@raw_key::text, @at::timestamptz
	FROM ticket
	ON CONFLICT (event_id) DO NOTHING
	RETURNING ticket_id
), events AS (
	INSERT INTO ticket_events (ticket_id, kind, event_id, payload, at)
	SELECT ticket.id, e.kind, @event_id::text || '/' || e.kind, e.payload, @at::timestamptz
	FROM ticket
	CROSS JOIN message
	CROSS JOIN (VALUES
		(1, 'created', @created_payload::jsonb, true),
		(2, 'routed', @routed_payload::jsonb, true),
		(3, 'replied', @replied_payload::jsonb, false)
	) AS e (ord, kind, payload, opens_ticket)
	WHERE e.opens_ticket = ticket.created
	ORDER BY e.ord
	ON CONFLICT (event_id) DO NOTHING
), touched AS (
	UPDATE tickets SET updated_at = GREATEST(updated_at, @at::timestamptz)
	WHERE id = (SELECT id FROM ticket WHERE NOT created)
		AND EXISTS (SELECT 1 FROM message)
)
SELECT id, created, EXISTS (SELECT 1 FROM message) FROM ticket`

// writeCommand writes cmd to its ticket with writeCommandSQL, which costs
// one round trip where separate statements cost four. What the statement
// leaves to the rare cases, finishCommand does.
func writeCommand(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, at time.Time) (written, error) {
	args, err := writeCommandArgs(cmd, at)
	if err != nil {
		return written{}, err
	}
	var w written
	if err := tx.QueryRow(ctx, writeCommandSQL, args).Scan(&w.ticketID, &w.created, &w.inserted); err != nil {
		return written{}, fmt.Errorf("writing command %s to ticket %s/%s: %w", cmd.EventID, cmd.Tenant, cmd.TicketRef, err)
	}
	return w, nil
}

// writeCommandArgs returns the arguments of writeCommandSQL for cmd,
// received at at.
func writeCommandArgs(cmd *schemas.TicketCommand, at time.Time) (pgx.NamedArgs, error) {
	tags := cmd.Tags
	if tags == nil {
		tags = []string{}
	}
	topLabels, err := encodeTopLabels(cmd.Reason.TopLabels)
	if err != nil {
		return nil, fmt.Errorf("encoding the top labels of command %s: %w", cmd.EventID, err)
	}
	attachments, err := json.Marshal(attachmentsOrEmpty(cmd.Attachments))
	if err != nil {
		return nil, fmt.Errorf("encoding the attachments of %s: %w", cmd.EventID, err)
	}
	var rawKey *string
	if cmd.Raw != nil && cmd.Raw.Key != "" {
		rawKey = &cmd.Raw.Key
	}
	args := pgx.NamedArgs{
		"tenant": cmd.Tenant, "ticket_ref": cmd.TicketRef, "message_id": cmd.MessageID,
		"queue": cmd.Queue, "priority": cmd.Priority, "tags": tags,
		"requester_name": cmd.Requester.Name, "requester_address": cmd.Requester.Address,
		"subject": cmd.Subject, "at": at,
		"reason_kind": cmd.Reason.Kind, "rule_id": cmd.Reason.RuleID,
		"ruleset_version": cmd.Reason.RulesetVersion, "model_version": cmd.Reason.ModelVersion,
		"top_labels": topLabels, "threshold": cmd.Reason.Threshold, "detail": cmd.Reason.Detail,
		"event_id": cmd.EventID, "body_text": cmd.Text, "reply_text": cmd.ReplyText,
		"attachments": string(attachments), "raw_key": rawKey,
	}

	payloads := map[string]map[string]any{
		"created_payload": createdPayload(cmd),
		"routed_payload":  routedPayload(cmd),
		"replied_payload": repliedPayload(cmd),
	}
	for name, payload := range payloads {
		body, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encoding the event payloads of command %s: %w", cmd.EventID, err)
		}
		args[name] = string(body)
	}
	return args, nil
}
