package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults of Config fields left zero.
const (
	// DefaultMaxPollRecords bounds the records of one poll, and so of one
	// transaction.
	DefaultMaxPollRecords = 500

	// DefaultRestoreTimeout bounds the restore of one partition's state.
	DefaultRestoreTimeout = 5 * time.Minute
)

// defaultGlobalMaxAge is the default of Config.GlobalMaxAge: the
// retention of the thread index topic.
const defaultGlobalMaxAge = time.Duration(topics.ThreadIndexRetention) * time.Millisecond

// Config configures a Runner. New validates it and fills in the defaults.
type Config struct {
	// Brokers are the Kafka bootstrap brokers as host:port. Required.
	Brokers []string
	// Group is the consumer group that shares the input partitions. Required.
	Group string
	// TransactionalID identifies the producer across restarts, so that a new
	// instance fences the transactions of the one it replaces. Each
	// concurrently running instance needs its own. Required.
	TransactionalID string
	// InputTopic is the topic of InboundEmail records. Required.
	InputTopic string
	// ChangelogTopic is the compacted topic backing the state stores. It
	// needs as many partitions as InputTopic. Default topics.DedupeChangelog.
	ChangelogTopic string
	// DLQTopic receives the records that could not be processed. Default
	// topics.DLQ.
	DLQTopic string
	// GlobalTopic is the compacted topic of the thread index, the table
	// that every instance reads in full and that the chain reads and
	// writes as Message.Global. Default topics.ThreadIndex.
	GlobalTopic string
	// GlobalMaxAge is the age after which a thread index entry is dropped
	// from memory. Default topics.ThreadIndexRetention (90 days), so the
	// table holds what the topic keeps.
	GlobalMaxAge time.Duration

	// Chain is run on every decoded message. Required.
	Chain processors.Chain
	// Outputs builds the records to produce for a message the chain
	// finished or stopped without error; processors.Outputs is the
	// production choice. Required.
	Outputs func(m *processors.Message, now time.Time) []processors.Output

	// Serde encodes the outputs and dead letters and decodes the input
	// records, which may use either framing. Default
	// schemas.NewSingleObject(). A Confluent Serde must know a schema ID
	// for every output topic: schemas.NewConfluent registers the topics of
	// the topology, and Run registers DLQTopic.
	Serde *schemas.Serde

	// Logger receives the runner's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics receives the runner's metrics (metrics.NewProcessor). Nil,
	// the default, records none.
	Metrics *metrics.Processor
	// ClientOpts are extra franz-go options (TLS, SASL, timeouts) for every
	// client the runner creates. They are applied before the runner's own
	// options, so they cannot change the group, the transactional ID, the
	// isolation level or the partitioner.
	ClientOpts []kgo.Opt
	// Now returns the time stamped on outputs and dead letters. Default
	// time.Now.
	Now func() time.Time

	// MaxPollRecords bounds the records processed in one transaction.
	// Default DefaultMaxPollRecords (500).
	MaxPollRecords int
	// RestoreTimeout bounds the restore of one assigned partition's state
	// from the changelog, and the restore of the thread index when Run
	// starts. Default DefaultRestoreTimeout (5 minutes).
	RestoreTimeout time.Duration
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return cfg, errors.New("runner config: Brokers is empty: give at least one host:port")
	case cfg.Group == "":
		return cfg, errors.New("runner config: Group is empty: name the consumer group")
	case cfg.TransactionalID == "":
		return cfg, errors.New("runner config: TransactionalID is empty: give each instance a stable, unique ID")
	case cfg.InputTopic == "":
		return cfg, errors.New("runner config: InputTopic is empty: use topics.Inbound")
	case len(cfg.Chain) == 0:
		return cfg, errors.New("runner config: Chain is empty: use processors.DefaultChain")
	case cfg.Outputs == nil:
		return cfg, errors.New("runner config: Outputs is nil: use processors.Outputs")
	case cfg.MaxPollRecords < 0:
		return cfg, fmt.Errorf("runner config: MaxPollRecords %d is negative: use 0 for the default of %d", cfg.MaxPollRecords, DefaultMaxPollRecords)
	case cfg.GlobalMaxAge < 0:
		return cfg, fmt.Errorf("runner config: GlobalMaxAge %v is negative: use 0 for the default of %v", cfg.GlobalMaxAge, defaultGlobalMaxAge)
	case cfg.RestoreTimeout < 0:
		return cfg, fmt.Errorf("runner config: RestoreTimeout %v is negative: use 0 for the default of %v", cfg.RestoreTimeout, DefaultRestoreTimeout)
	}
	for i, b := range cfg.Brokers {
		if b == "" {
			return cfg, fmt.Errorf("runner config: Brokers[%d] is empty: give host:port", i)
		}
	}
	for i, p := range cfg.Chain {
		if p == nil {
			return cfg, fmt.Errorf("runner config: Chain[%d] is nil", i)
		}
	}

	if cfg.ChangelogTopic == "" {
		cfg.ChangelogTopic = topics.DedupeChangelog
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = topics.DLQ
	}
	if cfg.ChangelogTopic == cfg.InputTopic || cfg.DLQTopic == cfg.InputTopic {
		return cfg, fmt.Errorf("runner config: the changelog (%s) and the DLQ (%s) must differ from the input topic %s", cfg.ChangelogTopic, cfg.DLQTopic, cfg.InputTopic)
	}
	if cfg.GlobalTopic == "" {
		cfg.GlobalTopic = topics.ThreadIndex
	}
	if cfg.GlobalMaxAge == 0 {
		cfg.GlobalMaxAge = defaultGlobalMaxAge
	}
	switch cfg.GlobalTopic {
	case cfg.InputTopic, cfg.ChangelogTopic, cfg.DLQTopic:
		return cfg, fmt.Errorf("runner config: GlobalTopic %s is also the input, changelog or DLQ topic: use topics.ThreadIndex", cfg.GlobalTopic)
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
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.RestoreTimeout == 0 {
		cfg.RestoreTimeout = DefaultRestoreTimeout
	}
	return cfg, nil
}
