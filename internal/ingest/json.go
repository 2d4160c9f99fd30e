package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/inbucket/html2text"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// FieldError is returned by FromJSON for a payload field that is missing,
// has the wrong JSON type or an invalid value. Field is the JSON path, such
// as "from" or "attachments[2].size".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %v", e.Field, e.Err) }

func (e *FieldError) Unwrap() error { return e.Err }

// jsonPayload is the inbound-parsing payload that FromJSON reads. Every
// field is kept raw, because several accept more than one JSON shape and
// each error must name its field. Other keys are ignored, so that a
// provider adding fields does not break the webhook.
type jsonPayload struct {
	MessageID   json.RawMessage `json:"messageId"`
	ThreadID    json.RawMessage `json:"threadId"`
	From        json.RawMessage `json:"from"`
	To          json.RawMessage `json:"to"`
	Cc          json.RawMessage `json:"cc"`
	ReplyTo     json.RawMessage `json:"replyTo"`
	Subject     json.RawMessage `json:"subject"`
	Text        json.RawMessage `json:"text"`
	HTML        json.RawMessage `json:"html"`
	Headers     json.RawMessage `json:"headers"`
	Attachments json.RawMessage `json:"attachments"`
	SpamVerdict json.RawMessage `json:"spamVerdict"`
	DKIM        json.RawMessage `json:"dkim"`
	SPF         json.RawMessage `json:"spf"`
	DMARC       json.RawMessage `json:"dmarc"`
	ReceivedAt  json.RawMessage `json:"receivedAt"`
}

// jsonAttachment is one element of the attachments array.
type jsonAttachment struct {
	Filename    json.RawMessage `json:"filename"`
	ContentType json.RawMessage `json:"contentType"`
	Size        json.RawMessage `json:"size"`
	ContentID   json.RawMessage `json:"contentId"`
	DownloadURL json.RawMessage `json:"downloadUrl"`
	SHA256      json.RawMessage `json:"sha256"`
}

// FromJSON maps the JSON payload of an inbound-parsing service to the
// inbound record of tenant, with Source schemas.SourceWebhookJSON.
//
// The payload is an object with the keys messageId, threadId, from, to, cc,
// replyTo, subject, text, html, headers, attachments, spamVerdict, dkim,
// spf, dmarc and receivedAt. Other keys are ignored, and null counts as
// absent. An address is a string such as "Ana <ana@example.org>" or an
// object {"name", "address"}; to, cc and replyTo take one address, a
// comma-separated string or an array of either form. headers is an object
// whose values are strings or arrays of strings, or an array of {"name",
// "value"} objects, and keeps its order and repeats. receivedAt is an RFC
// 3339 string or unix seconds; when it is absent, the record gets
// receivedAt, the time the gateway received the request.
//
// A missing messageId is taken from the Message-ID header, or else
// synthesized from the SHA-256 of the payload, so that the same payload
// always gets the same ID. In-Reply-To, References and Date come from the
// headers. Attachments carry metadata only: StorageKey is empty and a
// warning names each attachment whose bytes were not fetched. Text, HTML
// and ReplyText longer than MaxTextBytes are cut with a warning.
//
// An invalid payload returns a *FieldError naming the field, or an error
// saying the payload is not a JSON object.
func FromJSON(payload []byte, tenant string, receivedAt time.Time) (*schemas.InboundEmail, error) {
	email, urls, err := FromJSONWithDownloads(payload, tenant, receivedAt)
	if err != nil {
		return nil, err
	}
	for i := range email.Attachments {
		if _, ok := urls[i]; ok {
			email.Warnings = append(email.Warnings, fmt.Sprintf("attachment %q not fetched: downloadUrl streaming is not configured",
				attachmentName(email.Attachments[i], fmt.Sprintf("attachments[%d]", i))))
		}
	}
	return email, nil
}

// FromJSONWithDownloads maps payload as FromJSON does and also returns the
// downloadUrl of each attachment that has one, keyed by its index in
// Attachments, for FetchAttachments. It adds no warning for those
// attachments, because FetchAttachments reports each download that fails.
func FromJSONWithDownloads(payload []byte, tenant string, receivedAt time.Time) (*schemas.InboundEmail, map[int]string, error) {
	if err := ValidateTenant(tenant); err != nil {
		return nil, nil, err
	}
	var p jsonPayload
	if err := decodeObject(payload, &p); err != nil {
		return nil, nil, err
	}

	email := &schemas.InboundEmail{
		Tenant:     tenant,
		Source:     schemas.SourceWebhookJSON,
		ReceivedAt: receivedAt.UTC(),
	}
	d := &jsonDecoder{email: email, urls: make(map[int]string)}
	d.readIdentity(&p)
	d.readAddresses(&p)
	d.readBody(&p)
	d.readHeaders(p.Headers)
	d.readAttachments(p.Attachments)
	d.readAuth(&p)
	d.readReceivedAt(p.ReceivedAt)
	if d.err != nil {
		return nil, nil, d.err
	}

	d.completeFromHeaders(payload)
	d.cutTexts()
	fillEmptyLists(email)
	return email, d.urls, nil
}

