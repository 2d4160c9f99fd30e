// Package ingress is what every source of inbound mail shares: a Publisher
// that puts one parsed message on the inbound topic and returns only after
// the broker acknowledged it, and a dead-letter path for mail that cannot
// be parsed. The webhook gateway, the SMTP/LMTP listener, the REST poller
// and the importer all hand their messages to it.
package ingress

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/tracing"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// ErrUnavailable marks a publish that failed because Kafka could not take
// the record now: the broker is unreachable, the request timed out or the
// producer buffer is full. The caller should ask the sender to retry later
// (HTTP 503 with Retry-After, SMTP 451), because nothing was stored.
var ErrUnavailable = errors.New("kafka is unavailable")

// Publisher produces inbound records with an idempotent producer and
// acks=all. It is safe for concurrent use.
type Publisher struct {
	client  *kgo.Client
	serde   *schemas.Serde
	metrics *metrics.Ingress
	// stamps keeps the order of Publish calls in the record timestamps.
	stamps Timestamps
}

// PublisherConfig configures NewPublisher.
type PublisherConfig struct {
	// ClientOpts connect to the cluster (brokers, TLS, SASL); see
	// internal/kafkaconfig.
	ClientOpts []kgo.Opt
	// Serde encodes the records. Nil uses Avro single-object encoding.
	Serde *schemas.Serde
	// DeliveryTimeout bounds how long one record may wait for the broker
	// before the publish fails with ErrUnavailable. Default 10s.
	DeliveryTimeout time.Duration
	// MaxBufferedRecords bounds the records waiting for the broker; a
	// publish beyond it fails at once with ErrUnavailable. Default 10000.
	MaxBufferedRecords int
	// Metrics counts the published records (metrics.NewIngress). Nil, the
	// default, counts none.
	Metrics *metrics.Ingress
}

// NewPublisher connects a producer for the inbound and dead-letter topics.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 10 * time.Second
	}
	if cfg.MaxBufferedRecords <= 0 {
		cfg.MaxBufferedRecords = 10000
	}
	serde := cfg.Serde
	if serde == nil {
		serde = schemas.NewSingleObject()
	}

	opts := append([]kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProduceRequestTimeout(cfg.DeliveryTimeout),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.ProducerBatchMaxBytesFn(func(topic string) int32 { return topics.MaxMessageBytes(topic) }),
		// Without this, the idempotent producer keeps retrying a record whose
		// request may have reached the broker until the outcome is known, so
		// a sender asked to retry could find its message stored anyway. With
		// it, such a record can be stored once more after the retry, and the
		// dedupe processor drops that copy.
		kgo.AllowIdempotentProduceCancellation(),
	}, cfg.ClientOpts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the inbound producer: %w", err)
	}
	return &Publisher{client: client, serde: serde, metrics: cfg.Metrics}, nil
}

// Publish produces email to the inbound topic under its key
// (tenant/messageId) and waits for the acknowledgement of every in-sync
// replica. An error wrapping ErrUnavailable means the record was not
// stored and the sender should retry.
func (p *Publisher) Publish(ctx context.Context, email *schemas.InboundEmail) error {
	value, err := p.serde.Encode(topics.Inbound, email)
	if err != nil {
		p.metrics.Published(email.Source, metrics.IngressFailed, 1)
		return fmt.Errorf("encoding message %s of tenant %s: %w", email.MessageID, email.Tenant, err)
	}
	rec := &kgo.Record{Topic: topics.Inbound, Key: []byte(email.Key()), Value: value, Timestamp: p.stamps.Next(time.Now())}
	_, span := tracing.StartProduce(ctx, tracing.SpanInboundProduce, rec, tracing.Tenant(email.Tenant), tracing.AttrSource.String(email.Source))
	err = p.produce(ctx, rec)
	tracing.RecordProduced(span, rec, err)
	span.End()
	p.metrics.Published(email.Source, publishResult(err), 1)
	return err
}

// PublishDeadLetter produces dl to the dead-letter topic under key, for
// mail that reached a source but cannot go on the inbound topic.
func (p *Publisher) PublishDeadLetter(ctx context.Context, key string, dl *schemas.DeadLetter) error {
	value, err := p.serde.Encode(topics.DLQ, dl)
	if err != nil {
		return fmt.Errorf("encoding the dead letter %s: %w", dl.EventID, err)
	}
	rec := &kgo.Record{Topic: topics.DLQ, Key: []byte(key), Value: value}
	_, span := tracing.StartProduce(ctx, tracing.SpanDeadLetter, rec, tracing.Tenant(dl.Tenant), tracing.AttrStage.String(dl.Stage))
	err = p.produce(ctx, rec)
	tracing.RecordProduced(span, rec, err)
	span.End()
	if err == nil {
		p.metrics.DeadLetters(dl.SourceTopic, 1) // the source, for mail that never reached a topic
	}
	return err
}

// produce waits for the broker's acknowledgement of rec. TryProduce fails
// at once with kgo.ErrMaxBuffered when the buffer is full, where Produce
// would block, so an overloaded producer turns into ErrUnavailable.
func (p *Publisher) produce(ctx context.Context, rec *kgo.Record) error {
	done := make(chan error, 1)
	p.client.TryProduce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	if isUnavailable(err) {
		return fmt.Errorf("producing to %s: %w: %w", rec.Topic, ErrUnavailable, err)
	}
	return fmt.Errorf("producing to %s: %w", rec.Topic, err)
}

// isUnavailable reports whether err means Kafka could not take the record
// now, as opposed to rejecting the record itself.
func isUnavailable(err error) bool {
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered),
		errors.Is(err, kgo.ErrRecordTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, kerr.NotEnoughReplicas),
		errors.Is(err, kerr.NotEnoughReplicasAfterAppend),
		errors.Is(err, kerr.RequestTimedOut),
		errors.Is(err, kerr.LeaderNotAvailable),
		errors.Is(err, kerr.NotLeaderForPartition):
		return true
	}
	var retriable *kerr.Error
	return errors.As(err, &retriable) && retriable.Retriable
}

// Ping checks that a broker responds, for readiness probes.
func (p *Publisher) Ping(ctx context.Context) error {
	if err := p.client.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close flushes nothing and closes the producer. Publish calls that are
// still waiting fail.
func (p *Publisher) Close() { p.client.Close() }
