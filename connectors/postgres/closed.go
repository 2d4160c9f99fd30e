package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// Policies for a follow-up to a closed ticket.
const (
	// PolicyReopen sets the closed ticket back to open and appends the
	// message to it, with a "reopened" event.
	PolicyReopen = "reopen"
	// PolicyNew opens a new ticket for the message, under the message's
	// own reference and linked to the closed ticket, with a "linked" event
	// on the closed one.
	PolicyNew = "new"
)

// Kinds of ticket_events rows that the closed-ticket policy writes.
const (
	EventReopened = "reopened"
	EventLinked   = "linked"
)

// statusClosed is the ticket status the policy applies to. A "solved" or
// "pending" ticket takes follow-ups as they come, like an open one.
const statusClosed = "closed"

// ClosedPolicy chooses, per queue, what a follow-up to a closed ticket
// does. The ticket store decides it, not the processor, because only the
// store has a ticket's current status and queue. The zero value reopens
// in every queue.
type ClosedPolicy struct {
	// Default applies to the queues that Queues does not name. Empty
	// means PolicyReopen.
	Default string
	// Queues maps a queue to PolicyReopen or PolicyNew.
	Queues map[string]string
}

// ParseClosedPolicy reads a policy in the form of the --closed-policy
// flag: comma-separated queue=policy pairs, where policy is "reopen" or
// "new" and the queue "*" sets the default, such as
// "billing=new,sales=reopen,*=reopen". An empty string is the zero value.
func ParseClosedPolicy(s string) (ClosedPolicy, error) {
	var p ClosedPolicy
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		queue, policy, ok := strings.Cut(pair, "=")
		queue, policy = strings.TrimSpace(queue), strings.TrimSpace(policy)
		if !ok || queue == "" {
			return ClosedPolicy{}, fmt.Errorf("invalid closed-ticket policy %q: use queue=%s or queue=%s, separated by commas, and *=policy for the default", pair, PolicyReopen, PolicyNew)
		}
		if policy != PolicyReopen && policy != PolicyNew {
			return ClosedPolicy{}, fmt.Errorf("invalid closed-ticket policy %q for queue %q: use %q or %q", policy, queue, PolicyReopen, PolicyNew)
		}
		if queue == "*" {
			p.Default = policy
			continue
		}
		if p.Queues == nil {
			p.Queues = make(map[string]string)
		}
		if _, dup := p.Queues[queue]; dup {
			return ClosedPolicy{}, fmt.Errorf("closed-ticket policy names queue %q twice: keep one entry", queue)
		}
		p.Queues[queue] = policy
	}
	return p, nil
}

// validate checks every policy value, for a ClosedPolicy built in code.
func (p ClosedPolicy) validate() error {
	if p.Default != "" && p.Default != PolicyReopen && p.Default != PolicyNew {
		return fmt.Errorf("postgres sink config: ClosedPolicy.Default %q is invalid: use %q or %q", p.Default, PolicyReopen, PolicyNew)
	}
	for queue, policy := range p.Queues {
		if policy != PolicyReopen && policy != PolicyNew {
			return fmt.Errorf("postgres sink config: ClosedPolicy for queue %q is %q: use %q or %q", queue, policy, PolicyReopen, PolicyNew)
		}
	}
	return nil
}

// For returns the policy of queue.
func (p ClosedPolicy) For(queue string) string {
	if policy, ok := p.Queues[queue]; ok {
		return policy
	}
	if p.Default != "" {
		return p.Default
	}
	return PolicyReopen
}

// String returns the policy in the form ParseClosedPolicy reads, queues
// sorted.
func (p ClosedPolicy) String() string {
	queues := make([]string, 0, len(p.Queues))
	for q := range p.Queues {
		queues = append(queues, q)
	}
	sort.Strings(queues)
	parts := make([]string, 0, len(queues)+1)
	for _, q := range queues {
		parts = append(parts, q+"="+p.Queues[q])
	}
	return strings.Join(append(parts, "*="+p.For("\x00")), ",")
}

// closedTicket is the row of the ticket an append targets.
type closedTicket struct {
	id       int64
	status   string
	queue    string
	priority string
}

