package ticketing

import (
	"strings"
	"time"
	"unicode/utf8"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// maxBodyRunes bounds the text of a ticket description or comment. Zendesk
// rejects comments over 64 KB; this stays below it for any script.
const maxBodyRunes = 16000

// eventMarkerPrefix starts the last line of every comment the sink posts.
// The line carries the append command's eventId, so that a lookup after a
// crash or a timeout can tell whether the comment exists.
const eventMarkerPrefix = "mailtriage-event: "

// keyMarkerPrefix starts the last line of a Jira description when no key
// field is configured, for the same lookup of a ticket.
const keyMarkerPrefix = "mailtriage-key: "

// Ticket is the content of an external ticket, built from a TicketCommand.
// It contains the redacted subject and reply text of the command and never
// its full text, attachments or raw message.
type Ticket struct {
	// Key is the idempotency key, tenant + "/" + ticketRef, that the
	// targets store in the external ticket and look it up by.
	Key       string
	EventID   string // of the command that creates the ticket
	Tenant    string
	TicketRef string
	Queue     string
	Priority  string // "low", "normal", "high" or "urgent"
	Tags      []string
	Requester schemas.Address
	// Subject is the redacted subject, "(no subject)" when empty.
	Subject string
	// Body is the redacted reply text, or the redacted text when the reply
	// text is empty.
	Body            string
	LinkedTicketRef string
	// LinkedExternalID is the external ID of LinkedTicketRef when the
	// sink created that ticket too; empty otherwise.
	LinkedExternalID string
	ReceivedAt       time.Time
	// Command is the source command, for the field mapping of the generic
	// REST target, which exposes only the fields listed in mapping.go.
	Command *schemas.TicketCommand
}

// Comment is a follow-up posted on an external ticket.
type Comment struct {
	EventID   string // of the append command; the comment's idempotency key
	Tenant    string
	TicketRef string
	// Body is the redacted reply text followed by the event marker line.
	Body    string
	Command *schemas.TicketCommand
}

// description returns the body with a line naming the linked earlier
// ticket, when there is one.
func (t *Ticket) description() string {
	if t.LinkedTicketRef == "" {
		return t.Body
	}
	line := "Follows ticket " + t.LinkedTicketRef
	if t.LinkedExternalID != "" {
		line += " (" + t.LinkedExternalID + ")"
	}
	return t.Body + "\n\n" + line
}

// IdempotencyKey returns the key of the external ticket of ticketRef.
func IdempotencyKey(tenant, ticketRef string) string { return tenant + "/" + ticketRef }

// newTicket builds the Ticket of cmd.
func newTicket(cmd *schemas.TicketCommand) *Ticket {
	subject := redact(cmd.Subject, 500)
	if subject == "" {
		subject = "(no subject)"
	}
	return &Ticket{
		Key:             IdempotencyKey(cmd.Tenant, cmd.TicketRef),
		EventID:         cmd.EventID,
		Tenant:          cmd.Tenant,
		TicketRef:       cmd.TicketRef,
		Queue:           cmd.Queue,
		Priority:        cmd.Priority,
		Tags:            cmd.Tags,
		Requester:       cmd.Requester,
		Subject:         subject,
		Body:            messageText(cmd),
		LinkedTicketRef: cmd.LinkedTicketRef,
		ReceivedAt:      cmd.ReceivedAt,
		Command:         cmd,
	}
}

// newComment builds the Comment of an append command.
func newComment(cmd *schemas.TicketCommand) *Comment {
	return &Comment{
		EventID:   cmd.EventID,
		Tenant:    cmd.Tenant,
		TicketRef: cmd.TicketRef,
		Body:      messageText(cmd) + "\n\n" + EventMarker(cmd.EventID),
		Command:   cmd,
	}
}

// EventMarker returns the last line of the comment of an append command.
func EventMarker(eventID string) string { return eventMarkerPrefix + eventID }

// KeyMarker returns the last line of a Jira description without a key
// field.
func KeyMarker(key string) string { return keyMarkerPrefix + key }

// hasLine reports whether text has a line equal to line, ignoring
// surrounding white space, so that a marker that a system reformatted
// (such as a trailing CR) still matches.
func hasLine(text, line string) bool {
	for l := range strings.Lines(text) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// messageText returns the redacted reply text of cmd, or its redacted text
// when the reply text is empty (a message that was all quote), so that
// the ticket is never blank. Both fields are redacted by the processor,
// and are redacted again here in case an address slipped past it.
func messageText(cmd *schemas.TicketCommand) string {
	text := cmd.ReplyText
	if strings.TrimSpace(text) == "" {
		text = cmd.Text
	}
	text = redact(text, maxBodyRunes)
	if text == "" {
		return "(no text)"
	}
	return text
}

// redact redacts s, trims it and cuts it to maxRunes runes.
func redact(s string, maxRunes int) string {
	s, _ = processors.RedactText(s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxRunes {
		s = string([]rune(s)[:maxRunes-1]) + "…"
	}
	return s
}
