package ticketapi

import (
	"encoding/json"
	"time"
)

// Ticket is a ticket as the API returns it.
type Ticket struct {
	Ref       string    `json:"ref"`
	Status    string    `json:"status"`
	Queue     string    `json:"queue"`
	Priority  string    `json:"priority"`
	Tags      []string  `json:"tags"`
	Requester Requester `json:"requester"`
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// FirstResponseAt is the time of the first agent reply; nil until an
	// agent replies.
	FirstResponseAt *time.Time `json:"firstResponseAt"`
	// LinkedTicketRef is the earlier ticket this one is linked to.
	LinkedTicketRef string `json:"linkedTicketRef,omitempty"`
}

// Requester is the mailbox that opened a ticket.
type Requester struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Message is one message of a ticket: inbound mail or an agent reply.
type Message struct {
	MessageID   string          `json:"messageId"`
	Direction   string          `json:"direction"` // inbound or outbound
	Subject     string          `json:"subject"`
	Text        string          `json:"text"`
	ReplyText   string          `json:"replyText,omitempty"`
	HTML        string          `json:"html,omitempty"`
	Author      string          `json:"author,omitempty"` // api:TOKEN-NAME for an agent reply
	Attachments json.RawMessage `json:"attachments"`
	ReceivedAt  time.Time       `json:"receivedAt"`
}

// Event is one ticket event, oldest first in a TicketDetail.
type Event struct {
	EventID string          `json:"eventId"`
	Kind    string          `json:"kind"`
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload"`
}

// TicketDetail is the response of GET /v1/tickets/{ref}.
type TicketDetail struct {
	Ticket
	Messages []Message `json:"messages"`
	Events   []Event   `json:"events"`
}

// TicketList is the response of GET /v1/tickets.
type TicketList struct {
	Tickets []Ticket `json:"tickets"`
	// NextCursor fetches the next page as the cursor parameter; empty on
	// the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// ChangeResult is the response of a POST: the ticket after the change and
// the event it recorded. Message is set for a reply.
type ChangeResult struct {
	Ticket  Ticket   `json:"ticket"`
	Event   Event    `json:"event"`
	Message *Message `json:"message,omitempty"`
}

// ticketColumns are the tickets columns that scanTicket reads, in order.
const ticketColumns = `t.ticket_ref, t.status, t.queue, t.priority, t.tags, t.requester_name, t.requester_address,
	t.subject, t.created_at, t.updated_at, t.first_response_at, t.linked_ticket_ref`

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanTicket reads the ticketColumns of row, then extra.
func scanTicket(row scanner, extra ...any) (Ticket, error) {
	var t Ticket
	dest := []any{&t.Ref, &t.Status, &t.Queue, &t.Priority, &t.Tags, &t.Requester.Name, &t.Requester.Address,
		&t.Subject, &t.CreatedAt, &t.UpdatedAt, &t.FirstResponseAt, &t.LinkedTicketRef}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return t, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if t.FirstResponseAt != nil {
		at := t.FirstResponseAt.UTC()
		t.FirstResponseAt = &at
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return t, nil
}