// applyClosedPolicy handles an append to a closed ticket, before
// applyCommand writes it. It returns the command to write, which is cmd
// itself or a new ticket's command under PolicyNew, and replay=true when
// the message was applied before and nothing is left to do. For a ticket
// that is missing or not closed it returns cmd unchanged.
//
// The ticket row is locked, so an agent closing the ticket at the same
// time waits for this transaction. The replay check comes first because a
// replayed append must not reopen a ticket that was closed again since.
func applyClosedPolicy(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, at time.Time, policy ClosedPolicy) (out *schemas.TicketCommand, replay bool, err error) {
	var t closedTicket
	const lock = `SELECT id, status, queue, priority FROM tickets WHERE tenant = $1 AND ticket_ref = $2 FOR UPDATE`
	err = tx.QueryRow(ctx, lock, cmd.Tenant, cmd.TicketRef).Scan(&t.id, &t.status, &t.queue, &t.priority)
	if errors.Is(err, pgx.ErrNoRows) {
		return cmd, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the status of ticket %s/%s: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	if t.status != statusClosed {
		return cmd, false, nil
	}

	var applied bool
	const seen = `SELECT EXISTS (SELECT 1 FROM ticket_messages WHERE event_id = $1)`
	if err := tx.QueryRow(ctx, seen, cmd.EventID).Scan(&applied); err != nil {
		return nil, false, fmt.Errorf("looking up command %s: %w", cmd.EventID, err)
	}
	if applied {
		return nil, true, nil
	}

	switch policy.For(t.queue) {
	case PolicyNew:
		return linkToNewTicket(ctx, tx, cmd, t, at)
	default:
		return cmd, false, reopen(ctx, tx, cmd, t, at)
	}
}

// reopen sets ticket t back to open and records a "reopened" event.
func reopen(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, t closedTicket, at time.Time) error {
	const query = `UPDATE tickets SET status = 'open', updated_at = GREATEST(updated_at, $2) WHERE id = $1`
	if _, err := tx.Exec(ctx, query, t.id, at); err != nil {
		return fmt.Errorf("reopening ticket %s/%s: %w", cmd.Tenant, cmd.TicketRef, err)
	}
	payload := map[string]any{"messageId": cmd.MessageID, "policy": PolicyReopen, "previousStatus": t.status}
	return insertEvent(ctx, tx, t.id, EventReopened, cmd.EventID+"/"+EventReopened, at, payload)
}

// linkToNewTicket records a "linked" event on closed ticket t and returns
// the command that opens the new ticket: the message's own reference, the
// closed ticket's queue and priority, and a link to it.
func linkToNewTicket(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, t closedTicket, at time.Time) (*schemas.TicketCommand, bool, error) {
	next := *cmd
	next.TicketRef = processors.TicketRef(cmd.Tenant, cmd.MessageID)
	next.Queue, next.Priority = t.queue, t.priority
	next.LinkedTicketRef = cmd.TicketRef
	next.Reason.Detail = fmt.Sprintf("follow-up of closed ticket %s; the policy of queue %s opens a new ticket", cmd.TicketRef, t.queue)

	payload := map[string]any{"messageId": cmd.MessageID, "policy": PolicyNew, "newTicketRef": next.TicketRef}
	if err := insertEvent(ctx, tx, t.id, EventLinked, cmd.EventID+"/"+EventLinked, at, payload); err != nil {
		return nil, false, err
	}
	return &next, false, nil
}

// setLinkedTicket stores the link of a ticket that applyCommand has just
// created.
func setLinkedTicket(ctx context.Context, tx pgx.Tx, ticketID int64, cmd *schemas.TicketCommand) error {
	const query = `UPDATE tickets SET linked_ticket_ref = $2 WHERE id = $1`
	if _, err := tx.Exec(ctx, query, ticketID, cmd.LinkedTicketRef); err != nil {
		return fmt.Errorf("linking ticket %s/%s to %s: %w", cmd.Tenant, cmd.TicketRef, cmd.LinkedTicketRef, err)
	}
	return nil
}
