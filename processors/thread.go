package processors

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// DefaultThreadTTL is how long a thread index entry counts when
// ThreadConfig.TTL is zero: 90 days, as long as the thread index topic
// keeps a record (topics.ThreadIndexRetention).
const DefaultThreadTTL = 90 * 24 * time.Hour

// maxThreadLookups bounds the message IDs of In-Reply-To and References
// that Thread looks up for one message.
const maxThreadLookups = 50

// ThreadConfig configures Thread.
type ThreadConfig struct {
	// SubjectFormat is the form of a ticket reference in a subject, with
	// {ref} in place of the reference. Empty means DefaultSubjectFormat ("[#{ref}]").
	SubjectFormat string
	// SubjectPattern, when set, replaces SubjectFormat for finding a
	// reference: a regular expression with exactly one capture group
	// around the reference, which may leave out the "T-".
	SubjectPattern string
	// TTL is the age after which an index entry counts as absent. Zero
	// means DefaultThreadTTL (90 days); negative is invalid.
	TTL time.Duration
	// AddressSalt is mixed into the digests of participant addresses, so
	// that the index topic cannot be checked against guessed addresses.
	// Use one secret value per deployment and keep it stable: changing it
	// makes every ticket's participants unknown. Empty means no salt.
	AddressSalt string
	// Now returns the current time. Nil means time.Now; tests set it.
	Now func() time.Time
}

// Thread decides whether a message continues an existing ticket. It runs
// after Route, and looks, in this order, for:
//
//  1. a ticket reference in the subject, in SubjectFormat;
//  2. a message ID of In-Reply-To, then of References from the newest,
//     that the thread index maps to a ticket;
//  3. a message ID of In-Reply-To or References that mailtriage minted
//     with NewMessageID, which carries its ticket reference.
//
// A message found to continue ticket R is a follow-up: Decision.FollowUp
// is set, Decision.TicketRef becomes R, and Outputs emits an "append"
// command. Its queue and priority are the ones R was opened with when the
// index still holds R, in place of the classification. The ticket sink
// never changes a ticket's queue or priority on an append, so agents'
// later changes stay.
//
// Sender check: R's participants are the requester, the Reply-To
// addresses and every To and Cc recipient of the messages that joined R.
// When the index lists them and the From address is not among them, the
// message opens a new ticket linked to R instead (Decision.LinkedTicketRef). When
// the index does not know R, the sender cannot be checked and the
// message joins R; the reason detail says so.
//
// An automatic reply (an Auto-Submitted header other than "no"), such as
// an out-of-office notice, never joins a ticket. It is routed like a new
// message, so it neither lands in the ticket's queue nor reopens a closed
// ticket.
//
// The index is Message.Global, a table shared by all input partitions,
// because the inbound topic is keyed by tenant/messageId and a reply
// lands on another partition than the message it answers. Thread records
// every message under its ticket and every new ticket's participants
// there. Those writes commit with the outputs in one transaction and
// reach the other instances through the table's topic.
//
// NOTE: a reply processed before the transaction that recorded the
// message it answers is visible to this instance (the original was
// processed by another instance, or in the same batch on another input
// partition, moments before) finds nothing in the index and opens a new
// ticket, unless its subject or a Message-ID minted by NewMessageID
// names the ticket. Customers reply minutes after the original at the
// earliest, while the gap is one transaction plus the table's fetch
// delay, so the race is rare and costs a separate ticket, never a lost
// message.
type Thread struct {
	subject *regexp.Regexp
	// subjectLiteral is text that every match of subject contains, such as
	// "[#" for DefaultSubjectFormat, or "" when there is none to check.
	subjectLiteral string
	ttl            time.Duration
	salt           []byte
	now            func() time.Time
}

