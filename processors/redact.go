package processors

import (
	"context"
	"strings"
)

// Redact replaces personal data and credentials in the subject, text, HTML,
// reply text and attachment texts of a message with typed placeholders:
// [EMAIL], [PHONE], [CARD], [IBAN], [SSN], [IP], [SECRET] and [PASSWORD].
// redact_detectors.go lists the detectors and contains the email rule.
// redact_secrets.go, redact_numbers.go and redact_phone.go contain the
// others.
//
// It adds to m.Email.PII the number of distinct values found per kind
// (email, phone, card, iban, ssn, ip, secret, password), so an address that
// appears in the text, the HTML and the reply text counts once. Running it
// again on redacted text changes nothing and adds nothing.
//
// The header addresses (From, To, Cc, Reply-To, envelope) are contract
// fields and stay as they are; Outputs keeps them out of the records for
// chat and analytics.
type Redact struct{}

// NewRedact returns a Redact.
func NewRedact() *Redact { return &Redact{} }

// Name returns "redact".
func (r *Redact) Name() string { return "redact" }

// Process redacts m.Email in place. It never fails and always continues.
func (r *Redact) Process(ctx context.Context, m *Message) (Result, error) {
	var seen piiSeen
	e := &m.Email
	st := getRedactState()
	defer st.release()

	// The reply text usually starts the text, so it goes right after it
	// and takes its index from it. The order changes no field's output.
	e.Subject = st.redact(e.Subject, &seen, false)
	e.Text = st.redact(e.Text, &seen, true)
	e.ReplyText = st.redact(e.ReplyText, &seen, false)
	e.HTML = st.redact(e.HTML, &seen, false)
	for i := range e.Attachments {
		e.Attachments[i].Text = st.redact(e.Attachments[i].Text, &seen, false)
	}

	m.Redacted = true
	if e.PII == nil {
		e.PII = map[string]int32{}
	}
	for di, n := range seen.counts {
		if n > 0 {
			e.PII[piiDetectors[di].kind] += int32(n)
		}
	}
	return Continue, nil
}

// RedactText returns s with every detected item replaced by its
// placeholder, and the number of distinct items found per kind.
func RedactText(s string) (string, map[string]int) {
	var seen piiSeen
	out := redactText(s, &seen)
	counts := map[string]int{}
	for di, n := range seen.counts {
		if n > 0 {
			counts[piiDetectors[di].kind] = n
		}
	}
	return out, counts
}

// piiSeen holds the distinct normalized values found per detector, so
// that an item found in several fields counts once.
type piiSeen struct {
	values map[piiValue]struct{}
	counts [piiDetectorCount]int
}

type piiValue struct {
	detector int // index in piiDetectors
	value    string
}

func (ps *piiSeen) add(detector int, value string) {
	if ps.values == nil {
		ps.values = make(map[piiValue]struct{}, 16)
	}
	key := piiValue{detector, value}
	if _, ok := ps.values[key]; !ok {
		ps.values[key] = struct{}{}
		ps.counts[detector]++
	}
}

// replaceMatches replaces the sorted, non-overlapping matches in s.
func replaceMatches(s string, matches []piiMatch, placeholder string) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m.start])
		b.WriteString(placeholder)
		last = m.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubAddresses replaces email addresses in s. Outputs applies it to every
// free-text field bound for chat and analytics, so no address leaks there
// even when the chain ran without Redact.
func scrubAddresses(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	ix := redactIndex{s: s, ats: appendByteOffsets(nil, s, '@')}
	matches := findEmails(nil, s, &ix)
	if len(matches) == 0 {
		return s
	}
	return replaceMatches(s, matches, "[EMAIL]")
}
