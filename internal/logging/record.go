package logging

import (
	"encoding/hex"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// headerTraceParent is the W3C trace context header of Kafka records.
const headerTraceParent = "traceparent"

// Record returns the standard attributes of a line about one Kafka record:
// topic, partition, offset, key_hash when the record has a key, and
// trace_id when it has a valid traceparent header. Pass the result to
// slog.Logger.With or append it to the arguments of a log call.
func Record(rec *kgo.Record) []any {
	attrs := make([]any, 0, 5)
	attrs = append(attrs,
		slog.String(KeyTopic, rec.Topic),
		slog.Int64(KeyPartition, int64(rec.Partition)),
		slog.Int64(KeyOffset, rec.Offset),
	)
	if len(rec.Key) > 0 {
		attrs = append(attrs, slog.String(KeyKeyHash, KeyHash(rec.Key)))
	}
	if id := TraceIDOf(rec); id != "" {
		attrs = append(attrs, slog.String(KeyTraceID, id))
	}
	return attrs
}

// Tenant returns the standard tenant attribute.
func Tenant(tenant string) slog.Attr { return slog.String(KeyTenant, tenant) }

// TraceIDOf returns the trace ID, 32 lower-case hex digits, of the last
// traceparent header of rec, or "" when there is none or it is malformed
// or all zeros.
func TraceIDOf(rec *kgo.Record) string {
	value := ""
	for _, h := range rec.Headers {
		if h.Key == headerTraceParent {
			value = string(h.Value)
		}
	}
	return traceIDOf(value)
}

// traceIDOf returns the trace ID of a traceparent value of the form
// version-traceid-spanid-flags, or "".
func traceIDOf(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) < 4 || len(parts[1]) != 32 {
		return ""
	}
	id := strings.ToLower(parts[1])
	raw, err := hex.DecodeString(id)
	if err != nil {
		return ""
	}
	for _, b := range raw {
		if b != 0 {
			return id
		}
	}
	return ""
}
