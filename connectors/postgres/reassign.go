package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// EventReassigned is the kind of the ticket_events row that Reassign
// writes.
const EventReassigned = "reassigned"

// Errors of Reassign. Test for them with errors.Is.
var (
	// ErrTicketNotFound means no ticket has the request's tenant and
	// ticket reference.
	ErrTicketNotFound = errors.New("ticket not found")
	// ErrNoChange means the ticket already has the requested queue and
	// priority, so nothing was written and no feedback event was made.
	ErrNoChange = errors.New("nothing changed")
	// ErrInvalidReassign means a field of the request is invalid. The
	// error text names the field and the values it accepts.
	ErrInvalidReassign = errors.New("invalid reassignment")
)

// maxQueueName bounds the length of a queue name, in bytes.
const maxQueueName = 100

// queueName is the form of a queue name: the same rule the rules file
// applies to the queue of a rule.
var queueName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ReassignRequest moves one ticket to another queue, priority or both.
type ReassignRequest struct {
	Tenant    string // required
	TicketRef string // required
	// Queue is the new queue: lower-case letters, digits, '.', '_' and '-',
	// starting with a letter or digit. Required.
	Queue string
	// Priority is the new priority: low, normal, high or urgent. Empty
	// keeps the ticket's priority.
	Priority string
	// Actor is who reassigns: an operator name, or "api:TOKEN-ID" for the
	// ticket API. Required. An email address is rejected, because the
	// feedback topic must not carry addresses.
	Actor string
	// Source is the origin of the reassignment: schemas.FeedbackSourceCLI,
	// FeedbackSourceAPI or FeedbackSourceStore. Required.
	Source string
}

