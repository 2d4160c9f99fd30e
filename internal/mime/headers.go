package mime

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"mailtriage/schemas"
)

// field is one header field as read from the message: its name and the
// unfolded value before RFC 2047 decoding.
type field struct {
	Name  string
	Value string
}

// fields is a header block in message order, repeats kept.
type fields []field

// get returns the first value of the named field, or "".
func (fs fields) get(name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// all returns every value of the named field in order.
func (fs fields) all(name string) []string {
	var values []string
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			values = append(values, f.Value)
		}
	}
	return values
}

// has reports whether the named field is present.
func (fs fields) has(name string) bool {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// decoded returns the header list of the contract: every field in order,
// values decoded to UTF-8.
func (fs fields) decoded() []schemas.Header {
	out := make([]schemas.Header, 0, len(fs))
	for _, f := range fs {
		out = append(out, schemas.Header{Name: f.Name, Value: decodeHeaderValue(f.Value)})
	}
	return out
}

// encodedWord matches one RFC 2047 encoded word. The text part accepts
// spaces because some mailers fail to encode them.
var encodedWord = regexp.MustCompile(`=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=`)

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeaderValue decodes RFC 2047 encoded words, raw 8-bit bytes and raw
// ISO-2022-JP escapes in a header value to UTF-8. Words that cannot be
// decoded stay as they are. Whitespace between two adjacent encoded words
// is dropped, as RFC 2047 section 6.2 requires.
func decodeHeaderValue(value string) string {
	value = decodeRawHeaderBytes(value)
	if !strings.Contains(value, "=?") {
		return value
	}

	var out strings.Builder
	last := 0
	prevWasWord := false
	for _, loc := range encodedWord.FindAllStringIndex(value, -1) {
		between := value[last:loc[0]]
		if !(prevWasWord && strings.TrimSpace(between) == "") {
			out.WriteString(between)
		}
		out.WriteString(decodeWord(value[loc[0]:loc[1]]))
		last = loc[1]
		prevWasWord = true
	}
	out.WriteString(value[last:])
	return strings.ToValidUTF8(out.String(), "\uFFFD")
}

// decodeWord decodes one encoded word, repairing the common faults first:
// spaces inside a Q word and missing base64 padding.
func decodeWord(word string) string {
	if decoded, err := wordDecoder.Decode(word); err == nil {
		return decodeRawHeaderBytes(decoded)
	}

	m := encodedWord.FindStringSubmatch(word)
	charset, kind, text := m[1], strings.ToUpper(m[2]), m[3]
	if i := strings.IndexByte(charset, '*'); i >= 0 {
		charset = charset[:i] // RFC 2231 language suffix
	}
	switch kind {
	case "Q":
		text = strings.ReplaceAll(text, " ", "_")
	case "B":
		text = strings.TrimRight(strings.ReplaceAll(text, " ", ""), "=")
		for len(text)%4 != 0 {
			text += "="
		}
	}
	repaired := "=?" + charset + "?" + kind + "?" + text + "?="
	if decoded, err := wordDecoder.Decode(repaired); err == nil {
		return decodeRawHeaderBytes(decoded)
	}
	if lookupCharset(charset) == nil {
		// Unknown charset: decode the bytes and let decodeRawHeaderBytes
		// pick the charset.
		unknown := "=?utf-8?" + kind + "?" + text + "?="
		if decoded, err := wordDecoder.Decode(unknown); err == nil {
			return decodeRawHeaderBytes(decoded)
		}
	}
	return word
}

// decodeRawHeaderBytes turns raw header bytes into UTF-8: unencoded
// ISO-2022-JP, as old Japanese mailers send it, and 8-bit text that is not
// UTF-8 (RFC 6532 allows UTF-8 only).
func decodeRawHeaderBytes(value string) string {
	if strings.Contains(value, "\x1b$B") || strings.Contains(value, "\x1b$@") {
		if text, warning := decodeCharset([]byte(value), "iso-2022-jp"); warning == "" {
			return text
		}
	}
	if utf8.ValidString(value) {
		return value
	}
	// NOTE: short raw headers in multi-byte charsets such as Big5 are often
	// misdetected, because chardet needs more text than a subject holds.
	text, _ := decodeUnknown([]byte(value))
	return text
}

// messageIDPattern matches one message ID in angle brackets.
var messageIDPattern = regexp.MustCompile(`<([^<>\s]+)>`)

// parseMessageIDs returns the message IDs of an In-Reply-To or References
// value without angle brackets, in order. IDs need no space between them
// (<a@x><b@y>), and bare IDs without brackets are accepted when the value
// holds no bracketed one.
func parseMessageIDs(value string) []string {
	var ids []string
	for _, m := range messageIDPattern.FindAllStringSubmatch(value, -1) {
		ids = append(ids, m[1])
	}
	if len(ids) > 0 {
		return ids
	}
	for _, token := range strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		token = strings.Trim(token, "<>")
		if strings.Contains(token, "@") {
			ids = append(ids, token)
		}
	}
	return ids
}

// parseMessageIDList applies parseMessageIDs to every value of a repeated
// field and joins the results.
func parseMessageIDList(values []string) []string {
	var ids []string
	for _, v := range values {
		ids = append(ids, parseMessageIDs(v)...)
	}
	return ids
}

// dateLayouts are tried, after net/mail, for Date values that break RFC 5322.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Monday, January 2, 2006 3:04 PM",
	time.RFC3339,
}

// parseDate parses a Date value. It returns the zero time and a warning
// when the value cannot be read.
func parseDate(value string) (time.Time, string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return time.Time{}, ""
	}
	if t, err := parseMailDate(value); err == nil {
		return t, ""
	}
	cleaned := strings.Join(strings.Fields(strings.ReplaceAll(value, ",", ", ")), " ")
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, cleaned); err == nil {
			return t, ""
		}
	}
	return time.Time{}, fmt.Sprintf("Date header %q could not be parsed; date left empty", truncate(value, 80))
}

// truncate shortens s to at most n bytes on a rune boundary for warnings.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	b := []byte(s[:n])
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(bytes.TrimSpace(b)) + "…"
}

func parseMailDate(value string) (time.Time, error) { return mail.ParseDate(value) }
