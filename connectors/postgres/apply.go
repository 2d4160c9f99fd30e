package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	at := receivedAt(cmd, now)
	if cmd.Action == ActionAppend {
		next, replay, err := applyClosedPolicy(ctx, tx, cmd, at, policy)
		if err != nil || replay {
			return err
		}
		cmd = next
	}

	w, err := writeCommand(ctx, tx, cmd, at)
	if err != nil {
		return err
	}
	return finishCommand(ctx, tx, cmd, w, now)
}

// receivedAt returns the time stamped on the rows of cmd: its receive
// time, or now when it has none.
func receivedAt(cmd *schemas.TicketCommand, now time.Time) time.Time {
	if cmd.ReceivedAt.IsZero() {
		return now
	}
	return cmd.ReceivedAt
}

// finishCommand runs the statements that writeCommand leaves to the rare
// cases: the reroute check of a replayed create, and the link of a new
// ticket to an earlier one.
func finishCommand(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, w written, now time.Time) error {
	if !w.inserted {
		if cmd.Action == ActionCreate {
			return rerouteReplay(ctx, tx, w.ticketID, cmd, now)
		}
		return nil
	}
	if w.created && cmd.LinkedTicketRef != "" {
		return setLinkedTicket(ctx, tx, w.ticketID, cmd)
	}
	return nil
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
		"reason":        finiteReason(cmd.Reason),
		"skipAutoReply": cmd.SkipAutoReply,
	}
}

// finiteReason returns r with each NaN or infinite threshold and
// probability set to 0, as encodeTopLabels stores them, because JSON has
// no such numbers and a payload that fails to encode fails the batch on
// every retry. writeCommand encodes the routed payload of every command,
// appends included.
func finiteReason(r schemas.Reason) schemas.Reason {
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		r.Threshold = 0
	}
	if len(r.TopLabels) == 0 {
		return r
	}
	labels := make([]schemas.LabelScore, len(r.TopLabels))
	for i, l := range r.TopLabels {
		labels[i] = l
		if math.IsNaN(l.Probability) || math.IsInf(l.Probability, 0) {
			labels[i].Probability = 0
		}
	}
	r.TopLabels = labels
	return r
}

// repliedPayload is the payload of a "replied" event: the follow-up
// message and the message IDs of its In-Reply-To header.
func repliedPayload(cmd *schemas.TicketCommand) map[string]any {
	return map[string]any{"messageId": cmd.MessageID, "inReplyTo": cmd.InReplyTo}
}
