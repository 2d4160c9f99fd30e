// Package mime parses raw RFC 5322 / MIME messages into the InboundEmail
// contract. It reads malformed mail as far as it can, repairing what enmime
// cannot (mbox separator lines, missing or mangled boundaries, parts
// without headers, header blocks without a closing blank line), and lists
// every repair and problem in Email.Warnings.
package mime

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/inbucket/html2text"

	"mailtriage/schemas"
)

// Options are the facts about a message that its bytes do not carry.
type Options struct {
	Tenant     string
	Source     string    // one of the schemas.Source* constants
	ReceivedAt time.Time // zero means time.Now()
}

// Parsed is the contract plus the decoded bytes of each attachment,
// Parts[i] belonging to Email.Attachments[i], so that the caller can store
// them in object storage and set StorageKey.
type Parsed struct {
	Email schemas.InboundEmail
	Parts [][]byte
}

// ErrNotMail is returned, wrapped with the reason, for input that holds no
// message at all.
var ErrNotMail = errors.New("input is not an email message")

// Parse parses one raw message. It does not fail on malformed MIME: it
// returns what can be read and describes each problem in Email.Warnings.
// It returns an error wrapping ErrNotMail only for empty input and for input
// with neither a readable header field nor a body.
func Parse(raw []byte, opts Options) (*Parsed, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: the input is empty; pass the raw RFC 5322 message", ErrNotMail)
	}

	raw, skipped := skipLeadingWhitespace(raw)
	parsed := parseMessage(raw, 0)
	if skipped {
		parsed.Email.Warnings = append(parsed.Email.Warnings, "blank lines or spaces before the first header field skipped")
	}
	if len(parsed.Email.Headers) == 0 && parsed.bodyEmpty {
		return nil, fmt.Errorf("%w: no header field could be read and there is no body; pass the raw RFC 5322 message", ErrNotMail)
	}

	email := &parsed.Email
	email.Tenant = opts.Tenant
	email.Source = opts.Source
	email.ReceivedAt = opts.ReceivedAt
	if email.ReceivedAt.IsZero() {
		email.ReceivedAt = time.Now().UTC()
	}
	return &parsed.Parsed, nil
}

// parsedMessage is a Parsed plus what Parse needs to decide that the input
// is not mail.
type parsedMessage struct {
	Parsed
	bodyEmpty bool
}

// parseMessage builds the contract of one message, also for attached
// messages at depth > 0. It never fails.
func parseMessage(raw []byte, depth int) parsedMessage {
	msg := splitMessage(raw)
	b := readBody(msg, depth)

	email := schemas.InboundEmail{
		Headers:     msg.Fields.decoded(),
		Subject:     decodeHeaderValue(msg.Fields.get("Subject")),
		InReplyTo:   nonNil(parseMessageIDList(msg.Fields.all("In-Reply-To"))),
		References:  nonNil(parseMessageIDList(msg.Fields.all("References"))),
		Attachments: nonNil(b.Attachments),
		Auth:        readAuth(msg.Fields),
	}
	warnings := append(msg.Warnings, b.Warnings...)

	email.MessageID, warnings = readMessageID(msg.Fields, raw, warnings)
	email.Date, warnings = readDate(msg.Fields, warnings)
	warnings = readAddresses(&email, msg.Fields, warnings)

	email.Text = joinParts(b.Texts)
	email.HTML = joinParts(b.HTMLs)
	if strings.TrimSpace(email.Text) == "" && strings.TrimSpace(email.HTML) != "" {
		email.Text, warnings = textFromHTML(email.HTML, warnings)
	}
	email.ReplyText = replyText(email.Text)
	email.Warnings = nonNil(dedupe(warnings))

	return parsedMessage{
		Parsed:    Parsed{Email: email, Parts: b.Parts},
		bodyEmpty: len(bytes.TrimSpace(msg.Body)) == 0,
	}
}

// readMessageID returns the Message-ID without angle brackets, or an ID
// synthesized from the sha256 of the raw bytes when the header is missing,
// so that the same bytes always get the same ID.
func readMessageID(fs fields, raw []byte, warnings []string) (string, []string) {
	value := decodeHeaderValue(fs.get("Message-ID"))
	if ids := parseMessageIDs(value); len(ids) > 0 {
		return ids[0], warnings
	}
	if id := strings.Trim(strings.TrimSpace(value), "<>"); id != "" {
		return id, append(warnings, "Message-ID is not in angle brackets; used as it is")
	}
	sum := sha256.Sum256(raw)
	id := "sha256-" + hex.EncodeToString(sum[:]) + "@mailtriage.invalid"
	return id, append(warnings, "Message-ID header missing; ID synthesized from the sha256 of the raw message")
}

func readDate(fs fields, warnings []string) (time.Time, []string) {
	date, warning := parseDate(fs.get("Date"))
	if warning != "" {
		warnings = append(warnings, warning)
	}
	return date, warnings
}

// readAddresses fills From, To, Cc and Reply-To. Repeated To, Cc and
// Reply-To fields are joined; of several From fields the first is used.
func readAddresses(email *schemas.InboundEmail, fs fields, warnings []string) []string {
	read := func(name string) []schemas.Address {
		var out []schemas.Address
		for _, value := range fs.all(name) {
			list, warning := parseAddressList(value)
			if warning != "" {
				warnings = append(warnings, name+": "+warning)
			}
			out = append(out, list...)
		}
		return nonNil(out)
	}

	if from := read("From"); len(from) > 0 {
		email.From = &from[0]
	}
	email.To = read("To")
	email.Cc = read("Cc")
	email.ReplyTo = read("Reply-To")
	return warnings
}

// textFromHTML derives the plain text of a message that has only HTML.
func textFromHTML(html string, warnings []string) (string, []string) {
	text, err := html2text.FromString(html)
	if err != nil {
		return "", append(warnings, fmt.Sprintf("message has only HTML and converting it to text failed: %v", err))
	}
	return text, append(warnings, "message has no text/plain part; text derived from the HTML")
}

// nonNil returns s, or an empty slice when s is nil, so that JSON holds []
// rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// dedupe removes repeated warnings, keeping the first of each, and makes
// each valid UTF-8 because enmime quotes raw header bytes in its messages.
func dedupe(items []string) []string {
	seen := make(map[string]bool, len(items))
	out := items[:0]
	for _, item := range items {
		item = strings.ToValidUTF8(item, "\uFFFD")
		if !seen[item] {
			seen[item] = true
			out = append(out, item)
		}
	}
	return out
}
