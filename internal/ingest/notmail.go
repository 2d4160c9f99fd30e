package ingest

import (
	"bytes"
	"fmt"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// notMailError is the cause of a ParseError for input that is not an email
// message at all. errors.Is matches it with mime.ErrNotMail.
type notMailError struct {
	reason string
}

func (e *notMailError) Error() string {
	return "not an email message: " + e.reason + "; import RFC 5322 messages (.eml), mbox files or Maildirs"
}

func (e *notMailError) Is(target error) bool { return target == mime.ErrNotMail }

// checkEmpty returns a notMailError when raw is empty or only whitespace.
// mime.Parse rejects such input too, but with a reason that names no fix
// for an import.
func checkEmpty(raw []byte) error {
	if len(raw) == 0 {
		return &notMailError{reason: "the message is empty (0 bytes)"}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return &notMailError{reason: fmt.Sprintf("the message contains only whitespace (%s)", byteCount(len(raw)))}
	}
	return nil
}

// checkHeaders returns a notMailError when the parser found no header field
// in raw.
//
// mime.Parse reads such input as a message without a header block. It
// returns the bytes as body text, an empty Headers list and the warning
// that no blank line separates header and body. A JPEG, random bytes or a
// plain text note all come out that way. RFC 5322 section 3.6 requires at
// least the Date and From fields, so an empty Headers list means the input
// is not mail. A message with at least one field, however broken, is kept.
func checkHeaders(email *schemas.InboundEmail, raw []byte) error {
	if len(email.Headers) > 0 {
		return nil
	}
	return &notMailError{reason: fmt.Sprintf("no header fields found in the first %s", byteCount(headerSearchLength(raw)))}
}

// headerSearchLength returns how many leading bytes of raw the parser read
// before it decided that the header block was over: an optional mbox
// "From " line and then the first line, which is not a header field.
func headerSearchLength(raw []byte) int {
	n := 0
	if bytes.HasPrefix(raw, []byte("From ")) {
		n = lineLength(raw)
	}
	return n + lineLength(raw[n:])
}

// lineLength returns the length of the first line of b with its line
// ending, or len(b) when b holds no line feed.
func lineLength(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return len(b)
}

func byteCount(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
