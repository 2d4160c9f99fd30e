package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/logging"
	"mailtriage/internal/tracing"
	"mailtriage/processors"
	"mailtriage/schemas"
)

// Headers of every dead-letter record. They repeat the context of the
// DeadLetter value so that tools can filter the DLQ without decoding Avro.
const (
	HeaderEventID         = "mailtriage.dlq.event-id"
	HeaderStage           = "mailtriage.dlq.stage"
	HeaderError           = "mailtriage.dlq.error"
	HeaderSourceTopic     = "mailtriage.dlq.source-topic"
	HeaderSourcePartition = "mailtriage.dlq.source-partition"
	HeaderSourceOffset    = "mailtriage.dlq.source-offset"
	HeaderAttempts        = "mailtriage.dlq.attempts"
	HeaderTenant          = "mailtriage.dlq.tenant" // only when the tenant is known
	// HeaderTraceID is the trace ID of the message, 32 hex digits, when the
	// input record carried a W3C traceparent or the processor traced it.
	HeaderTraceID = "mailtriage.dlq.trace-id"
)

// maxErrorText bounds the error text of a dead letter, in bytes.
const maxErrorText = 2048

// deadLetterResult builds the DLQ record for rec. email is nil when the
// value could not be decoded. From the second attempt on, after a
// dead letter of the same record was itself rejected by Kafka, the source
// key and payload are left out so that the dead letter surely fits.
func (r *Runner) deadLetterResult(rec *kgo.Record, email *schemas.InboundEmail, stage string, cause error, now time.Time, attempts int) recordResult {
	dl := schemas.DeadLetter{
		EventID:         deadLetterID(rec.Topic, rec.Partition, rec.Offset),
		Stage:           stage,
		Error:           truncate(cause.Error(), maxErrorText),
		SourceTopic:     rec.Topic,
		SourcePartition: rec.Partition,
		SourceOffset:    rec.Offset,
		Attempts:        int32(attempts),
		FailedAt:        now,
		TraceID:         tracing.TraceID(rec),
	}
	if attempts <= 1 {
		dl.Key = rec.Key
		dl.Payload = rec.Value
	}
	if email != nil {
		dl.Tenant = email.Tenant
		dl.Raw = email.Raw
	}

	out := &kgo.Record{Topic: r.cfg.DLQTopic, Key: dl.Key, Headers: DeadLetterHeaders(&dl)}
	value, err := r.cfg.Serde.Encode(r.cfg.DLQTopic, &dl)
	if err != nil {
		// The headers still carry the context, so the record goes out
		// without a value rather than not at all.
		r.log.Error("encoding a dead letter failed; sending it with headers only",
			"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err)
	}
	out.Value = value

	r.log.Warn("record sent to the dead-letter topic", append(logging.Record(rec),
		"tenant", dl.Tenant, "stage", stage, "error", dl.Error, "attempts", attempts)...)
	return recordResult{records: []*kgo.Record{out}, deadLetter: true, stage: stage}
}

// DeadLetterHeaders repeats the context of dl in record headers, so that
// DLQ tools filter dead letters of every stage, processor or sink, without
// decoding Avro.
func DeadLetterHeaders(dl *schemas.DeadLetter) []kgo.RecordHeader {
	h := []kgo.RecordHeader{
		{Key: HeaderEventID, Value: []byte(dl.EventID)},
		{Key: HeaderStage, Value: []byte(dl.Stage)},
		{Key: HeaderError, Value: []byte(dl.Error)},
		{Key: HeaderSourceTopic, Value: []byte(dl.SourceTopic)},
		{Key: HeaderSourcePartition, Value: []byte(strconv.FormatInt(int64(dl.SourcePartition), 10))},
		{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(dl.SourceOffset, 10))},
		{Key: HeaderAttempts, Value: []byte(strconv.FormatInt(int64(dl.Attempts), 10))},
	}
	if dl.Tenant != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderTenant, Value: []byte(dl.Tenant)})
	}
	if dl.TraceID != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderTraceID, Value: []byte(dl.TraceID)})
	}
	return h
}

// deadLetterID derives the dead letter's event ID from the source position,
// so that a replay of the same record yields the same ID and sinks upsert.
func deadLetterID(topic string, partition int32, offset int64) string {
	sum := sha256.Sum256([]byte("dlq\x00" + topic + "\x00" +
		strconv.FormatInt(int64(partition), 10) + "\x00" + strconv.FormatInt(offset, 10)))
	return hex.EncodeToString(sum[:16])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary so the text stays valid UTF-8.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// poisonEntry is an input record whose outputs Kafka rejected.
type poisonEntry struct {
	attempts int // transactions that failed on this record
	err      error
}

// poisonList remembers input records whose outputs Kafka rejected for a
// reason that retrying cannot fix, such as a record over the size limit.
// When the aborted batch runs again, those records go to the DLQ instead.
// Only Run's goroutine uses it.
type poisonList map[processors.Position]poisonEntry

func (l *poisonList) get(pos processors.Position) (poisonEntry, bool) {
	e, ok := (*l)[pos]
	return e, ok
}

func (l *poisonList) add(pos processors.Position, err error) {
	if *l == nil {
		*l = make(poisonList)
	}
	e := (*l)[pos]
	e.attempts++
	e.err = err
	(*l)[pos] = e
}

// forget drops entries once their batch committed.
func (l *poisonList) forget(pos processors.Position) {
	delete(*l, pos)
}

// recordFault reports whether a produce error is caused by the record
// itself, so that producing it again would fail again.
func recordFault(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) ||
		errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) ||
		errors.Is(err, kerr.CorruptMessage)
}
