package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// maxErrorText bounds the error text of a dead letter, in bytes.
const maxErrorText = 2048

// produceTimeout bounds one try to produce a dead letter.
const produceTimeout = 30 * time.Second

// deadLetter writes rec to the dead-letter topic with cause, retrying until
// Kafka accepts it. n is nil when the value could not be decoded. It
// returns errStopped when ctx ended first.
func (s *Sink) deadLetter(ctx context.Context, rec *kgo.Record, n *schemas.Notification, cause error, attempts int) error {
	dl := schemas.DeadLetter{
		EventID:         deadLetterID(rec.Topic, rec.Partition, rec.Offset),
		Stage:           Stage,
		Error:           truncate(cause.Error(), maxErrorText),
		SourceTopic:     rec.Topic,
		SourcePartition: rec.Partition,
		SourceOffset:    rec.Offset,
		TraceID:         tracing.TraceID(rec),
		Attempts:        int32(attempts),
		FailedAt:        s.cfg.Now(),
		Key:             rec.Key,
		Payload:         rec.Value,
	}
	if n != nil {
		dl.Tenant = n.Tenant
	}

	out := &kgo.Record{Topic: s.cfg.DLQTopic, Key: rec.Key, Headers: runner.DeadLetterHeaders(&dl)}
	value, err := schemas.Marshal(&dl)
	if err != nil {
		// The headers still carry the context, so the record goes out
		// without a value rather than not at all.
		s.log.Error("encoding a dead letter failed; sending it with headers only",
			"partition", rec.Partition, "offset", rec.Offset, "error", err)
	}
	out.Value = value

	for attempt := 1; ; attempt++ {
		// franz-go retries a produce internally without limit, so each try
		// gets a deadline to make an outage visible in the log.
		produceCtx, cancel := context.WithTimeout(ctx, produceTimeout)
		err := s.client.ProduceSync(produceCtx, out).FirstErr()
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return errStopped
		}
		wait := s.cfg.Retry.backoff(attempt)
		s.log.Warn("producing a dead letter failed, retrying",
			"partition", rec.Partition, "offset", rec.Offset, "attempt", attempt, "retry_in", wait.String(), "error", err)
		if sleep(ctx, wait) != nil {
			return errStopped
		}
	}

	s.stats.deadLettered.Add(1)
	s.cfg.Metrics.DeadLetters(1)
	s.log.Error("notification sent to the dead-letter topic",
		"tenant", dl.Tenant, "partition", rec.Partition, "offset", rec.Offset,
		"attempts", attempts, "error", dl.Error)
	return nil
}

// deadLetterID derives the dead letter's event ID from the stage and the
// source position, so that a replay yields the same ID and DLQ consumers
// upsert.
func deadLetterID(topic string, partition int32, offset int64) string {
	sum := sha256.Sum256([]byte("dlq\x00" + Stage + "\x00" + topic + "\x00" +
		strconv.FormatInt(int64(partition), 10) + "\x00" + strconv.FormatInt(offset, 10)))
	return hex.EncodeToString(sum[:16])
}

// truncate cuts s to at most n bytes at a rune boundary, adding "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
