package logging

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// traceHandler adds the trace and span IDs of the span in the context.
type traceHandler struct {
	next slog.Handler
}

// NewTraceHandler returns a handler that adds "trace_id" and "span_id" to
// each record logged with a context that holds a valid span context, such
// as logger.InfoContext(ctx, ...) inside a span. Records logged without
// such a context pass unchanged.
func NewTraceHandler(next slog.Handler) slog.Handler {
	return &traceHandler{next: next}
}

// Enabled reports whether next handles records at level.
func (h *traceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the span's IDs to r, unless r already has a trace ID, and
// passes it on.
func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if sc.IsValid() && !hasAttr(r, KeyTraceID) {
		r = r.Clone()
		r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()), slog.String(KeySpanID, sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs attaches attrs in next.
func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &traceHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup opens a group in next.
func (h *traceHandler) WithGroup(name string) slog.Handler {
	return &traceHandler{next: h.next.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
