package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// Bounds of an agent reply, in bytes.
const (
	maxReplyText = 256 << 10
	maxReplyHTML = 512 << 10
)

// maxReferences bounds the message IDs in the References header of a
// reply; the oldest ones are dropped first.
const maxReferences = 20

// reply serves POST /v1/tickets/{ref}/replies. In one transaction it
// stores the reply as an outbound message of the ticket, records a
// "replied" event (the first one sets first_response_at) with its
// TicketEvent, and writes the OutboundMessage command that the SMTP sink
// sends to the requester.
func (s *Server) reply(ctx context.Context, tx pgx.Tx, r *http.Request, tok *Token, body []byte) (int, any, error) {
	f, apiErr := decodeObject(body, []string{"text", "html"})
	if apiErr != nil {
		return 0, nil, apiErr
	}
	text, apiErr := f.text("text", true, maxReplyText)
	if apiErr != nil {
		return 0, nil, apiErr
	}
	html, apiErr := f.text("html", false, maxReplyHTML)
	if apiErr != nil {
		return 0, nil, apiErr
	}

	ref := r.PathValue("ref")
	t, id, err := findTicket(ctx, tx, tok.Tenant, ref, true)
	if err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(t.Requester.Address) == "" {
		return 0, nil, &Error{Status: http.StatusConflict, Field: "ref",
			Message: fmt.Sprintf("ticket %s has no requester address, so a reply cannot be sent", ref)}
	}
	messageID, err := processors.NewMessageID(ref, s.cfg.MessageIDDomain)
	if err != nil {
		return 0, nil, &Error{Status: http.StatusConflict, Field: "ref",
			Message: fmt.Sprintf("ticket %s has a reference that mailtriage did not mint, so a reply could not be threaded", ref)}
	}
	inReplyTo, references, err := threading(ctx, tx, id)
	if err != nil {
		return 0, nil, fmt.Errorf("reading the thread of ticket %s/%s: %w", tok.Tenant, ref, err)
	}

	ev, err := s.recordEvent(ctx, tx, tok, id, ref, EventReplied, "", map[string]any{
		"messageId": messageID,
		"direction": "outbound",
		"inReplyTo": inReplyTo,
	})
	if err != nil {
		return 0, nil, err
	}
	msg := Message{
		MessageID:   messageID,
		Direction:   "outbound",
		Subject:     ReplySubject(s.cfg.SubjectFormat, ref, t.Subject),
		Text:        text,
		HTML:        html,
		Author:      tok.actor(),
		Attachments: []byte("[]"),
		ReceivedAt:  ev.At,
	}
	if err := storeReply(ctx, tx, id, ev.EventID, &msg); err != nil {
		return 0, nil, fmt.Errorf("storing the reply to ticket %s/%s: %w", tok.Tenant, ref, err)
	}

	cmd := schemas.OutboundMessage{
		EventID:    ev.EventID,
		Tenant:     tok.Tenant,
		Kind:       schemas.OutboundKindAgentReply,
		TicketRef:  ref,
		MessageID:  messageID,
		To:         schemas.Address{Name: t.Requester.Name, Address: t.Requester.Address},
		Subject:    msg.Subject,
		Text:       text,
		HTML:       html,
		InReplyTo:  inReplyTo,
		References: references,
		Actor:      tok.actor(),
		CreatedAt:  ev.At,
	}
	value, err := schemas.Marshal(&cmd)
	if err != nil {
		return 0, nil, fmt.Errorf("encoding the outbound message %s: %w", cmd.EventID, err)
	}
	if err := writeOutbox(ctx, tx, s.cfg.OutboundTopic, cmd.EventID, cmd.Key(), value); err != nil {
		return 0, nil, err
	}
	return s.result(ctx, tx, tok, ref, http.StatusCreated, ev.EventID, &msg)
}

// threading returns the In-Reply-To and References of a reply on ticket
// ticketID: the last inbound message, and the message IDs of the ticket
// up to it, oldest first, at most maxReferences of them. Both are empty
// for a ticket without inbound messages.
func threading(ctx context.Context, tx pgx.Tx, ticketID int64) (string, []string, error) {
	const last = `SELECT message_id, received_at, id FROM ticket_messages
		WHERE ticket_id = $1 AND direction = 'inbound' ORDER BY received_at DESC, id DESC LIMIT 1`
	var parent string
	var parentAt time.Time
	var parentRow int64
	err := tx.QueryRow(ctx, last, ticketID).Scan(&parent, &parentAt, &parentRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}

	const earlier = `SELECT message_id FROM (
			SELECT message_id, received_at, id FROM ticket_messages
			WHERE ticket_id = $1 AND (received_at, id) <= ($2, $3)
			ORDER BY received_at DESC, id DESC LIMIT $4) recent
		ORDER BY received_at, id`
	rows, err := tx.Query(ctx, earlier, ticketID, parentAt, parentRow, maxReferences)
	if err != nil {
		return "", nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", nil, err
	}
	return parent, ids, nil
}

// storeReply inserts msg as an outbound row of ticket_messages and
// records the first response time.
func storeReply(ctx context.Context, tx pgx.Tx, ticketID int64, eventID string, msg *Message) error {
	const insert = `INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction, subject, text, html, author, received_at)
		VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $7, $8)`
	if _, err := tx.Exec(ctx, insert, ticketID, msg.MessageID, eventID, msg.Subject, msg.Text, msg.HTML, msg.Author, msg.ReceivedAt); err != nil {
		return err
	}
	const update = `UPDATE tickets SET first_response_at = COALESCE(first_response_at, $2),
		updated_at = GREATEST(updated_at, $2) WHERE id = $1`
	_, err := tx.Exec(ctx, update, ticketID, msg.ReceivedAt)
	return err
}

// ReplySubject returns the subject of an agent reply to a ticket with
// subject original: "Re: ", the ticket reference tag in format, and the
// original subject without its own "Re:" prefixes. A tag that the
// original already has is not repeated.
func ReplySubject(format, ref, original string) string {
	tag := processors.FormatSubjectRef(format, ref)
	rest := strings.TrimSpace(original)
	for {
		lower := strings.ToLower(rest)
		if !strings.HasPrefix(lower, "re:") {
			break
		}
		rest = strings.TrimSpace(rest[len("re:"):])
	}
	rest = strings.Join(strings.Fields(rest), " ")
	switch {
	case strings.Contains(rest, tag):
		return "Re: " + rest
	case rest == "":
		return "Re: " + tag
	}
	return "Re: " + tag + " " + rest
}
