package schemas

import "time"

// OutboundKindAgentReply is the OutboundMessage.Kind of a reply that an
// agent wrote.
const OutboundKindAgentReply = "agent_reply"

// OutboundMessage is a command to send one message that a person wrote,
// such as an agent's reply through the ticket API. It is the value of
// mailtriage.outbound.v1, keyed by Key.
//
// It is a contract of its own rather than a kind of AutoReply because an
// AutoReply has no body and gets its Message-ID from the SMTP sink, while
// an agent reply is stored with its body and Message-ID before it is
// sent, and must not carry the headers or count against the rate limits
// of automatic replies.
type OutboundMessage struct {
	EventID    string    `json:"eventId"` // idempotency key
	Tenant     string    `json:"tenant"`
	Kind       string    `json:"kind"` // OutboundKindAgentReply
	TicketRef  string    `json:"ticketRef"`
	MessageID  string    `json:"messageId"` // without angle brackets
	To         Address   `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"`
	InReplyTo  string    `json:"inReplyTo"`  // without angle brackets
	References []string  `json:"references"` // without angle brackets, oldest first
	Actor      string    `json:"actor"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Key returns the Kafka record key of the command: the tenant, "/" and
// the ticket reference, so that one ticket's messages stay in order.
func (m *OutboundMessage) Key() string { return m.Tenant + "/" + m.TicketRef }
