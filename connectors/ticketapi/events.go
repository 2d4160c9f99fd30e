package ticketapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/schemas"
)

// ticketEventKey is the payload key that marks the ticket_events rows
// that were also sent as a TicketEvent; their count numbers the next one.
const ticketEventKey = "ticketEventId"

// recordEvent writes a ticket_events row of kind for the locked ticket
// and the TicketEvent of the same change to api_outbox, both under the
// ID schemas.TicketEventID derives from the ticket's count of such
// events. status is the new status of a status_changed event. The time
// comes from the database clock, as the reassignment events' time does.
func (s *Server) recordEvent(ctx context.Context, tx pgx.Tx, tok *Token, ticketID int64, ref, kind, status string, payload map[string]any) (Event, error) {
	var sequence int64
	var at time.Time
	const count = `SELECT count(*), clock_timestamp() FROM ticket_events WHERE ticket_id = $1 AND payload ? 'ticketEventId'`
	if err := tx.QueryRow(ctx, count, ticketID).Scan(&sequence, &at); err != nil {
		return Event{}, fmt.Errorf("numbering the event of ticket %s/%s: %w", tok.Tenant, ref, err)
	}
	at = at.UTC().Truncate(time.Millisecond)
	eventID := schemas.TicketEventID(tok.Tenant, ref, sequence+1)

	payload[ticketEventKey] = eventID
	payload["actor"] = tok.actor()
	body, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("encoding the payload of %s event %s: %w", kind, eventID, err)
	}
	const insert = `INSERT INTO ticket_events (ticket_id, kind, event_id, payload, at) VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.Exec(ctx, insert, ticketID, kind, eventID, string(body), at); err != nil {
		return Event{}, fmt.Errorf("inserting %s event %s: %w", kind, eventID, err)
	}

	ev := schemas.TicketEvent{
		EventID:   eventID,
		Tenant:    tok.Tenant,
		TicketRef: ref,
		Kind:      kind,
		Status:    status,
		ActorKind: schemas.ActorAPI,
		At:        at,
	}
	value, err := schemas.Marshal(&ev)
	if err != nil {
		return Event{}, fmt.Errorf("encoding ticket event %s: %w", eventID, err)
	}
	if err := writeOutbox(ctx, tx, s.cfg.TicketEventsTopic, eventID, ev.Key(), value); err != nil {
		return Event{}, err
	}
	return Event{EventID: eventID, Kind: kind, At: at, Payload: body}, nil
}

// readEvent reads one ticket_events row by its event ID.
func readEvent(ctx context.Context, tx pgx.Tx, eventID string) (Event, error) {
	var e Event
	const query = `SELECT event_id, kind, at, payload FROM ticket_events WHERE event_id = $1`
	if err := tx.QueryRow(ctx, query, eventID).Scan(&e.EventID, &e.Kind, &e.At, &e.Payload); err != nil {
		return e, fmt.Errorf("reading event %s: %w", eventID, err)
	}
	e.At = e.At.UTC()
	return e, nil
}
