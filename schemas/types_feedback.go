package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Source values for FeedbackEvent.Source.
const (
	FeedbackSourceCLI   = "cli"   // mailtriage tickets reassign
	FeedbackSourceAPI   = "api"   // the ticket API
	FeedbackSourceStore = "store" // a direct change in the ticket store
)

// Assignment is the queue and priority of a ticket.
type Assignment struct {
	Queue    string `json:"queue"`
	Priority string `json:"priority"` // "low", "normal", "high" or "urgent"
}

// FeedbackEvent is a human override of a routing decision: a ticket moved
// to another queue or priority. It carries the original decision and the
// redacted text of the ticket's first message, so that it can become
// training data. It is the value of mailtriage.feedback.v1, keyed by
// Tenant + "/" + TicketRef.
type FeedbackEvent struct {
	EventID   string     `json:"eventId"`
	Tenant    string     `json:"tenant"`
	TicketRef string     `json:"ticketRef"`
	MessageID string     `json:"messageId"` // Message-ID of the ticket's first message
	Actor     string     `json:"actor"`     // operator name or "api:TOKEN-ID"; never an address
	Source    string     `json:"source"`    // one of the FeedbackSource constants
	At        time.Time  `json:"at"`
	From      Assignment `json:"from"`
	To        Assignment `json:"to"`
	Reason    Reason     `json:"reason"`    // the original decision of the first message
	Subject   string     `json:"subject"`   // redacted
	ReplyText string     `json:"replyText"` // redacted; the full text when the reply text is empty
}

// Key returns the Kafka record key of the event: tenant/ticketRef.
func (e *FeedbackEvent) Key() string { return e.Tenant + "/" + e.TicketRef }

// TrainingText returns the text a classifier learns from: the subject and
// the reply text, separated by a newline, either left out when empty.
func (e *FeedbackEvent) TrainingText() string {
	subject := strings.TrimSpace(e.Subject)
	body := strings.TrimSpace(e.ReplyText)
	switch {
	case subject == "":
		return body
	case body == "":
		return subject
	}
	return subject + "\n" + body
}

// FeedbackEventID derives the event ID of the sequence-th reassignment of
// a ticket, counting from 1: the first 16 bytes of the SHA-256 of tenant,
// ticketRef and sequence, in hex. A reassignment retried or sent twice
// gets the same ID.
func FeedbackEventID(tenant, ticketRef string, sequence int64) string {
	sum := sha256.Sum256([]byte("feedback\x00" + tenant + "\x00" + ticketRef + "\x00" + strconv.FormatInt(sequence, 10)))
	return hex.EncodeToString(sum[:16])
}
