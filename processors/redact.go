package processors

import (
	"context"
	"strings"
)

// Redact replaces personal data and credentials in the subject, text, HTML,
// reply text and attachment texts of a message with typed placeholders:
// [EMAIL], [PHONE], [CARD], [IBAN], [SSN], [IP], [SECRET] and [PASSWORD].
// The detectors and the rule each one follows are in redact_detectors.go.
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
	seen := map[string]map[string]bool{} // kind -> normalized value -> found
	e := &m.Email

	e.Subject = redactText(e.Subject, seen)
	e.Text = redactText(e.Text, seen)
	e.HTML = redactText(e.HTML, seen)
	e.ReplyText = redactText(e.ReplyText, seen)
	for i := range e.Attachments {
		e.Attachments[i].Text = redactText(e.Attachments[i].Text, seen)
	}

	if e.PII == nil {
		e.PII = map[string]int32{}
	}
	for kind, values := range seen {
		e.PII[kind] += int32(len(values))
	}
	return Continue, nil
}

// RedactText returns s with every detected item replaced by its
// placeholder, and the number of distinct items found per kind.
func RedactText(s string) (string, map[string]int) {
	seen := map[string]map[string]bool{}
	out := redactText(s, seen)
	counts := make(map[string]int, len(seen))
	for kind, values := range seen {
		counts[kind] = len(values)
	}
	return out, counts
}

// maxRedactPasses bounds the passes of redactText over one text, so that
// a text whose replacements keep forming new items cannot loop forever.
const maxRedactPasses = 4

// redactText runs every detector over s in order, again and again until a
// pass finds nothing, and records the normalized values it replaced in
// seen. A second pass finds something only where a replacement made a new
// item out of its neighbors. For example, a phone number replaced after
// the IP detector ran can leave "[PHONE]::1", an IPv6 address. And the
// word in "[PHONE]" counts as a phone label for a number right after it.
//
// The detectors read candidate offsets from a redactIndex built once per
// text and updated after each replacement, so a pass that finds nothing
// costs no scan of the text. The fixpoint stays because the examples above
// need it.
//
// NOTE: a text that still changes after maxRedactPasses passes is returned
// as it is then, and redacting it again may find more.
func redactText(s string, seen map[string]map[string]bool) string {
	if s == "" {
		return s
	}
	ix := newRedactIndex(s)
	for range maxRedactPasses {
		out := redactPass(s, seen, ix)
		if out == s {
			break
		}
		s = out
	}
	return s
}

// redactPass runs every detector over s once, in order, and keeps ix
// indexing the text each detector reads.
func redactPass(s string, seen map[string]map[string]bool, ix *redactIndex) string {
	for _, d := range piiDetectors {
		matches := dropOverlaps(d.find(s, ix))
		if len(matches) == 0 {
			continue
		}
		if seen[d.kind] == nil {
			seen[d.kind] = map[string]bool{}
		}
		s = replaceMatches(s, matches, d.placeholder, seen[d.kind])
		ix.update(s, matches, d.placeholder)
	}
	return s
}

// replaceMatches replaces the sorted, non-overlapping matches in s.
func replaceMatches(s string, matches []piiMatch, placeholder string, seen map[string]bool) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m.start])
		b.WriteString(placeholder)
		last = m.end
		seen[m.value] = true
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubAddresses replaces email addresses in s. Outputs applies it to every
// free-text field bound for chat and analytics, so no address leaks there
// even when the chain ran without Redact.
func scrubAddresses(s string) string {
	matches := findEmails(s, nil)
	if len(matches) == 0 {
		return s
	}
	return replaceMatches(s, matches, "[EMAIL]", map[string]bool{})
}