// NewThread returns a Thread with cfg's defaults applied, or an error
// naming the invalid setting.
func NewThread(cfg ThreadConfig) (*Thread, error) {
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("thread config: TTL %v is negative: use a positive duration or 0 for the default of %v", cfg.TTL, DefaultThreadTTL)
	}
	re, err := subjectPattern(cfg.SubjectFormat, cfg.SubjectPattern)
	if err != nil {
		return nil, err
	}
	t := &Thread{subject: re, ttl: cfg.TTL, salt: []byte(cfg.AddressSalt), now: cfg.Now}
	if cfg.SubjectPattern == "" {
		t.subjectLiteral = subjectFormatLiteral(cfg.SubjectFormat)
	}
	if t.ttl == 0 {
		t.ttl = DefaultThreadTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

// Name returns "thread".
func (t *Thread) Name() string { return "thread" }

// Process sets the ticket that m belongs to, as the type comment
// describes, and records m in the thread index. It fails only on an index
// entry it cannot decode.
func (t *Thread) Process(ctx context.Context, m *Message) (Result, error) {
	e, d := &m.Email, &m.Decision
	now := t.now()
	own := TicketRef(e.Tenant, e.MessageID)
	d.TicketRef = own
	if autoSubmitted(m) {
		d.Reason.Detail = appendDetail(d.Reason.Detail, "automatic reply (Auto-Submitted), so not joined to a ticket")
		return Continue, t.recordNewTicket(m, own, now)
	}

	found, how, err := t.findTicket(m, now)
	if err != nil {
		return Continue, err
	}
	if found == "" || found == own {
		return Continue, t.recordNewTicket(m, own, now)
	}

	ticket, known, err := t.ticket(m, found, now)
	if err != nil {
		return Continue, err
	}
	if known && !t.senderTakesPart(m, &ticket) {
		d.LinkedTicketRef = found
		d.Reason.Detail = appendDetail(d.Reason.Detail, fmt.Sprintf(
			"new ticket linked to %s (found by %s): the sender is neither its requester nor one of its recipients", found, how))
		return Continue, t.recordNewTicket(m, own, now)
	}

	d.FollowUp = true
	d.TicketRef = found
	detail := fmt.Sprintf("follow-up of %s found by %s", found, how)
	if known {
		d.Queue, d.Priority = ticket.Queue, ticket.Priority
		detail += "; queue and priority of the ticket"
	} else {
		detail += "; the index does not know the ticket, so the sender was not checked"
	}
	d.Reason.Detail = appendDetail(d.Reason.Detail, detail)
	return Continue, t.recordFollowUp(m, found, ticket, known, now)
}

// senderTakesPart reports whether the From address of m is among the
// ticket's participants. A message without From never is.
func (t *Thread) senderTakesPart(m *Message, ticket *ticketEntry) bool {
	if m.Email.From == nil {
		return false
	}
	digest, ok := participantDigest(t.salt, m.Email.From.Address)
	return ok && ticket.has(digest)
}

// recordNewTicket records m as the first message of ticket ref, with m's
// sender and recipients as its participants.
func (t *Thread) recordNewTicket(m *Message, ref string, now time.Time) error {
	if m.Global == nil {
		return nil
	}
	m.Global.Put(threadMessageKey(m.Email.Tenant, m.Email.MessageID), encodeMessageEntry(messageEntry{WrittenAt: now, TicketRef: ref}))
	entry := ticketEntry{WrittenAt: now, Queue: m.Decision.Queue, Priority: m.Decision.Priority}
	entry.add(participantDigests(t.salt, &m.Email)...)
	m.Global.Put(threadTicketKey(m.Email.Tenant, ref), encodeTicketEntry(entry))
	return nil
}

// recordFollowUp records m under ticket ref, so replies to m find the
// ticket too. A known ticket's entry is written again with m's recipients
// added and a new time, which keeps an active ticket from expiring.
func (t *Thread) recordFollowUp(m *Message, ref string, ticket ticketEntry, known bool, now time.Time) error {
	if m.Global == nil {
		return nil
	}
	m.Global.Put(threadMessageKey(m.Email.Tenant, m.Email.MessageID), encodeMessageEntry(messageEntry{WrittenAt: now, TicketRef: ref}))
	if !known {
		return nil
	}
	// NOTE: two follow-ups of one ticket processed at the same time by
	// different instances each write the entry, and the later record wins,
	// so a recipient that only the other one added can be lost.
	ticket.WrittenAt = now
	ticket.add(participantDigests(t.salt, &m.Email)...)
	m.Global.Put(threadTicketKey(m.Email.Tenant, ref), encodeTicketEntry(ticket))
	return nil
}

// appendDetail joins a reason detail and one more clause.
func appendDetail(detail, clause string) string {
	if detail == "" {
		return clause
	}
	return detail + "; " + clause
}
