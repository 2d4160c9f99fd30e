package clickhouse

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// Stage is the DeadLetter stage of the records that this sink could not
// turn into rows.
const Stage = "sink-clickhouse"

// maxErrorText bounds the error text of a dead letter, in bytes.
const maxErrorText = 2048

// deadLetter builds the dead-letter record for rec, which failed with
// cause. With withSource false it leaves out the source key and value, for
// a second try after Kafka rejected the record as too large. The event ID
// is derived from the stage and the source position, so reading rec again
// gives the same ID and a consumer of the DLQ can deduplicate.
func deadLetter(dlqTopic string, rec *kgo.Record, tenant string, cause error, now time.Time, withSource bool) (*kgo.Record, error) {
	dl := schemas.DeadLetter{
		EventID:         deadLetterID(rec.Topic, rec.Partition, rec.Offset),
		Tenant:          tenant,
		Stage:           Stage,
		Error:           truncateUTF8(cause.Error(), maxErrorText),
		SourceTopic:     rec.Topic,
		SourcePartition: rec.Partition,
		SourceOffset:    rec.Offset,
		TraceID:         tracing.TraceID(rec),
		Attempts:        1,
		FailedAt:        now.UTC(),
	}
	if withSource {
		dl.Key = rec.Key
		dl.Payload = rec.Value
	}

	value, err := schemas.Marshal(&dl)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: dlqTopic, Key: dl.Key, Value: value, Headers: runner.DeadLetterHeaders(&dl)}, nil
}

func deadLetterID(topic string, partition int32, offset int64) string {
	sum := sha256.Sum256([]byte(Stage + "\x00" + topic + "\x00" +
		strconv.FormatInt(int64(partition), 10) + "\x00" + strconv.FormatInt(offset, 10)))
	return hex.EncodeToString(sum[:16])
}

// recordTooLarge reports whether Kafka rejected a produced record for its
// size, which producing it again cannot fix.
func recordTooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
}

// truncateUTF8 cuts s to at most n bytes at a rune boundary and marks the
// cut with "…".
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
