package clickhouse

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults of Config fields left zero.
const (
	DefaultDatabase     = "mailtriage"
	DefaultTable        = "decisions"
	DefaultGroup        = "mailtriage-sink-clickhouse"
	DefaultUsername     = "default"
	DefaultBatchRows    = 5000
	DefaultBatchWait    = time.Second
	DefaultRetryMin     = 500 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	DefaultDialTimeout  = 5 * time.Second
	DefaultQueryTimeout = 60 * time.Second
	DefaultDrainTimeout = 10 * time.Second
)

// Limits that Config.validate enforces.
const (
	maxBatchRows = 1_000_000
	maxBatchWait = 10 * time.Minute
)

// identifierPattern matches the database and table names that the sink
// accepts. They are spliced into SQL text, because ClickHouse cannot bind
// identifiers, so nothing outside this set gets through.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// Addr is the host:port of the ClickHouse native protocol (TCP, not
	// HTTP). Required.
	Addr string
	// Database holds the table. It is created when missing. Default
	// DefaultDatabase ("mailtriage").
	Database string
	// Table is the name of the decisions table. Default DefaultTable
	// ("decisions").
	Table string
	// FeedbackTable, TicketEventsTable and DeadLettersTable name the tables
	// of the records of FeedbackTopic, TicketEventsTopic and DLQTopic.
	// Defaults DefaultFeedbackTable ("feedback"), DefaultTicketEventsTable
	// ("ticket_events") and DefaultDeadLettersTable ("dead_letters").
	FeedbackTable     string
	TicketEventsTable string
	DeadLettersTable  string
	// Username is the ClickHouse user. Default DefaultUsername ("default").
	Username string
	// Password of Username; empty for none. Never logged.
	Password string

	// KafkaOpts connect to the cluster (seed brokers, TLS, SASL), as
	// kafkaconfig.Config.Opts returns them. They are applied before the
	// sink's own options, so they cannot change the group, the topic, the
	// isolation level or the commit mode. Required.
	KafkaOpts []kgo.Opt
	// Group is the Kafka consumer group. Default DefaultGroup.
	Group string
	// Topic carries the DecisionEvent records. Default topics.Analytics.
	Topic string
	// DLQTopic receives the records that cannot be decoded. The sink also
	// consumes it and counts its dead letters in DeadLettersTable. Default
	// topics.DLQ.
	DLQTopic string
	// FeedbackTopic carries the FeedbackEvent records (reassignments).
	// Default topics.Feedback.
	FeedbackTopic string
	// TicketEventsTopic carries the TicketEvent records (replies, status
	// changes and notes). Default topics.TicketEvents.
	TicketEventsTopic string
	// Serde decodes the DecisionEvent records, in single-object encoding
	// or the Confluent wire format. Default schemas.NewSingleObject(),
	// which sends Confluent-framed records to the DLQ: use
	// schemas.NewRegistryDecoder when the processor writes with a schema
	// registry.
	Serde *schemas.Serde

	// BatchRows flushes a batch once it holds this many records. Default
	// DefaultBatchRows (5000).
	BatchRows int
	// BatchWait flushes a batch this long after its first record arrived,
	// even when it holds fewer than BatchRows records. Default
	// DefaultBatchWait (1s).
	BatchWait time.Duration

	// RetryMin is the delay before the first retry of a failed ClickHouse
	// or DLQ write. Each further retry doubles it, up to RetryMax, and each
	// delay is then drawn at random from its upper half. Default
	// DefaultRetryMin (500ms).
	RetryMin time.Duration
	// RetryMax caps the retry delay. Default DefaultRetryMax (30s).
	RetryMax time.Duration
	// DialTimeout bounds one connection attempt to ClickHouse. Default
	// DefaultDialTimeout (5s).
	DialTimeout time.Duration
	// QueryTimeout bounds one read from a ClickHouse connection, so a server
	// that stops responding mid-insert causes a retry. Default
	// DefaultQueryTimeout (60s).
	QueryTimeout time.Duration
	// DrainTimeout bounds the last flush after the context of Run is
	// canceled. Records left unflushed are not committed and are read again
	// on the next start. Default DefaultDrainTimeout (10s).
	DrainTimeout time.Duration

	// Logger receives the sink's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics receives the sink's metrics (metrics.NewSink with
	// metrics.SinkClickHouse). Nil, the default, records none.
	Metrics *metrics.Sink
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	setDefault(&cfg.Database, DefaultDatabase)
	setDefault(&cfg.Table, DefaultTable)
	setDefault(&cfg.Username, DefaultUsername)
	setDefault(&cfg.Group, DefaultGroup)
	setDefault(&cfg.Topic, topics.Analytics)
	setDefault(&cfg.DLQTopic, topics.DLQ)
	setDefault(&cfg.FeedbackTopic, topics.Feedback)
	setDefault(&cfg.TicketEventsTopic, topics.TicketEvents)
	setDefault(&cfg.FeedbackTable, DefaultFeedbackTable)
	setDefault(&cfg.TicketEventsTable, DefaultTicketEventsTable)
	setDefault(&cfg.DeadLettersTable, DefaultDeadLettersTable)
	setDefault(&cfg.BatchRows, DefaultBatchRows)
	setDefault(&cfg.BatchWait, DefaultBatchWait)
	setDefault(&cfg.RetryMin, DefaultRetryMin)
	setDefault(&cfg.RetryMax, DefaultRetryMax)
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.QueryTimeout, DefaultQueryTimeout)
	setDefault(&cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg, cfg.validate()
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Addr == "":
		return errors.New("clickhouse sink config: Addr is empty: give the host:port of the ClickHouse native protocol, such as 127.0.0.1:9000")
	case len(cfg.KafkaOpts) == 0:
		return errors.New("clickhouse sink config: KafkaOpts is empty: pass the options of kafkaconfig.Config.Opts, which include the seed brokers")
	case !identifierPattern.MatchString(cfg.Database):
		return fmt.Errorf("clickhouse sink config: invalid Database %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", cfg.Database)
	case !identifierPattern.MatchString(cfg.Table):
		return fmt.Errorf("clickhouse sink config: invalid Table %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", cfg.Table)
	case cfg.BatchRows < 1 || cfg.BatchRows > maxBatchRows:
		return fmt.Errorf("clickhouse sink config: invalid BatchRows %d: use 1 to %d", cfg.BatchRows, maxBatchRows)
	case cfg.BatchWait < time.Millisecond || cfg.BatchWait > maxBatchWait:
		return fmt.Errorf("clickhouse sink config: invalid BatchWait %s: use 1ms to %s", cfg.BatchWait, maxBatchWait)
	case cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin:
		return fmt.Errorf("clickhouse sink config: invalid retry delays RetryMin %s, RetryMax %s: RetryMin must be positive and at most RetryMax", cfg.RetryMin, cfg.RetryMax)
	case cfg.DialTimeout <= 0 || cfg.QueryTimeout <= 0 || cfg.DrainTimeout <= 0:
		return fmt.Errorf("clickhouse sink config: DialTimeout %s, QueryTimeout %s and DrainTimeout %s must all be positive", cfg.DialTimeout, cfg.QueryTimeout, cfg.DrainTimeout)
	}
	return cfg.validateEventTables()
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}
