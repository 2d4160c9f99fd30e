package teams

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults and names of the sink.
const (
	DefaultGroup          = "mailtriage-sink-teams"
	DefaultMaxAttempts    = 8
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxPollRecords = 100
	Stage                 = "sink-teams"
	SpanName              = "sink.teams"
)

// DefaultChannels are the Notification.Channel values the sink posts. The
// processor marks every chat notice "slack", so by default the Teams sink
// posts the same notices as the Slack sink. The value "teams" serves
// producers that address Teams alone.
var DefaultChannels = []string{"", "slack", "teams"}

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// ClientOpts connect to the cluster. Required.
	ClientOpts []kgo.Opt
	// Group is the consumer group. Default DefaultGroup.
	Group string
	// Topic is the topic of Notification records. Default
	// topics.Notifications.
	Topic string
	// DLQTopic receives the notices that failed for good. Default
	// topics.DLQ.
	DLQTopic string
	// Serde decodes the records. Default schemas.NewSingleObject().
	Serde *schemas.Serde
	// Webhooks maps tenants to webhook URLs. At least one is required.
	Webhooks Webhooks
	// Ledger records deliveries. Required.
	Ledger *Ledger
	// Channels lists the Notification.Channel values to post. Default
	// DefaultChannels.
	Channels []string
	// Retry bounds the posts of one notice. Default 8 attempts, backoff
	// from 500ms to 30s.
	Retry httpjson.RetryPolicy
	// RequestTimeout bounds one post, response included. Default 10s.
	RequestTimeout time.Duration
	// HTTPClient sends the posts; redirects are never followed. Default: a
	// client with http.DefaultTransport.
	HTTPClient *http.Client
	// MaxPollRecords bounds the records of one poll batch. Default 100.
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
	case len(cfg.ClientOpts) == 0:
		return cfg, errors.New("teams sink config: ClientOpts is empty: pass the Kafka options from kafkaconfig.Config.Opts")
	case cfg.Webhooks.Empty():
		return cfg, errors.New("teams sink config: no webhook URL: pass a webhook file or a default webhook")
	case cfg.Ledger == nil:
		return cfg, errors.New("teams sink config: Ledger is nil: use NewLedger")
	case cfg.RequestTimeout < 0:
		return cfg, fmt.Errorf("teams sink config: RequestTimeout %v is negative: use 0 for the default of %v", cfg.RequestTimeout, DefaultRequestTimeout)
	case cfg.MaxPollRecords < 0:
		return cfg, fmt.Errorf("teams sink config: MaxPollRecords %d is negative: use 0 for the default of %d", cfg.MaxPollRecords, DefaultMaxPollRecords)
	}
	if err := cfg.Webhooks.Validate(); err != nil {
		return cfg, fmt.Errorf("teams sink config: %w", err)
	}
	if cfg.Retry.MaxAttempts == 0 {
		cfg.Retry.MaxAttempts = DefaultMaxAttempts
	}
	retry, err := cfg.Retry.WithDefaults()
	if err != nil {
		return cfg, fmt.Errorf("teams sink config: %w", err)
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
		return cfg, fmt.Errorf("teams sink config: DLQTopic and Topic are both %s: dead letters need their own topic", cfg.Topic)
	}
	if cfg.Channels == nil {
		cfg.Channels = slices.Clone(DefaultChannels)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
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
	return cfg, nil
}
