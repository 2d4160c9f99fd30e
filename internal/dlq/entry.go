package dlq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// HeaderTraceParent is the W3C trace context header. When a dead letter
// carries it, Entry.TraceID is read from it.
const HeaderTraceParent = "traceparent"

// Entry is one dead letter as read from the dead-letter topic: its place,
// its record timestamp and the context that its headers, or its decoded
// value when the headers are missing, give.
type Entry struct {
	Position
	// Time is the record timestamp, the time the dead letter was written.
	Time time.Time

	EventID         string
	Tenant          string // empty when the failing stage did not know it
	Stage           string
	Error           string
	SourceTopic     string // a topic, or the ingress source (such as "import") when SourcePartition is -1
	SourcePartition int32
	SourceOffset    int64
	Attempts        int32
	TraceID         string // empty when neither the value nor a traceparent header has one

	// Record is the dead-letter record itself.
	Record *kgo.Record
	// Letter is the decoded value. It is nil until Decode succeeds.
	Letter *schemas.DeadLetter
	// DecodeErr is set when the headers were incomplete and decoding the
	// value failed too, so the fields above may be empty.
	DecodeErr error
}

// newEntry reads the context of rec from its headers. It decodes the value
// only when the stage or source headers are missing, as in dead letters
// written before the headers existed.
func newEntry(ctx context.Context, rec *kgo.Record, serde *schemas.Serde) *Entry {
	e := &Entry{
		Position:        Position{Partition: rec.Partition, Offset: rec.Offset},
		Time:            rec.Timestamp,
		SourcePartition: -1,
		SourceOffset:    -1,
		Record:          rec,
	}
	seen := e.readHeaders(rec.Headers)
	if seen[runner.HeaderStage] && seen[runner.HeaderSourceTopic] {
		return e
	}
	if err := e.Decode(ctx, serde); err != nil {
		e.DecodeErr = err
	}
	return e
}

// readHeaders fills e from the dead-letter headers and returns the keys
// that were present.
func (e *Entry) readHeaders(headers []kgo.RecordHeader) map[string]bool {
	seen := make(map[string]bool, len(headers))
	for _, h := range headers {
		value := string(h.Value)
		seen[h.Key] = true
		switch h.Key {
		case runner.HeaderEventID:
			e.EventID = value
		case runner.HeaderTenant:
			e.Tenant = value
		case runner.HeaderStage:
			e.Stage = value
		case runner.HeaderError:
			e.Error = value
		case runner.HeaderSourceTopic:
			e.SourceTopic = value
		case runner.HeaderSourcePartition:
			if n, err := strconv.ParseInt(value, 10, 32); err == nil {
				e.SourcePartition = int32(n)
			}
		case runner.HeaderSourceOffset:
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				e.SourceOffset = n
			}
		case runner.HeaderAttempts:
			if n, err := strconv.ParseInt(value, 10, 32); err == nil {
				e.Attempts = int32(n)
			}
		case HeaderTraceParent:
			if id := traceIDOf(value); id != "" {
				e.TraceID = id
			}
		}
	}
	return seen
}

// Decode decodes the record value into e.Letter and fills every field of
// e that the headers left empty. It decodes once.
func (e *Entry) Decode(ctx context.Context, serde *schemas.Serde) error {
	if e.Letter != nil {
		return nil
	}
	if len(e.Record.Value) == 0 {
		return fmt.Errorf("dead letter %s has no value: the stage that wrote it could not encode it, so only its headers are known", e.Position)
	}
	var dl schemas.DeadLetter
	if err := serde.DecodeContext(ctx, e.Record.Value, &dl); err != nil {
		return fmt.Errorf("decoding dead letter %s: %w", e.Position, err)
	}
	e.Letter = &dl

	fill := func(field *string, value string) {
		if *field == "" {
			*field = value
		}
	}
	fill(&e.EventID, dl.EventID)
	fill(&e.Tenant, dl.Tenant)
	fill(&e.Stage, dl.Stage)
	fill(&e.Error, dl.Error)
	fill(&e.SourceTopic, dl.SourceTopic)
	fill(&e.TraceID, dl.TraceID)
	if e.SourcePartition < 0 && e.SourceOffset < 0 {
		e.SourcePartition, e.SourceOffset = dl.SourcePartition, dl.SourceOffset
	}
	if e.Attempts == 0 {
		e.Attempts = dl.Attempts
	}
	return nil
}

// FromTopic reports whether the dead letter came from a Kafka topic, so
// that its source key and payload can go back there. Dead letters of the
// ingress stages have SourcePartition -1 and name the source instead.
func (e *Entry) FromTopic() bool {
	return e.SourcePartition >= 0 && e.SourceTopic != ""
}

// Source formats the source as topic/partition/offset, or the ingress
// source name alone.
func (e *Entry) Source() string {
	if !e.FromTopic() {
		return e.SourceTopic
	}
	return fmt.Sprintf("%s/%d/%d", e.SourceTopic, e.SourcePartition, e.SourceOffset)
}

// FirstErrorLine returns the first line of the error, cut to max runes
// with "…" when longer.
func (e *Entry) FirstErrorLine(max int) string {
	line, _, _ := strings.Cut(e.Error, "\n")
	line = strings.TrimSpace(line)
	runes := []rune(line)
	if max > 0 && len(runes) > max {
		return string(runes[:max-1]) + "…"
	}
	return line
}

// KeyHash returns the first 12 hex digits of the SHA-256 of a record key,
// as the services log it, so a dead letter can be matched with log lines
// without showing the message ID.
func KeyHash(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:6])
}

// traceIDOf returns the trace ID of a W3C traceparent value
// (version-traceid-spanid-flags), or "" when the value is malformed.
func traceIDOf(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) < 4 || len(parts[1]) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return ""
	}
	return parts[1]
}
