package ingest

import (
	"fmt"
	"unicode/utf8"

	"mailtriage/schemas"
)

// MaxTextBytes is the largest size, in bytes, of each of the Text, HTML and
// ReplyText fields of a record, and of the Text of each attachment. Prepare
// cuts a longer value at a UTF-8 character boundary at or below this size
// and adds a warning that names the field, its original size and the raw
// storage key.
//
// The three body fields then take at most 768 KiB together, which leaves
// room for headers and attachment metadata below the 4 MiB max.message.bytes
// of the inbound topic. Prepare stores the raw MIME whole,
// so the cut loses nothing. A record that is still too large, for example one with many
// attached messages or megabytes of headers, is rejected by Kafka and the
// caller dead-letters it.
const MaxTextBytes = 256 << 10

// truncateTexts applies MaxTextBytes to the text fields of email. rawKey is
// the storage key of the whole raw message, named in each warning.
func truncateTexts(email *schemas.InboundEmail, rawKey string) {
	cut := func(field string, value *string) {
		original := len(*value)
		if original <= MaxTextBytes {
			return
		}
		*value = truncateUTF8(*value, MaxTextBytes)
		email.Warnings = append(email.Warnings, fmt.Sprintf(
			"%s truncated from %d to %d bytes; the full message is in raw storage under %s",
			field, original, len(*value), rawKey))
	}

	cut("text", &email.Text)
	cut("html", &email.HTML)
	cut("replyText", &email.ReplyText)
	for i := range email.Attachments {
		cut(fmt.Sprintf("attachments[%d].text", i), &email.Attachments[i].Text)
	}
}

// truncateUTF8 returns the longest prefix of s of at most max bytes that
// does not end inside a UTF-8 sequence. When s is not valid UTF-8 at the
// cut, it backs up no more than utf8.UTFMax-1 bytes.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && max-cut < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
