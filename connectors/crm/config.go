package crm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults and names of the sink.
const (
	DefaultGroup  = "mailtriage-sink-crm"
	DefaultSystem = "crm"
	Stage         = "sink-crm"
	SpanName      = "sink.crm"
)

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// KafkaOpts connect to the cluster. Required.
	KafkaOpts []kgo.Opt
	// Pool is the PostgreSQL database of the ledger and the offsets.
	// Required; the caller closes it.
	Pool *pgxpool.Pool
	// Group is the consumer group. Default DefaultGroup.
	Group string
	// Topic is the topic of TicketCommand records. Default topics.Tickets.
	Topic string
	// DLQTopic receives the commands that failed for good. Default
	// topics.DLQ.
	DLQTopic string
	// URL is the collection URL of contacts, such as
	// https://crm.example.com/api/contacts. Required.
	URL string
	// Client sends the requests with the CRM's token. Required.
	Client *httpjson.Client
	// System names the CRM in the ledger. Default "crm".
	System string
	// Serde decodes the records. Default schemas.NewSingleObject().
	Serde *schemas.Serde
	// Retry bounds the calls to the CRM. Default: transient failures are
	// retried without limit, so the sink waits out an outage.
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
	case cfg.Pool == nil:
		return cfg, errors.New("crm sink config: Pool is nil: pass a pgxpool.Pool of the ledger database")
	case cfg.Client == nil:
		return cfg, errors.New("crm sink config: Client is nil: pass an httpjson.Client with the CRM token")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return cfg, fmt.Errorf("crm sink config: invalid URL %q: give the absolute http(s) URL of the contacts collection", cfg.URL)
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = httpjson.Unlimited
	}
	if cfg.Retry, err = cfg.Retry.WithDefaults(); err != nil {
		return cfg, fmt.Errorf("crm sink config: %w", err)
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Tickets
	}
	if cfg.System == "" {
		cfg.System = DefaultSystem
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
