package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults of Config fields left zero.
const (
	// DefaultGroup is the connector name: the Kafka consumer group and the
	// consumer_group key of the stored offsets.
	DefaultGroup = "mailtriage-sink-postgres"
	// DefaultBatchSize bounds the records of one poll, and so of one
	// database transaction.
	DefaultBatchSize = 500
	// DefaultMinBackoff is the first delay before a failed batch is retried.
	DefaultMinBackoff = 200 * time.Millisecond
	// DefaultMaxBackoff is the longest delay between two retries.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultFeedbackInterval is the wait between two passes over the
	// feedback outbox.
	DefaultFeedbackInterval = time.Second
)

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// DSN is the PostgreSQL connection string, as a URL
	// (postgres://user@host:5432/db?sslmode=disable) or as key=value pairs.
	// pgx also reads PGPASSWORD and ~/.pgpass, so the DSN need not contain
	// the password. Required.
	DSN string
	// KafkaOpts are the franz-go options that reach the cluster (seed
	// brokers, TLS, SASL), as kafkaconfig.Config.Opts returns them.
	// Required: at least the seed brokers.
	KafkaOpts []kgo.Opt

	// Group is the connector name, used as the Kafka consumer group and as
	// the key of the stored offsets. Two sinks with different names keep
	// separate positions. Default DefaultGroup.
	Group string
	// Topic is the topic of TicketCommand records. Default topics.Tickets.
	Topic string
	// DLQTopic receives the records that cannot be applied. Default
	// topics.DLQ.
	DLQTopic string
	// FeedbackTopic receives the feedback events of reassignments, which
	// the sink produces from feedback_outbox. Default topics.Feedback.
	FeedbackTopic string
	// FeedbackInterval is the wait between two passes over the feedback
	// outbox, and so the longest delay before a reassignment reaches
	// Kafka while both are up. Default DefaultFeedbackInterval (1 s).
	FeedbackInterval time.Duration
	// ClosedPolicy decides, per queue, whether a follow-up to a closed
	// ticket reopens it or opens a new linked ticket. The zero value
	// reopens in every queue.
	ClosedPolicy ClosedPolicy
	// BatchSize bounds the records applied in one database transaction.
	// Default DefaultBatchSize (500).
	BatchSize int
	// Serde decodes the TicketCommand records, in single-object encoding
	// or the Confluent wire format. Default schemas.NewSingleObject(),
	// which sends Confluent-framed records to the DLQ: use
	// schemas.NewRegistryDecoder when the processor writes with a schema
	// registry.
	Serde *schemas.Serde

	// MinBackoff and MaxBackoff bound the delay between retries while
	// PostgreSQL or Kafka fails. The delay doubles from MinBackoff up to
	// MaxBackoff, and each wait is drawn between half the delay and the
	// whole of it. Defaults 200 ms and 30 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Logger receives the sink's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics receives the sink's metrics (metrics.NewSink with
	// metrics.SinkPostgres). Nil, the default, records none.
	Metrics *metrics.Sink
	// Now returns the time stamped on dead letters and on tickets whose
	// command has no receive time. Default time.Now.
	Now func() time.Time
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.DSN == "":
		return cfg, errors.New("postgres sink config: DSN is empty: pass the PostgreSQL connection string, e.g. postgres://user@host:5432/db")
	case len(cfg.KafkaOpts) == 0:
		return cfg, errors.New("postgres sink config: KafkaOpts is empty: pass at least kgo.SeedBrokers")
	case cfg.BatchSize < 0:
		return cfg, fmt.Errorf("postgres sink config: BatchSize %d is negative: use 0 for the default of %d", cfg.BatchSize, DefaultBatchSize)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < 0:
		return cfg, fmt.Errorf("postgres sink config: backoff %v..%v is negative: use 0 for the defaults", cfg.MinBackoff, cfg.MaxBackoff)
	}

	if err := cfg.ClosedPolicy.validate(); err != nil {
		return cfg, err
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Tickets
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = topics.DLQ
	}
	if cfg.FeedbackTopic == "" {
		cfg.FeedbackTopic = topics.Feedback
	}
	if cfg.FeedbackTopic == cfg.Topic {
		return cfg, fmt.Errorf("postgres sink config: FeedbackTopic and Topic are both %s: feedback must go to another topic", cfg.Topic)
	}
	if cfg.FeedbackInterval < 0 {
		return cfg, fmt.Errorf("postgres sink config: FeedbackInterval %v is negative: use 0 for the default of %v", cfg.FeedbackInterval, DefaultFeedbackInterval)
	}
	if cfg.FeedbackInterval == 0 {
		cfg.FeedbackInterval = DefaultFeedbackInterval
	}
	if cfg.DLQTopic == cfg.Topic {
		return cfg, fmt.Errorf("postgres sink config: DLQTopic and Topic are both %s: the DLQ must be another topic", cfg.Topic)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return cfg, fmt.Errorf("postgres sink config: MaxBackoff %v is below MinBackoff %v: raise MaxBackoff", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}
