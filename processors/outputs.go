package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// ExcerptMaxRunes is the maximum length of Notification.Excerpt in runes,
// the ellipsis included.
const ExcerptMaxRunes = 280

// Outputs builds the records for a message that went through the chain,
// with now as the decision time:
//   - a TicketCommand to topics.Tickets, key tenant/ticketRef: action
//     "append" for a follow-up (Decision.FollowUp) and "create" otherwise;
//   - a Notification to topics.Notifications, key tenant/ticketRef;
//   - a DecisionEvent to topics.Analytics, key tenant/messageId;
//   - an AutoReply to topics.AutoReplies, key tenant/recipient hash, when
//     the AutoReplyGuard set Decision.AutoReply.
//
// For a duplicate (m.Duplicate) it builds only the DecisionEvent, with
// Duplicate set. The chain stopped at dedupe, so that event has no queue
// and an empty Reason.Kind, and its Reason.Detail names the position of
// the first copy.
//
// Every EventID is a hash of the tenant, the message ID and the record
// kind, so a replay produces the same IDs and every sink upserts. A
// duplicate's event ID also covers its input position, so it neither
// overwrites the original's decision nor those of other duplicates.
//
// The Notification and DecisionEvent carry the sender's domain, never an
// address. Their subject and excerpt go through RedactText again, because
// a duplicate stops before Redact runs, and the reason detail is scrubbed
// of addresses.
func Outputs(m *Message, now time.Time) []Output {
	e := &m.Email
	decision := decisionEvent(m, now)
	if m.Duplicate {
		decision.EventID = eventID(e.Tenant, e.MessageID, "decision", "duplicate",
			m.Position.Topic, fmt.Sprint(m.Position.Partition), fmt.Sprint(m.Position.Offset))
		return []Output{{Topic: topics.Analytics, Key: e.Key(), Value: decision}}
	}

	ticketKey := e.Tenant + "/" + m.Decision.TicketRef
	outputs := []Output{
		{Topic: topics.Tickets, Key: ticketKey, Value: ticketCommand(m)},
		{Topic: topics.Notifications, Key: ticketKey, Value: notification(m)},
		{Topic: topics.Analytics, Key: e.Key(), Value: decision},
	}
	if m.Decision.AutoReply {
		outputs = append(outputs, autoReplyOutput(m, now))
	}
	return outputs
}

func ticketCommand(m *Message) schemas.TicketCommand {
	e, d := &m.Email, &m.Decision
	action := "create"
	if d.FollowUp {
		action = "append"
	}
	cmd := schemas.TicketCommand{
		EventID:       eventID(e.Tenant, e.MessageID, "ticket"),
		Tenant:        e.Tenant,
		Action:        action,
		TicketRef:     d.TicketRef,
		MessageID:     e.MessageID,
		Queue:         d.Queue,
		Priority:      d.Priority,
		Tags:          slices.Clone(d.Tags),
		Recipients:    append(slices.Clone(e.To), e.Cc...),
		Subject:       e.Subject,
		Text:          e.Text,
		ReplyText:     e.ReplyText,
		InReplyTo:     slices.Clone(e.InReplyTo),
		Attachments:   slices.Clone(e.Attachments),
		Raw:           e.Raw,
		ReceivedAt:    e.ReceivedAt,
		Reason:        d.Reason,
		SkipAutoReply: d.SkipAutoReply,
	}
	cmd.LinkedTicketRef = d.LinkedTicketRef
	if e.From != nil {
		cmd.Requester = *e.From
	}
	return cmd
}

func notification(m *Message) schemas.Notification {
	e, d := &m.Email, &m.Decision
	body := e.ReplyText
	if strings.TrimSpace(body) == "" {
		body = e.Text
	}
	return schemas.Notification{
		EventID:      eventID(e.Tenant, e.MessageID, "notification"),
		Tenant:       e.Tenant,
		Channel:      "slack",
		TicketRef:    d.TicketRef,
		Queue:        d.Queue,
		Priority:     d.Priority,
		SenderDomain: senderDomain(e),
		Subject:      redactForSharing(e.Subject),
		Excerpt:      sharedExcerpt(m, body),
		ReceivedAt:   e.ReceivedAt,
	}
}

func decisionEvent(m *Message, now time.Time) schemas.DecisionEvent {
	e, d := &m.Email, &m.Decision
	reason := d.Reason
	reason.Detail = scrubAddresses(reason.Detail)
	return schemas.DecisionEvent{
		EventID:      eventID(e.Tenant, e.MessageID, "decision"),
		Tenant:       e.Tenant,
		MessageID:    e.MessageID,
		TicketRef:    d.TicketRef,
		Queue:        d.Queue,
		Priority:     d.Priority,
		Tags:         slices.Clone(d.Tags),
		Reason:       reason,
		Duplicate:    m.Duplicate,
		FollowUp:     d.FollowUp,
		PII:          maps.Clone(e.PII),
		Source:       e.Source,
		SenderDomain: senderDomain(e),
		Subject:      redactForSharing(e.Subject),
		Attachments:  int32(len(e.Attachments)),
		Warnings:     int32(len(e.Warnings)),
		ReceivedAt:   e.ReceivedAt,
		DecidedAt:    now,
	}
}

// sharedExcerpt returns the excerpt of body for chat. When Redact ran, the
// body is redacted already, so only the excerpt is redacted again (white
// space collapsed by the excerpt can join digits into a new item), and cut
// again in case a placeholder came out longer than what it replaced.
// Otherwise the whole body is redacted first.
func sharedExcerpt(m *Message, body string) string {
	if !m.Redacted {
		return excerpt(redactForSharing(body), ExcerptMaxRunes)
	}
	return excerpt(redactForSharing(excerpt(body, ExcerptMaxRunes)), ExcerptMaxRunes)
}

// redactForSharing redacts text bound for chat or analytics. On text that
// Redact already handled it changes nothing.
func redactForSharing(s string) string {
	out, _ := RedactText(s)
	return out
}

// eventID returns the hex SHA-256 of parts joined by "/".
func eventID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

// senderDomain returns the lower-case domain of the From address, or "".
func senderDomain(e *schemas.InboundEmail) string {
	if e.From == nil {
		return ""
	}
	addr := strings.Trim(strings.TrimSpace(e.From.Address), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(addr[at+1:])
}

// excerpt collapses white space in s and cuts it to at most maxRunes runes,
// at a word boundary when one is near, ending with "…" when cut.
func excerpt(s string, maxRunes int) string {
	s, cut := collapseSpace(s, maxRunes)
	if !cut {
		return s
	}
	runes := []rune(s)[:maxRunes-1]
	short := string(runes)
	// Prefer ending at a space in the last fifth rather than mid-word.
	if i := strings.LastIndexByte(short, ' '); i > len(short)*4/5 {
		short = short[:i]
	}
	return strings.TrimRight(short, " ") + "…"
}

// collapseSpace joins the words of s with single spaces, as
// strings.Join(strings.Fields(s), " ") does, but stops once the result
// holds more than maxRunes runes, and then reports that it stopped. A body
// can be megabytes long while an excerpt needs its first few hundred runes.
func collapseSpace(s string, maxRunes int) (string, bool) {
	var b strings.Builder
	runes := 0
	for word := range strings.FieldsSeq(s) {
		if runes > 0 {
			b.WriteByte(' ')
			runes++
		}
		b.WriteString(word)
		runes += utf8.RuneCountInString(word)
		if runes > maxRunes {
			return b.String(), true
		}
	}
	return b.String(), false
}
