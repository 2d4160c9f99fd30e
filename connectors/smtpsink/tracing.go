package smtpsink

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
)

// handleTraced runs handle in a sink.smtp span, a child of the processor
// span that the record's traceparent header names. Transaction markers
// get no span.
func (s *Sink) handleTraced(ctx context.Context, rec *kgo.Record) error {
	if rec.Attrs.IsControl() {
		return s.handle(ctx, rec)
	}
	ctx, span := tracing.StartRecord(ctx, tracing.SpanSinkSMTP, rec)
	err := s.handle(ctx, rec)
	if errors.Is(err, errStopped) {
		span.End() // a stop is not a failure of the record
		return err
	}
	tracing.End(span, err)
	return err
}
