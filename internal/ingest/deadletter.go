package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"mailtriage/schemas"
)

// Dead-letter stages of the ingest path.
const (
	// StageParse is the stage of a message that could not be parsed or is
	// not mail.
	StageParse = "parse"
	// StageIngress is the stage of a parsed message whose record Kafka
	// rejected, for example because it exceeds the topic's
	// max.message.bytes.
	StageIngress = "ingress"
)

// Payload limits of the dead letters built here, in bytes. The raw MIME is
// always stored whole, so a cut payload loses nothing.
const (
	// MaxParsePayload bounds the Payload of a parse dead letter. It keeps
	// the record below Kafka's default max.message.bytes of 1 MiB.
	MaxParsePayload = 512 << 10
	// MaxIngressPayload bounds the Payload of an ingress dead letter. It is
	// small because the record it replaces was already too large once.
	MaxIngressPayload = 64 << 10
)

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
// object storage. A raw message longer than MaxParsePayload is cut to its
// first MaxParsePayload bytes, and Raw locates the whole. source is the
// origin of the message, such as schemas.SourceImport. It goes into SourceTopic because the message never
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
		Payload:         prefix(raw, MaxParsePayload),
		Raw:             &ref,
	}
}

// RejectedDeadLetter returns the dead letter for a parsed message whose
// record Kafka rejected. key is the record key it was produced with, and
// cause is the reason for the rejection. Payload contains the first
// MaxIngressPayload bytes of raw, so that the dead letter itself fits, and
// Raw locates the whole message. source is used as in DeadLetterFor.
//
// EventID is derived from the tenant and the raw SHA-256, as for
// DeadLetterFor, but differs from it because the stage is part of it.
func RejectedDeadLetter(email *schemas.InboundEmail, key, raw []byte, cause, source string, now time.Time) schemas.DeadLetter {
	dl := schemas.DeadLetter{
		Tenant:          email.Tenant,
		Stage:           StageIngress,
		Error:           cause,
		SourceTopic:     source,
		SourcePartition: -1,
		SourceOffset:    -1,
		Attempts:        1,
		FailedAt:        now.UTC(),
		Key:             key,
		Payload:         prefix(raw, MaxIngressPayload),
		Raw:             email.Raw,
	}
	rawSHA256 := ""
	if email.Raw != nil {
		rawSHA256 = email.Raw.SHA256
	} else {
		sum := sha256.Sum256(raw)
		rawSHA256 = hex.EncodeToString(sum[:])
	}
	dl.EventID = stageEventID(email.Tenant, StageIngress, rawSHA256)
	return dl
}

func parseEventID(tenant, rawSHA256 string) string {
	return stageEventID(tenant, StageParse, rawSHA256)
}

func stageEventID(tenant, stage, rawSHA256 string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + stage + "\x00" + rawSHA256))
	return hex.EncodeToString(sum[:16])
}

// prefix returns the first n bytes of b, or b when it is shorter.
func prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
