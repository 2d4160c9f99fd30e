package processors

import (
	"slices"
	"strings"
	"time"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// maxReplyReferences bounds the References of an acknowledgement. A long
// thread keeps its first message ID and the most recent ones, as RFC 5322
// section 3.6.4 allows.
const maxReplyReferences = 20

// autoReplyOutput builds the AutoReply command for m, bound for
// topics.AutoReplies under its recipient key.
func autoReplyOutput(m *Message, now time.Time) Output {
	cmd := AutoReplyCommand(m, now)
	return Output{Topic: topics.AutoReplies, Key: cmd.Key(), Value: cmd}
}

// AutoReplyCommand builds the acknowledgement command of a message that
// the guard cleared, with now as the decision time. Its EventID is a hash
// of the tenant, the message ID and the kind, so a replay yields the same
// idempotency key and the SMTP sink sends it once. It carries no body text
// of the inbound message.
func AutoReplyCommand(m *Message, now time.Time) schemas.AutoReply {
	e, d := &m.Email, &m.Decision
	cmd := schemas.AutoReply{
		EventID:    eventID(e.Tenant, e.MessageID, "autoreply", schemas.AutoReplyAcknowledgement),
		Tenant:     e.Tenant,
		Kind:       schemas.AutoReplyAcknowledgement,
		TicketRef:  d.TicketRef,
		Queue:      d.Queue,
		Subject:    e.Subject,
		InReplyTo:  e.MessageID,
		References: replyReferences(e.References, e.MessageID),
		ReceivedAt: e.ReceivedAt,
		DecidedAt:  now,
	}
	if to := AutoReplyRecipient(e); to != nil {
		cmd.To = schemas.Address{Name: to.Name, Address: strings.Trim(strings.TrimSpace(to.Address), "<>")}
	}
	return cmd
}

// replyReferences returns the References of a reply: those of the parent,
// then the parent's message ID, without repeats, at most
// maxReplyReferences long.
func replyReferences(parent []string, parentID string) []string {
	refs := make([]string, 0, len(parent)+1)
	for _, id := range append(slices.Clone(parent), parentID) {
		if id != "" && !slices.Contains(refs, id) {
			refs = append(refs, id)
		}
	}
	if len(refs) > maxReplyReferences {
		refs = append(refs[:1], refs[len(refs)-maxReplyReferences+1:]...)
	}
	return refs
}
