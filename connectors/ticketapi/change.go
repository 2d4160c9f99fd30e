package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"mailtriage/connectors/postgres"
	"mailtriage/processors"
	"mailtriage/schemas"
)

// Kinds of the ticket events the API writes besides "reassigned".
const (
	EventStatusChanged = schemas.TicketEventStatusChanged
	EventNote          = schemas.TicketEventNote
	EventReplied       = schemas.TicketEventReplied
)

// maxNoteBytes bounds the text of a note.
const maxNoteBytes = 64 << 10

// queueRule describes a valid queue name, as postgres.ReassignRequest
// checks it.
const queueRule = "use 1 to 100 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"

var queuePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

func validQueue(q string) bool { return queuePattern.MatchString(q) }

// reassign serves POST /v1/tickets/{ref}/reassign through
// postgres.ReassignTx, which also writes the feedback event.
func (s *Server) reassign(ctx context.Context, tx pgx.Tx, r *http.Request, tok *Token, body []byte) (int, any, error) {
	f, apiErr := decodeObject(body, []string{"queue", "priority"})
	if apiErr != nil {
		return 0, nil, apiErr
	}
	queue, apiErr := f.text("queue", true, 100)
	if apiErr != nil {
		return 0, nil, apiErr
	}
	if !validQueue(queue) {
		return 0, nil, invalid("queue", nil, "invalid queue %q: %s", queue, queueRule)
	}
	priority, apiErr := f.oneOf("priority", false, processors.Priorities)
	if apiErr != nil {
		return 0, nil, apiErr
	}

	ref := r.PathValue("ref")
	if len(ref) > maxRefLength {
		return 0, nil, errTicketNotFound(ref)
	}
	ev, err := postgres.ReassignTx(ctx, tx, postgres.ReassignRequest{
		Tenant:    tok.Tenant,
		TicketRef: ref,
		Queue:     queue,
		Priority:  priority,
		Actor:     tok.actor(),
		Source:    schemas.FeedbackSourceAPI,
	})
	switch {
	case errors.Is(err, postgres.ErrTicketNotFound):
		return 0, nil, errTicketNotFound(ref)
	case errors.Is(err, postgres.ErrNoChange):
		t, _, err := findTicket(ctx, tx, tok.Tenant, ref, false)
		if err != nil {
			return 0, nil, err
		}
		return 0, nil, &Error{Status: http.StatusConflict, Field: "queue",
			Message: fmt.Sprintf("ticket %s is already in queue %s with priority %s: nothing changed", ref, t.Queue, t.Priority)}
	case err != nil:
		return 0, nil, err
	}
	return s.result(ctx, tx, tok, ref, http.StatusOK, ev.EventID, nil)
}

// setStatus serves POST /v1/tickets/{ref}/status.
func (s *Server) setStatus(ctx context.Context, tx pgx.Tx, r *http.Request, tok *Token, body []byte) (int, any, error) {
	f, apiErr := decodeObject(body, []string{"status"})
	if apiErr != nil {
		return 0, nil, apiErr
	}
	status, apiErr := f.oneOf("status", true, Statuses)
	if apiErr != nil {
		return 0, nil, apiErr
	}

	ref := r.PathValue("ref")
	t, id, err := findTicket(ctx, tx, tok.Tenant, ref, true)
	if err != nil {
		return 0, nil, err
	}
	if t.Status == status {
		return 0, nil, &Error{Status: http.StatusConflict, Field: "status",
			Message: fmt.Sprintf("ticket %s is already %s: nothing changed", ref, status)}
	}
	ev, err := s.recordEvent(ctx, tx, tok, id, ref, EventStatusChanged, status, map[string]any{"from": t.Status, "to": status})
	if err != nil {
		return 0, nil, err
	}
	const update = `UPDATE tickets SET status = $2, updated_at = GREATEST(updated_at, $3) WHERE id = $1`
	if _, err := tx.Exec(ctx, update, id, status, ev.At); err != nil {
		return 0, nil, fmt.Errorf("updating the status of ticket %s/%s: %w", tok.Tenant, ref, err)
	}
	return s.result(ctx, tx, tok, ref, http.StatusOK, ev.EventID, nil)
}

// addNote serves POST /v1/tickets/{ref}/notes. A note is only an event:
// it is never sent to the requester, and its TicketEvent carries no text.
func (s *Server) addNote(ctx context.Context, tx pgx.Tx, r *http.Request, tok *Token, body []byte) (int, any, error) {
	f, apiErr := decodeObject(body, []string{"text"})
	if apiErr != nil {
		return 0, nil, apiErr
	}
	text, apiErr := f.text("text", true, maxNoteBytes)
	if apiErr != nil {
		return 0, nil, apiErr
	}

	ref := r.PathValue("ref")
	_, id, err := findTicket(ctx, tx, tok.Tenant, ref, true)
	if err != nil {
		return 0, nil, err
	}
	ev, err := s.recordEvent(ctx, tx, tok, id, ref, EventNote, "", map[string]any{"text": strings.TrimSpace(text)})
	if err != nil {
		return 0, nil, err
	}
	const touch = `UPDATE tickets SET updated_at = GREATEST(updated_at, $2) WHERE id = $1`
	if _, err := tx.Exec(ctx, touch, id, ev.At); err != nil {
		return 0, nil, fmt.Errorf("updating ticket %s/%s: %w", tok.Tenant, ref, err)
	}
	return s.result(ctx, tx, tok, ref, http.StatusCreated, ev.EventID, nil)
}

// result builds the response of a change: the ticket as it is now in tx
// and the event eventID.
func (s *Server) result(ctx context.Context, tx pgx.Tx, tok *Token, ref string, status int, eventID string, msg *Message) (int, any, error) {
	t, _, err := findTicket(ctx, tx, tok.Tenant, ref, false)
	if err != nil {
		return 0, nil, err
	}
	ev, err := readEvent(ctx, tx, eventID)
	if err != nil {
		return 0, nil, err
	}
	return status, ChangeResult{Ticket: t, Event: ev, Message: msg}, nil
}
