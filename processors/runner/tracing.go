package runner

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"mailtriage/internal/tracing"
	"mailtriage/processors"
)

// startRecordSpan starts the process.record span of rec, a child of the
// span in rec's traceparent header.
func startRecordSpan(ctx context.Context, rec *kgo.Record) (context.Context, trace.Span) {
	return tracing.StartRecord(ctx, tracing.SpanProcessRecord, rec)
}

// endRecordSpan describes the outcome of processing one record on span,
// writes the span's context into every record to produce, so that each
// sink's span is its child, and ends span. A dead letter also gets
// HeaderTraceID when it does not have it yet.
func endRecordSpan(ctx context.Context, span trace.Span, res recordResult, err error) {
	defer span.End()
	if err != nil {
		tracing.Fail(span, err)
		return
	}

	span.SetAttributes(tracing.AttrOutputCount.Int(len(res.records)), tracing.AttrDuplicate.Bool(res.duplicate))
	if m := res.message; m != nil {
		span.SetAttributes(tracing.Tenant(m.Email.Tenant),
			tracing.AttrQueue.String(m.Decision.Queue),
			tracing.AttrReasonKind.String(m.Decision.Reason.Kind))
	}
	if res.deadLetter {
		span.SetAttributes(tracing.AttrDeadLetter.Bool(true), tracing.AttrStage.String(res.stage))
	}

	traceID := tracing.TraceIDFromContext(ctx)
	for _, out := range res.records {
		tracing.Inject(ctx, out)
		if res.deadLetter && traceID != "" && (tracing.HeaderCarrier{Record: out}).Get(HeaderTraceID) == "" {
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: HeaderTraceID, Value: []byte(traceID)})
		}
	}
}

// tracedProcessor runs a processor in a child span named after its stage.
type tracedProcessor struct {
	processors.Processor
}

// traceChain wraps each processor of chain in a tracedProcessor.
func traceChain(chain processors.Chain) processors.Chain {
	traced := make(processors.Chain, len(chain))
	for i, p := range chain {
		traced[i] = tracedProcessor{Processor: p}
	}
	return traced
}

// Process runs the wrapped processor inside a stage span.
// The span ends also when the processor panics, which runChain recovers.
func (p tracedProcessor) Process(ctx context.Context, m *processors.Message) (res processors.Result, err error) {
	stage := p.Name()
	ctx, span := tracing.Start(ctx, tracing.StageSpanName(stage), tracing.AttrStage.String(stage))
	defer func() { tracing.End(span, err) }()

	res, err = p.Processor.Process(ctx, m)
	if res == processors.Stop {
		span.SetAttributes(tracing.AttrDuplicate.Bool(m.Duplicate))
	}
	return res, err
}
