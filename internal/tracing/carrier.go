package tracing

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HeaderTraceParent is the W3C trace context header that records carry.
const HeaderTraceParent = "traceparent"

// Propagator reads and writes the W3C traceparent and tracestate headers.
// The package uses it whatever the global propagator is, so records carry
// the trace context in every role.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// HeaderCarrier adapts the headers of a Kafka record to
// propagation.TextMapCarrier. Set replaces a header of the same key, so a
// record that passes through several roles keeps one traceparent.
type HeaderCarrier struct {
	Record *kgo.Record
}

// Get returns the value of the last header named key, or "".
func (c HeaderCarrier) Get(key string) string {
	value := ""
	for _, h := range c.Record.Headers {
		if h.Key == key {
			value = string(h.Value)
		}
	}
	return value
}

// Set replaces the headers named key with one holding value.
func (c HeaderCarrier) Set(key, value string) {
	kept := c.Record.Headers[:0:0]
	for _, h := range c.Record.Headers {
		if h.Key != key {
			kept = append(kept, h)
		}
	}
	c.Record.Headers = append(kept, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Keys returns the header keys in order, repeats included.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, len(c.Record.Headers))
	for i, h := range c.Record.Headers {
		keys[i] = h.Key
	}
	return keys
}

// Inject writes the span context of ctx into the headers of rec. It
// changes nothing when ctx holds no valid span context.
func Inject(ctx context.Context, rec *kgo.Record) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	Propagator.Inject(ctx, HeaderCarrier{Record: rec})
}

// Extract returns ctx with the remote span context of rec's headers, or
// ctx itself when rec carries none.
func Extract(ctx context.Context, rec *kgo.Record) context.Context {
	return Propagator.Extract(ctx, HeaderCarrier{Record: rec})
}

// TraceID returns the trace ID of rec's traceparent header as 32 hex
// digits, or "" when it has no valid one.
func TraceID(rec *kgo.Record) string {
	sc := trace.SpanContextFromContext(Extract(context.Background(), rec))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// TraceIDFromContext returns the trace ID of the span context in ctx, or
// "" when there is none.
func TraceIDFromContext(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
