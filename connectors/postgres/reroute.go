package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/schemas"
)

// EventRerouted is the kind of the ticket_events row that a replayed
// create command with a new routing decision writes, whether the ticket
// took the new routing or not.
const EventRerouted = "rerouted"

// Values of the "skippedBecause" field of a rerouted event whose ticket
// kept its routing, because a person had already worked on the ticket.
const (
	// RerouteSkippedReassigned: the ticket has a "reassigned" event.
	RerouteSkippedReassigned = "reassigned"
	// RerouteSkippedStatus: the ticket's status is no longer open.
	RerouteSkippedStatus = "status"
	// RerouteSkippedOutbound: the ticket has an outbound message.
	RerouteSkippedOutbound = "outbound-message"
)

// routing is the part of a ticket that the processor's decision sets and
// that a replay may change.
type routing struct {
	Queue          string   `json:"queue"`
	Priority       string   `json:"priority"`
	Tags           []string `json:"tags"`
	ReasonKind     string   `json:"reasonKind"`
	RuleID         string   `json:"ruleId"`
	RulesetVersion string   `json:"rulesetVersion"`
	ModelVersion   string   `json:"modelVersion"`
}

// sameOutcome reports whether r and o route a ticket alike: same queue,
// priority and tags. The reason may differ, as after a new ruleset
// version that decides the same.
func (r routing) sameOutcome(o routing) bool {
	return r.Queue == o.Queue && r.Priority == o.Priority && slices.Equal(r.Tags, o.Tags)
}

func routingOf(cmd *schemas.TicketCommand) routing {
	tags := cmd.Tags
	if tags == nil {
		tags = []string{}
	}
	return routing{
		Queue:          cmd.Queue,
		Priority:       cmd.Priority,
		Tags:           tags,
		ReasonKind:     cmd.Reason.Kind,
		RuleID:         cmd.Reason.RuleID,
		RulesetVersion: cmd.Reason.RulesetVersion,
		ModelVersion:   cmd.Reason.ModelVersion,
	}
}

// rerouteReplay handles a create command whose message row already
// exists: a replay after an offset reset or a dead-letter replay, which
// the processor may have decided with another ruleset or model.
//
// When the command's message opened the ticket and its queue, priority
// or tags differ from the ticket's, the ticket takes them with the new
// reason. It keeps its routing when a person already worked on it,
// which means it was reassigned, its status is no longer open, or it has
// an outbound message. Either way a
// "rerouted" event records the old and new routing, and whether the new
// one applied or why it was skipped. The event ID is derived from the
// command's event ID and the new routing, so replaying the same decision
// again adds nothing. A replay that decides the same queue, priority and
// tags writes nothing, even under a new ruleset version, so the ticket
// keeps the reason it was routed with. Messages and other events are
// never touched.
func rerouteReplay(ctx context.Context, tx pgx.Tx, ticketID int64, cmd *schemas.TicketCommand, now time.Time) error {
	const lock = `SELECT external_id, status, queue, priority, tags,
			reason_kind, reason_rule_id, ruleset_version, model_version
		FROM tickets WHERE id = $1
		FOR UPDATE`
	var externalID, status string
	var current routing
	err := tx.QueryRow(ctx, lock, ticketID).Scan(&externalID, &status, &current.Queue, &current.Priority, &current.Tags,
		&current.ReasonKind, &current.RuleID, &current.RulesetVersion, &current.ModelVersion)
	if err != nil {
		return fmt.Errorf("reading the routing of ticket %s/%s: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	next := routingOf(cmd)
	if externalID != cmd.MessageID || current.sameOutcome(next) {
		return nil
	}

	skipped, err := touchedByPerson(ctx, tx, ticketID, status)
	if err != nil {
		return fmt.Errorf("checking ticket %s/%s for changes by a person: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	if skipped == "" {
		if err := applyRouting(ctx, tx, ticketID, cmd, now); err != nil {
			return err
		}
	}

	payload := map[string]any{
		"messageId": cmd.MessageID,
		"from":      current,
		"to":        next,
		"applied":   skipped == "",
	}
	if skipped != "" {
		payload["skippedBecause"] = skipped
	}
	eventID, err := rerouteEventID(cmd.EventID, next)
	if err != nil {
		return err
	}
	return insertEvent(ctx, tx, ticketID, EventRerouted, eventID, now, payload)
}

// touchedByPerson returns why the ticket must keep its routing, one of
// the RerouteSkipped values, or "" when no person has worked on it.
func touchedByPerson(ctx context.Context, tx pgx.Tx, ticketID int64, status string) (string, error) {
	const query = `SELECT
		EXISTS (SELECT 1 FROM ticket_events WHERE ticket_id = $1 AND kind = 'reassigned'),
		EXISTS (SELECT 1 FROM ticket_messages WHERE ticket_id = $1 AND direction = 'outbound')`
	var reassigned, outbound bool
	if err := tx.QueryRow(ctx, query, ticketID).Scan(&reassigned, &outbound); err != nil {
		return "", err
	}
	switch {
	case reassigned:
		return RerouteSkippedReassigned, nil
	case status != "open":
		return RerouteSkippedStatus, nil
	case outbound:
		return RerouteSkippedOutbound, nil
	}
	return "", nil
}

// applyRouting writes the routing and the whole reason of cmd to the
// ticket, so that a later reassignment reports the decision in force.
func applyRouting(ctx context.Context, tx pgx.Tx, ticketID int64, cmd *schemas.TicketCommand, now time.Time) error {
	const update = `UPDATE tickets SET queue = $2, priority = $3, tags = $4,
			reason_kind = $5, reason_rule_id = $6, ruleset_version = $7, model_version = $8,
			reason_top_labels = $9, reason_threshold = $10, reason_detail = $11,
			updated_at = GREATEST(updated_at, $12)
		WHERE id = $1`
	next := routingOf(cmd)
	topLabels, err := encodeTopLabels(cmd.Reason.TopLabels)
	if err != nil {
		return fmt.Errorf("encoding the top labels of command %s: %w", cmd.EventID, err)
	}
	_, err = tx.Exec(ctx, update, ticketID, next.Queue, next.Priority, next.Tags,
		next.ReasonKind, next.RuleID, next.RulesetVersion, next.ModelVersion,
		topLabels, cmd.Reason.Threshold, cmd.Reason.Detail, now)
	if err != nil {
		return fmt.Errorf("rerouting ticket %s/%s to queue %s: %w", cmd.Tenant, cmd.TicketRef, next.Queue, err)
	}
	return nil
}

// rerouteEventID returns the event ID of the rerouted event that the
// command commandEventID with routing next writes: the command's event
// ID, "/rerouted/" and 16 hex digits of the SHA-256 of next's JSON.
func rerouteEventID(commandEventID string, next routing) (string, error) {
	body, err := json.Marshal(next)
	if err != nil {
		return "", fmt.Errorf("encoding the routing of command %s: %w", commandEventID, err)
	}
	sum := sha256.Sum256(body)
	return commandEventID + "/" + EventRerouted + "/" + hex.EncodeToString(sum[:8]), nil
}