// ValidateTenant checks that tenant can start a record key: it is
// non-empty and contains no "/" and no white space.
func ValidateTenant(tenant string) error {
	switch {
	case tenant == "":
		return errors.New("the tenant is empty: name the tenant the message belongs to")
	case strings.Contains(tenant, "/"):
		return fmt.Errorf("invalid tenant %q: a tenant must not contain \"/\" because it starts the record key tenant/messageId", tenant)
	case strings.IndexFunc(tenant, unicode.IsSpace) >= 0:
		return fmt.Errorf("invalid tenant %q: a tenant must not contain white space", tenant)
	}
	return nil
}

// decodeObject decodes payload into p and turns the errors of
// encoding/json into messages that state what to send instead.
func decodeObject(payload []byte, p *jsonPayload) error {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return errors.New("the payload is empty: send a JSON object with at least from and text or html")
	}
	if trimmed[0] != '{' {
		return errors.New("the payload is not a JSON object: send an object such as {\"messageId\": …, \"from\": …}")
	}

	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(p); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return fmt.Errorf("the payload is not valid JSON at byte %d: %v", syntax.Offset, err)
		}
		return fmt.Errorf("the payload is not valid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("the payload has data after the JSON object: send exactly one object")
	}
	return nil
}

// jsonDecoder fills email field by field and keeps the first error, so
// that the read* methods need no error plumbing of their own.
type jsonDecoder struct {
	email *schemas.InboundEmail
	err   error
	// urls maps the index of each attachment in email.Attachments to its
	// downloadUrl, for the attachments that have one.
	urls map[int]string
}

func (d *jsonDecoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &FieldError{Field: field, Err: err}
	}
}

func (d *jsonDecoder) warn(format string, args ...any) {
	d.email.Warnings = append(d.email.Warnings, fmt.Sprintf(format, args...))
}

// str decodes an optional string field.
func (d *jsonDecoder) str(field string, raw json.RawMessage) string {
	s, err := decodeString(raw)
	if err != nil {
		d.fail(field, err)
	}
	return s
}

func (d *jsonDecoder) readIdentity(p *jsonPayload) {
	d.email.MessageID = trimMessageID(d.str("messageId", p.MessageID))
	d.email.ThreadID = strings.TrimSpace(d.str("threadId", p.ThreadID))
}

func (d *jsonDecoder) readAddresses(p *jsonPayload) {
	from, err := decodeAddresses(p.From, false)
	if err != nil {
		d.fail("from", err)
	}
	if len(from) > 0 {
		d.email.From = &from[0]
	}

	lists := []struct {
		field string
		raw   json.RawMessage
		dst   *[]schemas.Address
	}{
		{"to", p.To, &d.email.To},
		{"cc", p.Cc, &d.email.Cc},
		{"replyTo", p.ReplyTo, &d.email.ReplyTo},
	}
	for _, l := range lists {
		list, err := decodeAddresses(l.raw, true)
		if err != nil {
			var item *itemError
			if errors.As(err, &item) {
				d.fail(fmt.Sprintf("%s[%d]", l.field, item.index), item.err)
				continue
			}
			d.fail(l.field, err)
		}
		*l.dst = list
	}
}

func (d *jsonDecoder) readBody(p *jsonPayload) {
	d.email.Subject = d.str("subject", p.Subject)
	d.email.Text = d.str("text", p.Text)
	d.email.HTML = d.str("html", p.HTML)

	if strings.TrimSpace(d.email.Text) == "" && strings.TrimSpace(d.email.HTML) != "" {
		text, err := html2text.FromString(d.email.HTML)
		if err != nil {
			d.warn("the payload has only html and converting it to text failed: %v", err)
		} else {
			d.email.Text = text
			d.warn("the payload has no text; text derived from the html")
		}
	}
	d.email.ReplyText = mime.ReplyText(d.email.Text)
}

func (d *jsonDecoder) readHeaders(raw json.RawMessage) {
	headers, err := decodeHeaders(raw)
	if err != nil {
		var item *itemError
		if errors.As(err, &item) {
			d.fail(fmt.Sprintf("headers[%d]", item.index), item.err)
			return
		}
		d.fail("headers", err)
		return
	}
	d.email.Headers = headers
}

func (d *jsonDecoder) readAttachments(raw json.RawMessage) {
	if isAbsent(raw) {
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.fail("attachments", fmt.Errorf("expected an array of objects, got %s", jsonKind(raw)))
		return
	}
	for i, item := range items {
		a, url, ok := d.readAttachment(fmt.Sprintf("attachments[%d]", i), item)
		if !ok {
			return
		}
		if url != "" {
			d.urls[len(d.email.Attachments)] = url
		}
		d.email.Attachments = append(d.email.Attachments, a)
	}
}

