package processors

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
)

// DefaultSubjectFormat is the form of a ticket reference in the subject of
// the messages mailtriage sends, which Thread looks for in a reply:
// "[#T-XXXXXXXXXX]", with {ref} in place of the reference.
const DefaultSubjectFormat = "[#{ref}]"

// subjectRefPlaceholder is the part of a subject format that stands for
// the ticket reference.
const subjectRefPlaceholder = "{ref}"

// FormatSubjectRef returns the subject tag of ticketRef in format, a text
// with one {ref} such as DefaultSubjectFormat. An empty format means
// DefaultSubjectFormat. Auto-replies and agent replies put it in their
// subject so that the customer's reply finds the ticket.
func FormatSubjectRef(format, ticketRef string) string {
	if format == "" {
		format = DefaultSubjectFormat
	}
	return strings.Replace(format, subjectRefPlaceholder, ticketRef, 1)
}

// subjectPattern compiles the regular expression that finds a reference
// in a subject. A pattern, when set, must have exactly one capture group,
// which captures the reference with or without its "T-". Otherwise format
// is turned into a pattern: its text matched literally and {ref} matching
// "T-" and ten base32 characters, in any letter case.
func subjectPattern(format, pattern string) (*regexp.Regexp, error) {
	if pattern != "" {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("thread config: invalid SubjectPattern %q: %w", pattern, err)
		}
		if re.NumSubexp() != 1 {
			return nil, fmt.Errorf("thread config: SubjectPattern %q has %d capture groups: use exactly one, around the ticket reference (use (?:...) for other groups)", pattern, re.NumSubexp())
		}
		return re, nil
	}

	if format == "" {
		format = DefaultSubjectFormat
	}
	before, after, ok := strings.Cut(format, subjectRefPlaceholder)
	if !ok || strings.Contains(after, subjectRefPlaceholder) {
		return nil, fmt.Errorf("thread config: SubjectFormat %q must contain %s exactly once, e.g. %q", format, subjectRefPlaceholder, DefaultSubjectFormat)
	}
	return regexp.MustCompile(regexp.QuoteMeta(before) + `((?i:T-[0-9A-Z]{10}))` + regexp.QuoteMeta(after)), nil
}

// subjectFormatLiteral returns the longer of the texts around {ref} in
// format (DefaultSubjectFormat when empty), which the pattern that
// subjectPattern makes of it matches literally.
func subjectFormatLiteral(format string) string {
	if format == "" {
		format = DefaultSubjectFormat
	}
	before, after, _ := strings.Cut(format, subjectRefPlaceholder)
	if len(after) > len(before) {
		return after
	}
	return before
}

// findSubjectRef returns the first ticket reference that re finds in
// subject, normalized as normalizeTicketRef does.
func findSubjectRef(re *regexp.Regexp, subject string) (string, bool) {
	for _, match := range re.FindAllStringSubmatch(subject, -1) {
		if ref, ok := normalizeTicketRef(match[1]); ok {
			return ref, true
		}
	}
	return "", false
}

// ownMessageIDPrefix starts every Message-ID that NewMessageID mints.
const ownMessageIDPrefix = "mt."

// NewMessageID mints the Message-ID of a message that mailtriage sends
// about a ticket, such as an auto-reply or an agent reply:
// "mt.T-XXXXXXXXXX.RANDOM@domain", where RANDOM is 16 random Crockford
// base32 characters (80 bits). It returns the ID without angle brackets,
// as the contracts store message IDs; the Message-ID header needs them
// added. A reply whose In-Reply-To or References holds such an ID joins
// the ticket even when the thread index no longer has it.
func NewMessageID(ticketRef, domain string) (string, error) {
	if !IsTicketRef(ticketRef) {
		return "", fmt.Errorf("minting a Message-ID: invalid ticket reference %q: expected T- and 10 Crockford base32 characters as TicketRef returns", ticketRef)
	}
	if domain == "" || strings.ContainsAny(domain, "@<>()[]\\,;:\" \t\r\n") {
		return "", fmt.Errorf("minting a Message-ID: invalid domain %q: use a host name such as support.example.com", domain)
	}

	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("minting a Message-ID: reading random bytes: %w", err)
	}
	for i, b := range random {
		random[i] = crockford[b&31]
	}
	return ownMessageIDPrefix + ticketRef + "." + string(random) + "@" + domain, nil
}

// TicketRefFromMessageID returns the ticket reference that NewMessageID
// embedded in id, which may keep its angle brackets.
func TicketRefFromMessageID(id string) (string, bool) {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	rest, ok := strings.CutPrefix(id, ownMessageIDPrefix)
	if !ok || len(rest) < 2+ticketRefChars+1 {
		return "", false
	}
	ref := rest[:2+ticketRefChars]
	if rest[2+ticketRefChars] != '.' || !IsTicketRef(ref) || !strings.Contains(rest, "@") {
		return "", false
	}
	return ref, true
}
