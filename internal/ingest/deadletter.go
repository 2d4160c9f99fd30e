package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"mailtriage/schemas"
)

// StageParse is the DeadLetter stage of a message that could not be parsed.
const StageParse = "parse"

// ParseError is returned by Prepare when the raw message was stored but
// could not be parsed. The caller writes DeadLetterFor(err, raw, …) to the
// dead-letter topic so that the message is never dropped.
type ParseError struct {
	Tenant string          // tenant from the parse options
	Raw    schemas.BlobRef // location of the stored raw message
	Err    error           // the error of mime.Parse
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parsing message %s: %v", e.Raw.Key, e.cause())
}

// cause returns Err, or a generic error when a caller built a ParseError
// without one.
func (e *ParseError) cause() error {
	if e.Err == nil {
		return errors.New("unknown parse error")
	}
	return e.Err
}

func (e *ParseError) Unwrap() error { return e.Err }

// DeadLetterFor returns the dead letter for a message that Prepare could
// not parse. Payload is raw itself, so the record can be replayed without
// object storage. source is the origin of the message, such as
// schemas.SourceImport. It goes into SourceTopic because the message never
// reached a topic, and SourcePartition and SourceOffset are -1.
//
// EventID is derived from the tenant and the raw SHA-256, so the same bytes
// failing twice give the same ID and a sink that upserts by it keeps one row.
func DeadLetterFor(err *ParseError, raw []byte, source string, now time.Time) schemas.DeadLetter {
	ref := err.Raw
	return schemas.DeadLetter{
		EventID:         parseEventID(err.Tenant, ref.SHA256),
		Tenant:          err.Tenant,
		Stage:           StageParse,
		Error:           err.cause().Error(),
		SourceTopic:     source,
		SourcePartition: -1,
		SourceOffset:    -1,
		Attempts:        1,
		FailedAt:        now.UTC(),
		Payload:         raw,
		Raw:             &ref,
	}
}

func parseEventID(tenant, rawSHA256 string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + StageParse + "\x00" + rawSHA256))
	return hex.EncodeToString(sum[:16])
}
