package ticketing

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// DefaultGroup is the consumer group when Config.Group is empty.
const DefaultGroup = "mailtriage-sink-ticketing"

// Stage is the DeadLetter.Stage of the records this sink gives up on.
const Stage = "sink-ticketing"

// SpanName names the trace span of each record.
const SpanName = "sink.ticketing"

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// KafkaOpts connect to the cluster, as kafkaconfig.Config.Opts returns
	// them. Required.
	KafkaOpts []kgo.Opt
	// Pool is the PostgreSQL database of the ledger and the offsets.
	// Required; the caller closes it after Run returned.
	Pool *pgxpool.Pool
	// Group is the consumer group, and the consumer_group of the stored
	// offsets. Default DefaultGroup.
	Group string
	// Topic is the topic of TicketCommand records. Default topics.Tickets.
	Topic string
	// DLQTopic receives the commands that failed for good. Default
	// topics.DLQ.
	DLQTopic string
	// Target is the external system. Required.
	Target Target
	// System names the external system in the ledger, so that one database
	// can serve sinks to several systems. Default Target.Kind().
	System string
	// Serde decodes the records. Default schemas.NewSingleObject().
	Serde *schemas.Serde
	// Retry bounds the calls to the target. By default transient failures
	// (timeouts, 408, 409, 429, 5xx) are retried without limit with a
	// backoff from 500ms to 30s, so the sink waits out an outage and then
	// catches up. A permanent failure (another 4xx) sends the command to
	// the dead-letter topic.
	Retry httpjson.RetryPolicy
	// MaxPollRecords bounds the records of one poll. Default 100.
	MaxPollRecords int
	// Logger receives the logs. Default: discarded.
	Logger *slog.Logger
	// Metrics receives the sink metrics. Nil records none.
	Metrics *metrics.Sink
	// Now stamps dead letters. Default time.Now.
	Now func() time.Time
}

func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.Target == nil:
		return cfg, errors.New("ticketing sink config: Target is nil: pass a REST, Zendesk or Jira target")
	case cfg.Pool == nil:
		return cfg, errors.New("ticketing sink config: Pool is nil: pass a pgxpool.Pool of the ledger database")
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = httpjson.Unlimited
	}
	retry, err := cfg.Retry.WithDefaults()
	if err != nil {
		return cfg, fmt.Errorf("ticketing sink config: %w", err)
	}
	cfg.Retry = retry
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Tickets
	}
	if cfg.System == "" {
		cfg.System = cfg.Target.Kind()
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
