package clickhouse

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"mailtriage/internal/tracing"
)

// recordSpans are the sink.clickhouse spans of one batch, one per record,
// each a child of the processor span that its record's traceparent header
// names. They cover the decode, the insert and the offset commit, because
// the rows of a batch are inserted together.
type recordSpans []trace.Span

// startRecordSpans starts a span for each record of a batch.
func startRecordSpans(ctx context.Context, records []*kgo.Record) recordSpans {
	spans := make(recordSpans, 0, len(records))
	for _, rec := range records {
		if rec.Attrs.IsControl() {
			continue
		}
		_, span := tracing.StartRecord(ctx, tracing.SpanSinkClickHouse, rec)
		spans = append(spans, span)
	}
	return spans
}

// end ends every span.
func (spans recordSpans) end() {
	for _, span := range spans {
		span.End()
	}
}
