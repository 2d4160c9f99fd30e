package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// AutoReplyAcknowledgement is the AutoReply.Kind of the receipt
// acknowledgement of a new ticket.
const AutoReplyAcknowledgement = "acknowledgement"

// AutoReply is a command to send one automatic reply. It carries what the
// reply's templates and headers need, never the body of the inbound
// message. It is the value of mailtriage.autoreplies.v1, keyed by Key.
type AutoReply struct {
	EventID    string    `json:"eventId"` // idempotency key
	Tenant     string    `json:"tenant"`
	Kind       string    `json:"kind"` // AutoReplyAcknowledgement
	TicketRef  string    `json:"ticketRef"`
	Queue      string    `json:"queue"`
	To         Address   `json:"to"`
	Subject    string    `json:"subject"`    // of the inbound message, redacted
	InReplyTo  string    `json:"inReplyTo"`  // Message-ID of the inbound message, without angle brackets
	References []string  `json:"references"` // without angle brackets, oldest first
	ReceivedAt time.Time `json:"receivedAt"`
	DecidedAt  time.Time `json:"decidedAt"`
}

// Key returns the Kafka record key of the command: the tenant, "/" and
// RecipientHash of the recipient. Every command for one recipient of a
// tenant lands on one partition, so the SMTP sink sees them in order.
func (a *AutoReply) Key() string { return a.Tenant + "/" + RecipientHash(a.To.Address) }

// RecipientHash returns the hex SHA-256 of address, trimmed of white space
// and angle brackets and lower-cased. Rate limits and ledgers use it so
// that they need not store the address.
func RecipientHash(address string) string {
	normalized := strings.ToLower(strings.Trim(strings.TrimSpace(address), "<>"))
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
