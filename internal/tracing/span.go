package tracing

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"mailtriage/internal/logging"
)

// TracerName is the instrumentation scope of every mailtriage span.
const TracerName = "mailtriage"

// Span names of the chain in the package comment.
const (
	SpanWebhookRequest  = "webhook.request"
	SpanSMTPTransaction = "smtp.transaction"
	SpanPollerPage      = "poller.page"
	SpanImportMessage   = "import.message"
	SpanInboundProduce  = "inbound.produce"
	SpanDeadLetter      = "dlq.produce"
	SpanProcessRecord   = "process.record"
	SpanSinkPostgres    = "sink.postgres"
	SpanSinkClickHouse  = "sink.clickhouse"
	SpanSinkSlack       = "sink.slack"
	SpanSinkSMTP        = "sink.smtp"
)

// StageSpanName returns the name of the span of one processor stage,
// "stage." followed by the stage name.
func StageSpanName(stage string) string { return "stage." + stage }

// Attribute keys. The messaging keys follow the OpenTelemetry semantic
// conventions for Kafka; the others are mailtriage's own.
const (
	AttrTenant      = attribute.Key("mailtriage.tenant")
	AttrStage       = attribute.Key("mailtriage.stage")
	AttrQueue       = attribute.Key("mailtriage.decision.queue")
	AttrReasonKind  = attribute.Key("mailtriage.decision.reason_kind")
	AttrDuplicate   = attribute.Key("mailtriage.duplicate")
	AttrDeadLetter  = attribute.Key("mailtriage.dead_letter")
	AttrSource      = attribute.Key("mailtriage.source")
	AttrTopic       = attribute.Key("messaging.destination.name")
	AttrPartition   = attribute.Key("messaging.destination.partition.id")
	AttrOffset      = attribute.Key("messaging.kafka.offset")
	AttrSystem      = attribute.Key("messaging.system")
	AttrKeyHash     = attribute.Key("mailtriage.key_hash")
	AttrOutputCount = attribute.Key("mailtriage.outputs")
)

// Tenant returns the tenant attribute.
func Tenant(tenant string) attribute.KeyValue { return AttrTenant.String(tenant) }

// Tracer returns the tracer of the global provider, so that it follows a
// provider installed later by Setup or by a test.
func Tracer() trace.Tracer { return otel.Tracer(TracerName) }

// Start starts a span named name as a child of the span in ctx, or as a
// new root when there is none. Ingress spans use it.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartProduce starts a producer span for rec as a child of the span in
// ctx and writes the new span's context into rec's headers. Call
// RecordProduced when the broker acknowledged rec.
func StartProduce(ctx context.Context, name string, rec *kgo.Record, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs, AttrSystem.String("kafka"), AttrTopic.String(rec.Topic))
	if len(rec.Key) > 0 {
		attrs = append(attrs, AttrKeyHash.String(logging.KeyHash(rec.Key)))
	}
	ctx, span := Tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	Inject(ctx, rec)
	return ctx, span
}

// RecordProduced adds the partition and offset that the broker assigned
// to rec, or the error that failed it, to span.
func RecordProduced(span trace.Span, rec *kgo.Record, err error) {
	if err != nil {
		Fail(span, err)
		return
	}
	span.SetAttributes(AttrPartition.Int64(int64(rec.Partition)), AttrOffset.Int64(rec.Offset))
}

// StartRecord starts a consumer span for a record read from Kafka. Its
// parent is the span context in rec's traceparent header, or the span in
// ctx when the header is missing. It carries the record's topic,
// partition, offset and key hash.
func StartRecord(ctx context.Context, name string, rec *kgo.Record, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	attrs = append(attrs,
		AttrSystem.String("kafka"),
		AttrTopic.String(rec.Topic),
		AttrPartition.Int64(int64(rec.Partition)),
		AttrOffset.Int64(rec.Offset),
	)
	if len(rec.Key) > 0 {
		attrs = append(attrs, AttrKeyHash.String(logging.KeyHash(rec.Key)))
	}
	return Tracer().Start(Extract(ctx, rec), name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// Fail marks span as failed with the text of err, scrubbed of email
// addresses and secrets as log lines are. It does nothing for a nil err.
func Fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.SetStatus(codes.Error, logging.Scrub(err.Error()))
}

// End fails span with err when err is not nil and ends it.
func End(span trace.Span, err error) {
	Fail(span, err)
	span.End()
}

// SetTenant adds the tenant attribute to the span in ctx, for spans that
// start before the record is decoded.
func SetTenant(ctx context.Context, tenant string) {
	trace.SpanFromContext(ctx).SetAttributes(Tenant(tenant))
}
