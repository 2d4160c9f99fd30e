package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
)

// maxRefLength bounds a ticket reference in a path; a longer one cannot
// exist.
const maxRefLength = 128

// queryer runs queries; *pgxpool.Pool and pgx.Tx implement it.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// findTicket reads the ticket ref of tenant and its row ID, with the row
// locked when lock is set. A ticket of another tenant is not found.
func findTicket(ctx context.Context, db queryer, tenant, ref string, lock bool) (Ticket, int64, error) {
	if ref == "" || len(ref) > maxRefLength {
		return Ticket{}, 0, errTicketNotFound(ref)
	}
	query := "SELECT " + ticketColumns + ", t.id FROM tickets t WHERE t.tenant = $1 AND t.ticket_ref = $2"
	if lock {
		query += " FOR UPDATE"
	}
	var id int64
	t, err := scanTicket(db.QueryRow(ctx, query, tenant, ref), &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ticket{}, 0, errTicketNotFound(ref)
	}
	if err != nil {
		return Ticket{}, 0, fmt.Errorf("reading ticket %s/%s: %w", tenant, ref, err)
	}
	return t, id, nil
}

// showTicket serves GET /v1/tickets/{ref}: the ticket with its messages
// and events, oldest first.
func (s *Server) showTicket(w http.ResponseWriter, r *http.Request, tok *Token) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	t, id, err := findTicket(ctx, s.cfg.Pool, tok.Tenant, ref, false)
	if err != nil {
		s.fail(w, r, tok, err)
		return
	}
	detail := TicketDetail{Ticket: t}
	if detail.Messages, err = readMessages(ctx, s.cfg.Pool, id); err != nil {
		s.fail(w, r, tok, fmt.Errorf("reading the messages of ticket %s/%s: %w", tok.Tenant, ref, err))
		return
	}
	if detail.Events, err = readEvents(ctx, s.cfg.Pool, id); err != nil {
		s.fail(w, r, tok, fmt.Errorf("reading the events of ticket %s/%s: %w", tok.Tenant, ref, err))
		return
	}
	writeJSON(w, http.StatusOK, detail)
}

func readMessages(ctx context.Context, db queryer, ticketID int64) ([]Message, error) {
	const query = `SELECT message_id, direction, subject, text, reply_text, html, author, attachments, received_at
		FROM ticket_messages WHERE ticket_id = $1 ORDER BY received_at, id`
	rows, err := db.Query(ctx, query, ticketID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Message, error) {
		var m Message
		err := row.Scan(&m.MessageID, &m.Direction, &m.Subject, &m.Text, &m.ReplyText, &m.HTML, &m.Author, &m.Attachments, &m.ReceivedAt)
		m.ReceivedAt = m.ReceivedAt.UTC()
		return m, err
	})
}

func readEvents(ctx context.Context, db queryer, ticketID int64) ([]Event, error) {
	const query = `SELECT event_id, kind, at, payload FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id`
	rows, err := db.Query(ctx, query, ticketID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.EventID, &e.Kind, &e.At, &e.Payload)
		e.At = e.At.UTC()
		return e, err
	})
}