// readAttachment maps one attachment object and returns its downloadUrl,
// which the record does not carry: FetchAttachments streams the bytes into
// object storage and sets StorageKey instead.
func (d *jsonDecoder) readAttachment(field string, raw json.RawMessage) (schemas.Attachment, string, bool) {
	var in jsonAttachment
	if err := json.Unmarshal(raw, &in); err != nil {
		d.fail(field, fmt.Errorf("expected an object with filename, contentType, size, contentId and downloadUrl, got %s", jsonKind(raw)))
		return schemas.Attachment{}, "", false
	}

	a := schemas.Attachment{
		Filename:  d.str(field+".filename", in.Filename),
		ContentID: trimMessageID(d.str(field+".contentId", in.ContentID)),
	}
	a.ContentType = d.mediaType(field+".contentType", d.str(field+".contentType", in.ContentType))
	a.Size = d.size(field+".size", in.Size)
	a.SHA256 = d.digest(field+".sha256", d.str(field+".sha256", in.SHA256))
	a.Inline = a.ContentID != "" && strings.Contains(d.email.HTML, "cid:"+a.ContentID)
	downloadURL := d.str(field+".downloadUrl", in.DownloadURL)
	if d.err != nil {
		return schemas.Attachment{}, "", false
	}

	if downloadURL == "" {
		d.warn("attachment %q not fetched: the payload has no downloadUrl for it", attachmentName(a, field))
	}
	return a, downloadURL, true
}

func attachmentName(a schemas.Attachment, field string) string {
	if a.Filename != "" {
		return a.Filename
	}
	return field
}

func (d *jsonDecoder) readAuth(p *jsonPayload) {
	d.email.Auth.Spam = d.spamVerdict(p.SpamVerdict)
	d.email.Auth.DKIM = d.verdict("dkim", p.DKIM)
	d.email.Auth.SPF = d.verdict("spf", p.SPF)
	d.email.Auth.DMARC = d.verdict("dmarc", p.DMARC)
}

func (d *jsonDecoder) readReceivedAt(raw json.RawMessage) {
	t, err := decodeTime(raw)
	if err != nil {
		d.fail("receivedAt", err)
		return
	}
	if !t.IsZero() {
		d.email.ReceivedAt = t.UTC()
	}
}

// completeFromHeaders fills what the payload fields left empty from the
// headers: the message ID, In-Reply-To, References and Date.
func (d *jsonDecoder) completeFromHeaders(payload []byte) {
	e := d.email
	if e.MessageID == "" {
		e.MessageID = trimMessageID(headerValue(e.Headers, "Message-ID"))
	}
	if e.MessageID == "" {
		sum := sha256.Sum256(payload)
		e.MessageID = "sha256-" + hex.EncodeToString(sum[:]) + "@mailtriage.invalid"
		d.warn("the payload has no messageId and no Message-ID header; ID synthesized from the sha256 of the payload")
	}

	e.InReplyTo = messageIDList(headerValues(e.Headers, "In-Reply-To"))
	e.References = messageIDList(headerValues(e.Headers, "References"))
	if date := headerValue(e.Headers, "Date"); date != "" {
		parsed, err := parseDate(date)
		if err != nil {
			d.warn("Date header %q is not an RFC 5322 date; date left empty", date)
		} else {
			e.Date = parsed.UTC()
		}
	}
}

// cutTexts applies MaxTextBytes to the body fields. The JSON payload is not
// stored, so the warning states that the rest is lost.
func (d *jsonDecoder) cutTexts() {
	cut := func(field string, value *string) {
		original := len(*value)
		if original <= MaxTextBytes {
			return
		}
		*value = truncateUTF8(*value, MaxTextBytes)
		d.warn("%s truncated from %d to %d bytes; the JSON payload is not stored, so the rest is lost", field, original, len(*value))
	}
	cut("text", &d.email.Text)
	cut("html", &d.email.HTML)
	cut("replyText", &d.email.ReplyText)
}

// fillEmptyLists replaces nil slices with empty ones, as mime.Parse does,
// so that the JSON form of a record has [] rather than null.
func fillEmptyLists(e *schemas.InboundEmail) {
	e.To = orEmpty(e.To)
	e.Cc = orEmpty(e.Cc)
	e.ReplyTo = orEmpty(e.ReplyTo)
	e.Headers = orEmpty(e.Headers)
	e.InReplyTo = orEmpty(e.InReplyTo)
	e.References = orEmpty(e.References)
	e.Attachments = orEmpty(e.Attachments)
	e.Warnings = orEmpty(e.Warnings)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
