package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Kinds for TicketEvent.Kind.
const (
	// TicketEventReplied is a reply sent to the requester by a person. The
	// first one of a ticket ends its first-response time.
	TicketEventReplied = "replied"
	// TicketEventStatusChanged is a change of the ticket status;
	// TicketEvent.Status holds the new one.
	TicketEventStatusChanged = "status_changed"
	// TicketEventNote is an internal note, never sent to the requester.
	TicketEventNote = "note"
)

// Values for TicketEvent.ActorKind.
const (
	ActorAgent = "agent" // a person in a ticketing tool or the CLI
	ActorAPI   = "api"   // a client of the ticket API
)

// TicketEvent is one change that a person made to a ticket: a reply, a
// status change or a note, without the text of the reply or the note. It
// is the value of mailtriage.ticket-events.v1, keyed by Key. The automatic
// acknowledgements of the SMTP sink are not ticket events, so they never
// count as a response.
type TicketEvent struct {
	EventID   string    `json:"eventId"`
	Tenant    string    `json:"tenant"`
	TicketRef string    `json:"ticketRef"`
	Kind      string    `json:"kind"`      // one of the TicketEvent kind constants
	Status    string    `json:"status"`    // new status for TicketEventStatusChanged; empty otherwise
	ActorKind string    `json:"actorKind"` // ActorAgent or ActorAPI
	At        time.Time `json:"at"`
}

// Key returns the Kafka record key of the event: tenant/ticketRef.
func (e *TicketEvent) Key() string { return e.Tenant + "/" + e.TicketRef }

// TicketEventID derives the event ID of the sequence-th event of a ticket,
// counting from 1: the first 16 bytes of the SHA-256 of tenant, ticketRef
// and sequence, in hex. An event retried or sent twice gets the same ID.
func TicketEventID(tenant, ticketRef string, sequence int64) string {
	sum := sha256.Sum256([]byte("ticket-event\x00" + tenant + "\x00" + ticketRef + "\x00" + strconv.FormatInt(sequence, 10)))
	return hex.EncodeToString(sum[:16])
}