// Reassign moves a ticket to req.Queue and req.Priority in one PostgreSQL
// transaction that also writes a "reassigned" ticket event and a row of
// feedback_outbox, and returns the feedback event it wrote. The
// PostgreSQL sink produces the outbox rows to the feedback topic (see
// FeedbackRelay), so the event reaches Kafka once the transaction has
// committed, even when this process exits right after.
//
// The event carries the ticket's original decision, from the reason
// columns that the sink stored when it created the ticket, and the
// redacted subject and reply text of the ticket's first message.
//
// Errors wrap ErrInvalidReassign for a bad request, ErrTicketNotFound for
// an unknown ticket and ErrNoChange when the ticket already has the
// requested queue and priority. db is a *pgxpool.Pool, a *pgx.Conn or
// anything else that begins a transaction. Use ReassignTx to reassign
// inside a transaction of your own.
func Reassign(ctx context.Context, db TxBeginner, req ReassignRequest) (schemas.FeedbackEvent, error) {
	if err := req.Validate(); err != nil {
		return schemas.FeedbackEvent{}, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return schemas.FeedbackEvent{}, fmt.Errorf("beginning the reassignment of ticket %s/%s: %w", req.Tenant, req.TicketRef, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	ev, err := ReassignTx(ctx, tx, req)
	if err != nil {
		return schemas.FeedbackEvent{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return schemas.FeedbackEvent{}, fmt.Errorf("committing the reassignment of ticket %s/%s: %w", req.Tenant, req.TicketRef, err)
	}
	return ev, nil
}

// TxBeginner begins a transaction. *pgxpool.Pool and *pgx.Conn implement
// it.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ReassignTx does the work of Reassign inside tx and leaves the commit to
// the caller. It locks the ticket row until tx ends, so concurrent
// reassignments of one ticket run one after the other.
func ReassignTx(ctx context.Context, tx pgx.Tx, req ReassignRequest) (schemas.FeedbackEvent, error) {
	if err := req.Validate(); err != nil {
		return schemas.FeedbackEvent{}, err
	}
	t, err := lockTicket(ctx, tx, req.Tenant, req.TicketRef)
	if err != nil {
		return schemas.FeedbackEvent{}, err
	}

	to := schemas.Assignment{Queue: req.Queue, Priority: req.Priority}
	if to.Priority == "" {
		to.Priority = t.from.Priority
	}
	if to == t.from {
		return schemas.FeedbackEvent{}, fmt.Errorf("%w: ticket %s/%s is already in queue %s with priority %s",
			ErrNoChange, req.Tenant, req.TicketRef, to.Queue, to.Priority)
	}

	ev, err := newFeedbackEvent(ctx, tx, t, req, to)
	if err != nil {
		return schemas.FeedbackEvent{}, err
	}
	if err := writeReassignment(ctx, tx, t.id, &ev); err != nil {
		return schemas.FeedbackEvent{}, err
	}
	return ev, nil
}

// Validate returns an error wrapping ErrInvalidReassign that names the
// first invalid field of req.
func (req *ReassignRequest) Validate() error {
	switch {
	case req.Tenant == "":
		return fmt.Errorf("%w: missing tenant: name the tenant that owns the ticket", ErrInvalidReassign)
	case req.TicketRef == "":
		return fmt.Errorf("%w: missing ticket reference: pass the ticket's reference, such as T-0123456789", ErrInvalidReassign)
	case len(req.Queue) > maxQueueName || !queueName.MatchString(req.Queue):
		return fmt.Errorf("%w: invalid queue %q: use 1 to %d lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
			ErrInvalidReassign, req.Queue, maxQueueName)
	case req.Priority != "" && !slices.Contains(processors.Priorities, req.Priority):
		return fmt.Errorf("%w: invalid priority %q: use one of %s, or leave it empty to keep the ticket's priority",
			ErrInvalidReassign, req.Priority, strings.Join(processors.Priorities, ", "))
	case strings.TrimSpace(req.Actor) == "":
		return fmt.Errorf("%w: missing actor: name the operator, or api:TOKEN-ID for the ticket API", ErrInvalidReassign)
	case strings.Contains(req.Actor, "@"):
		// The actor is not echoed, since it looks like an address.
		return fmt.Errorf("%w: the actor looks like an email address: name the operator instead, because feedback events must not carry addresses", ErrInvalidReassign)
	case req.Source != schemas.FeedbackSourceCLI && req.Source != schemas.FeedbackSourceAPI && req.Source != schemas.FeedbackSourceStore:
		return fmt.Errorf("%w: invalid source %q: use %s, %s or %s", ErrInvalidReassign, req.Source,
			schemas.FeedbackSourceCLI, schemas.FeedbackSourceAPI, schemas.FeedbackSourceStore)
	}
	return nil
}

// lockedTicket is the part of a tickets row that a reassignment reads.
type lockedTicket struct {
	id         int64
	externalID string // message ID of the first message
	from       schemas.Assignment
	reason     schemas.Reason
}

// lockTicket reads the ticket of tenant and ref and locks its row.
func lockTicket(ctx context.Context, tx pgx.Tx, tenant, ref string) (lockedTicket, error) {
	const query = `SELECT id, external_id, queue, priority,
			reason_kind, reason_rule_id, ruleset_version, model_version,
			reason_top_labels, reason_threshold, reason_detail
		FROM tickets WHERE tenant = $1 AND ticket_ref = $2
		FOR UPDATE`
	var t lockedTicket
	var topLabels []byte
	err := tx.QueryRow(ctx, query, tenant, ref).Scan(&t.id, &t.externalID, &t.from.Queue, &t.from.Priority,
		&t.reason.Kind, &t.reason.RuleID, &t.reason.RulesetVersion, &t.reason.ModelVersion,
		&topLabels, &t.reason.Threshold, &t.reason.Detail)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("%w: no ticket %s for tenant %s: check the reference and the tenant", ErrTicketNotFound, ref, tenant)
	}
	if err != nil {
		return t, fmt.Errorf("reading ticket %s/%s: %w", tenant, ref, err)
	}
	if err := json.Unmarshal(topLabels, &t.reason.TopLabels); err != nil {
		return t, fmt.Errorf("decoding the top labels of ticket %s/%s: %w", tenant, ref, err)
	}
	return t, nil
}

// newFeedbackEvent builds the event of a reassignment of t to to. Its
// time comes from the database clock after the ticket row was locked, so
// that later reassignments of one ticket carry later times whichever
// client made them.
func newFeedbackEvent(ctx context.Context, tx pgx.Tx, t lockedTicket, req ReassignRequest, to schemas.Assignment) (schemas.FeedbackEvent, error) {
	const earlier = `SELECT count(*), clock_timestamp() FROM ticket_events WHERE ticket_id = $1 AND kind = 'reassigned'`
	var sequence int64
	var at time.Time
	if err := tx.QueryRow(ctx, earlier, t.id).Scan(&sequence, &at); err != nil {
		return schemas.FeedbackEvent{}, fmt.Errorf("counting the reassignments of ticket %s/%s: %w", req.Tenant, req.TicketRef, err)
	}
	sequence++

	// The first message is the one the ticket was created with. Its
	// subject and text were redacted before they reached the store.
	const first = `SELECT subject, text, reply_text FROM ticket_messages
		WHERE ticket_id = $1 AND direction = 'inbound'
		ORDER BY message_id = $2 DESC, received_at, id
		LIMIT 1`
	var subject, text, replyText string
	err := tx.QueryRow(ctx, first, t.id, t.externalID).Scan(&subject, &text, &replyText)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return schemas.FeedbackEvent{}, fmt.Errorf("reading the first message of ticket %s/%s: %w", req.Tenant, req.TicketRef, err)
	}
	if strings.TrimSpace(replyText) == "" {
		replyText = text
	}

	return schemas.FeedbackEvent{
		EventID:   schemas.FeedbackEventID(req.Tenant, req.TicketRef, sequence),
		Tenant:    req.Tenant,
		TicketRef: req.TicketRef,
		MessageID: t.externalID,
		Actor:     strings.TrimSpace(req.Actor),
		Source:    req.Source,
		At:        at.UTC().Truncate(time.Millisecond),
		From:      t.from,
		To:        to,
		Reason:    t.reason,
		Subject:   subject,
		ReplyText: replyText,
	}, nil
}

// writeReassignment updates the ticket and writes the ticket event and
// the outbox row of ev.
func writeReassignment(ctx context.Context, tx pgx.Tx, ticketID int64, ev *schemas.FeedbackEvent) error {
	const update = `UPDATE tickets SET queue = $2, priority = $3, updated_at = GREATEST(updated_at, $4) WHERE id = $1`
	if _, err := tx.Exec(ctx, update, ticketID, ev.To.Queue, ev.To.Priority, ev.At); err != nil {
		return fmt.Errorf("updating ticket %s/%s: %w", ev.Tenant, ev.TicketRef, err)
	}

	payload := map[string]any{
		"from":            ev.From,
		"to":              ev.To,
		"actor":           ev.Actor,
		"source":          ev.Source,
		"feedbackEventId": ev.EventID,
	}
	if err := insertEvent(ctx, tx, ticketID, EventReassigned, ev.EventID, ev.At, payload); err != nil {
		return err
	}

	// NOTE: the value is always in single-object encoding, also where the
	// processor writes the Confluent wire format. Readers with a Serde
	// decode both.
	value, err := schemas.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding feedback event %s: %w", ev.EventID, err)
	}
	const outbox = `INSERT INTO feedback_outbox (event_id, record_key, record_value) VALUES ($1, $2, $3)`
	if _, err := tx.Exec(ctx, outbox, ev.EventID, []byte(ev.Key()), value); err != nil {
		return fmt.Errorf("writing feedback event %s to the outbox: %w", ev.EventID, err)
	}
	return nil
}

// encodeTopLabels returns the JSON of the tickets.reason_top_labels
// column.
//
// NOTE: JSON has no NaN or infinity, so such a probability is stored as 0.
func encodeTopLabels(labels []schemas.LabelScore) (string, error) {
	clean := make([]schemas.LabelScore, len(labels))
	for i, l := range labels {
		clean[i] = l
		if math.IsNaN(l.Probability) || math.IsInf(l.Probability, 0) {
			clean[i].Probability = 0
		}
	}
	body, err := json.Marshal(clean)
	return string(body), err
}
