package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults of Config fields left zero.
const (
	DefaultGroup          = "mailtriage-sink-slack"
	DefaultRequestTimeout = 10 * time.Second
	DefaultLedgerTimeout  = 10 * time.Second
	DefaultMaxPollRecords = 100
)

// Stage is the DeadLetter.Stage of the records this sink dead-letters.
const Stage = "sink-slack"

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// ClientOpts connect to the Kafka cluster: seed brokers, TLS and SASL,
	// as kafkaconfig.Config.Opts returns them. Required. The sink adds its
	// own group, topic, isolation and commit options after them.
	ClientOpts []kgo.Opt
	// Group is the consumer group. Default DefaultGroup.
	Group string
	// Topic is the topic of Notification records. Default
	// topics.Notifications.
	Topic string
	// DLQTopic receives the notifications that failed permanently. Default
	// topics.DLQ.
	DLQTopic string

	// Serde decodes the Notification records, in single-object encoding
	// or the Confluent wire format. Default schemas.NewSingleObject(),
	// which sends Confluent-framed records to the DLQ: use
	// schemas.NewRegistryDecoder when the processor writes with a schema
	// registry.
	Serde *schemas.Serde

	// Webhooks maps tenants to webhook URLs. At least one URL is required.
	Webhooks Webhooks
	// Ledger records deliveries. Required: a PostgresLedger in production,
	// a MemoryLedger for the embedded demo.
	Ledger Ledger

	// Retry bounds the posts of one notification, and sets the backoff of
	// ledger and dead-letter retries, which go on until they succeed.
	Retry RetryPolicy
	// RequestTimeout bounds one webhook post, response included. Default
	// 10s.
	RequestTimeout time.Duration
	// LedgerTimeout bounds one ledger call. Default 10s.
	LedgerTimeout time.Duration
	// HTTPClient sends the posts. Default: a client with
	// http.DefaultTransport. Redirects are never followed, because Slack
	// webhooks do not redirect and a redirect must not receive the body.
	HTTPClient *http.Client
	// MaxPollRecords bounds the records of one poll batch, whose offsets
	// are committed together. Default 100.
	MaxPollRecords int

	// Logger receives the sink's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics receives the sink's metrics (metrics.NewSink with
	// metrics.SinkSlack). Nil, the default, records none.
	Metrics *metrics.Sink
	// Now returns the time stamped on dead letters. Default time.Now.
	Now func() time.Time
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case len(cfg.ClientOpts) == 0:
		return cfg, errors.New("slack sink config: ClientOpts is empty: pass the Kafka options from kafkaconfig.Config.Opts")
	case cfg.Webhooks.Empty():
		return cfg, errors.New("slack sink config: no webhook URL: pass a webhook file, a --webhook tenant=URL or a --default-webhook")
	case cfg.Ledger == nil:
		return cfg, errors.New("slack sink config: Ledger is nil: use NewPostgresLedger, or NewMemoryLedger for a demo")
	case cfg.RequestTimeout < 0:
		return cfg, fmt.Errorf("slack sink config: RequestTimeout %v is negative: use 0 for the default of %v", cfg.RequestTimeout, DefaultRequestTimeout)
	case cfg.LedgerTimeout < 0:
		return cfg, fmt.Errorf("slack sink config: LedgerTimeout %v is negative: use 0 for the default of %v", cfg.LedgerTimeout, DefaultLedgerTimeout)
	case cfg.MaxPollRecords < 0:
		return cfg, fmt.Errorf("slack sink config: MaxPollRecords %d is negative: use 0 for the default of %d", cfg.MaxPollRecords, DefaultMaxPollRecords)
	}
	if err := cfg.Webhooks.Validate(); err != nil {
		return cfg, fmt.Errorf("slack sink config: %w", err)
	}

	retry, err := cfg.Retry.withDefaults()
	if err != nil {
		return cfg, fmt.Errorf("slack sink config: %w", err)
	}
	cfg.Retry = retry

	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Notifications
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = topics.DLQ
	}
	if cfg.DLQTopic == cfg.Topic {
		return cfg, fmt.Errorf("slack sink config: DLQTopic and Topic are both %s: dead letters need their own topic", cfg.Topic)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.LedgerTimeout == 0 {
		cfg.LedgerTimeout = DefaultLedgerTimeout
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.HTTPClient = noRedirects(cfg.HTTPClient)
	return cfg, nil
}

// noRedirects returns a copy of c (or of a default client) that returns a
// redirect response as it is instead of following it.
func noRedirects(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return out
}
