package processors

import (
	"fmt"
	"strings"
	"time"
)

// findTicket returns the ticket that m continues and how it was found, or
// "" when m starts a new conversation. The order is the one the Thread
// type comment gives.
func (t *Thread) findTicket(m *Message, now time.Time) (ref, how string, err error) {
	// Most subjects hold no reference: the literal text of the format
	// rules them out without running the regular expression.
	if t.subjectLiteral == "" || strings.Contains(m.Email.Subject, t.subjectLiteral) {
		if ref, ok := findSubjectRef(t.subject, m.Email.Subject); ok {
			return ref, "the subject reference", nil
		}
	}

	ids := threadCandidates(m.Email.InReplyTo, m.Email.References)
	for _, c := range ids {
		ref, ok, err := t.lookupMessage(m, c.id, now)
		if err != nil {
			return "", "", err
		}
		if ok {
			return ref, c.header + " in the thread index", nil
		}
	}

	for _, c := range ids {
		if ref, ok := TicketRefFromMessageID(c.id); ok {
			return ref, "our Message-ID in " + c.header, nil
		}
	}
	return "", "", nil
}

// threadCandidate is a message ID that m replies to and the header it
// came from.
type threadCandidate struct {
	id     string
	header string
}

// threadCandidates lists the message IDs of In-Reply-To, then those of
// References from the newest (the last) to the oldest, without repeats and
// at most maxThreadLookups.
func threadCandidates(inReplyTo, references []string) []threadCandidate {
	var out []threadCandidate
	seen := make(map[string]bool)
	add := func(id, header string) {
		id = strings.Trim(strings.TrimSpace(id), "<>")
		if id == "" || seen[id] || len(out) >= maxThreadLookups {
			return
		}
		seen[id] = true
		out = append(out, threadCandidate{id: id, header: header})
	}
	for _, id := range inReplyTo {
		add(id, "In-Reply-To")
	}
	for i := len(references) - 1; i >= 0; i-- {
		add(references[i], "References")
	}
	return out
}

// lookupMessage returns the ticket the index records for message id of
// m's tenant. An entry older than the TTL counts as absent.
func (t *Thread) lookupMessage(m *Message, id string, now time.Time) (string, bool, error) {
	if m.Global == nil {
		return "", false, nil
	}
	key := threadMessageKey(m.Email.Tenant, id)
	raw, ok := m.Global.Get(key)
	if !ok {
		return "", false, nil
	}
	entry, err := decodeMessageEntry(raw)
	if err != nil {
		return "", false, fmt.Errorf("reading thread index entry of a message of tenant %s: %w", m.Email.Tenant, err)
	}
	if now.Sub(entry.WrittenAt) >= t.ttl {
		return "", false, nil
	}
	return entry.TicketRef, true, nil
}

// ticket returns what the index holds about ticket ref of m's tenant, and
// false when it holds nothing current.
func (t *Thread) ticket(m *Message, ref string, now time.Time) (ticketEntry, bool, error) {
	if m.Global == nil {
		return ticketEntry{}, false, nil
	}
	raw, ok := m.Global.Get(threadTicketKey(m.Email.Tenant, ref))
	if !ok {
		return ticketEntry{}, false, nil
	}
	entry, err := decodeTicketEntry(raw)
	if err != nil {
		return ticketEntry{}, false, fmt.Errorf("reading thread index entry of ticket %s/%s: %w", m.Email.Tenant, ref, err)
	}
	if now.Sub(entry.WrittenAt) >= t.ttl {
		return ticketEntry{}, false, nil
	}
	return entry, true, nil
}
