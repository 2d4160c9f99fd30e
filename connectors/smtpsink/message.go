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

// Outgoing holds one reply ready for the relay.
type Outgoing struct {
	MessageID string // without angle brackets
	To        string // the RCPT TO address
	Data      []byte // the whole message, CRLF line ends
}

// BuildAcknowledgement renders cmd with templates and encodes the reply as
// a multipart/alternative message (text and HTML) from from, dated now,
// with messageID. Its headers follow RFC 3834 for automatic responses
// (Auto-Submitted: auto-replied), ask Microsoft clients for no automatic
// reply (X-Auto-Response-Suppress: All), carry the tenant in
// processors.AutoReplyLoopHeader, and thread it under the inbound message
// (In-Reply-To, References).
func BuildAcknowledgement(cmd *schemas.AutoReply, templates *Templates, from mail.Address, messageID string, now time.Time) (Outgoing, error) {
	to := strings.Trim(strings.TrimSpace(cmd.To.Address), "<>")
	if _, err := mail.ParseAddress(to); err != nil {
		return Outgoing{}, fmt.Errorf("invalid recipient address in auto-reply %s: %w", cmd.EventID, err)
	}

	rendered, err := templates.Render(TemplateData{
		Tenant:        cmd.Tenant,
		TicketRef:     cmd.TicketRef,
		Queue:         cmd.Queue,
		Subject:       oneLine(cmd.Subject),
		RequesterName: oneLine(cmd.To.Name),
	})
	if err != nil {
		return Outgoing{}, err
	}

	builder := enmime.Builder().
		From(from.Name, from.Address).
		To(oneLine(cmd.To.Name), to).
		Subject(rendered.Subject).
		Date(now).
		Header("Message-ID", "<"+messageID+">").
		Header("Auto-Submitted", "auto-replied").
		Header("X-Auto-Response-Suppress", "All").
		Header(processors.AutoReplyLoopHeader, oneLine(cmd.Tenant)).
		Text([]byte(rendered.Text)).
		HTML([]byte(rendered.HTML))
	if id, ok := cleanMessageID(cmd.InReplyTo); ok {
		builder = builder.Header("In-Reply-To", "<"+id+">")
	}
	var refs []string
	for _, r := range cmd.References {
		if id, ok := cleanMessageID(r); ok {
			refs = append(refs, "<"+id+">")
		}
	}
	if len(refs) > 0 {
		builder = builder.Header("References", strings.Join(refs, " "))
	}

	root, err := builder.Build()
	if err != nil {
		return Outgoing{}, fmt.Errorf("building auto-reply %s: %w", cmd.EventID, err)
	}
	var buf bytes.Buffer
	if err := root.Encode(&buf); err != nil {
		return Outgoing{}, fmt.Errorf("encoding auto-reply %s: %w", cmd.EventID, err)
	}
	return Outgoing{MessageID: messageID, To: to, Data: buf.Bytes()}, nil
}

// cleanMessageID returns id without angle brackets, and ok false when it
// is empty or holds characters that cannot appear in a msg-id (RFC 5322
// section 3.6.4): white space, control characters, non-ASCII, brackets.
func cleanMessageID(id string) (string, bool) {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	if id == "" {
		return "", false
	}
	for _, r := range id {
		if r <= ' ' || r >= 0x7f || r == '<' || r == '>' {
			return "", false
		}
	}
	return id, true
}

// oneLine folds white space, line breaks included, into single spaces, so
// a value cannot start a new header field.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
