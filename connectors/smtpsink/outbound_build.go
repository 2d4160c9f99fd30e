package smtpsink

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// BuildAgentReply encodes the agent reply msg from from. The Message-ID,
// subject, In-Reply-To and References are the ones in msg, which the
// ticket API stored on the ticket, so that the customer's reply threads
// back to it. The body is text/plain, or multipart/alternative when msg
// has HTML too. The Date is msg.CreatedAt, or now when that is zero.
//
// A person wrote the reply, so it carries neither Auto-Submitted nor
// X-Auto-Response-Suppress, and the customer's auto-responder may reply to
// it. It does carry processors.AutoReplyLoopHeader with the tenant, so
// that a mailtriage on the customer's side sends no acknowledgement back.
func BuildAgentReply(msg *schemas.OutboundMessage, from mail.Address, now time.Time) (Outgoing, error) {
	to := strings.Trim(strings.TrimSpace(msg.To.Address), "<>")
	if _, err := mail.ParseAddress(to); err != nil {
		return Outgoing{}, fmt.Errorf("invalid recipient address in agent reply %s: %w", msg.EventID, err)
	}
	messageID, ok := cleanMessageID(msg.MessageID)
	if !ok {
		return Outgoing{}, fmt.Errorf("agent reply %s has an invalid messageId: expected local@domain without white space or brackets", msg.EventID)
	}
	subject := oneLine(msg.Subject)
	if subject == "" {
		return Outgoing{}, fmt.Errorf("agent reply %s has an empty subject: the ticket reference in it threads the customer's reply, so fix the producer", msg.EventID)
	}
	if strings.TrimSpace(msg.Text) == "" && strings.TrimSpace(msg.HTML) == "" {
		return Outgoing{}, fmt.Errorf("agent reply %s has neither text nor HTML: fix the producer", msg.EventID)
	}

	date := msg.CreatedAt
	if date.IsZero() {
		date = now
	}
	builder := enmime.Builder().
		From(from.Name, from.Address).
		To(oneLine(msg.To.Name), to).
		Subject(subject).
		Date(date).
		Header("Message-ID", "<"+messageID+">").
		Header(processors.AutoReplyLoopHeader, oneLine(msg.Tenant)).
		Text([]byte(msg.Text))
	if msg.HTML != "" {
		builder = builder.HTML([]byte(msg.HTML))
	}
	if id, ok := cleanMessageID(msg.InReplyTo); ok {
		builder = builder.Header("In-Reply-To", "<"+id+">")
	}
	var refs []string
	for _, r := range msg.References {
		if id, ok := cleanMessageID(r); ok {
			refs = append(refs, "<"+id+">")
		}
	}
	if len(refs) > 0 {
		builder = builder.Header("References", strings.Join(refs, " "))
	}

	root, err := builder.Build()
	if err != nil {
		return Outgoing{}, fmt.Errorf("building agent reply %s: %w", msg.EventID, err)
	}
	var buf bytes.Buffer
	if err := root.Encode(&buf); err != nil {
		return Outgoing{}, fmt.Errorf("encoding agent reply %s: %w", msg.EventID, err)
	}
	return Outgoing{MessageID: messageID, To: to, Data: buf.Bytes()}, nil
}
