// Package pgconsumer runs the Kafka consumer of a sink that calls an
// external API and keeps its offsets in PostgreSQL, beside the ledger rows
// that make the calls idempotent. The ticketing and CRM sinks use it.
//
// The consumer joins a Kafka group only to share partitions and never
// commits offsets to Kafka. On assignment it seeks to the offsets stored in
// the consumer_offsets table (one row per group, topic and partition), and
// a record's work ends with Finish, which writes the record's ledger rows
// and its next offset in one transaction. Begin opens the record's work:
// it skips a record below the stored offset, which another run already
// finished. Records are handled one at a time, in offset order.
//
// Dead letters go through the dead_letter_outbox table in the transaction
// that moves the offset past the record, and are produced after the
// commit, so a crash can produce one twice (with one event ID) but never
// lose it. The tables come from the migrations of package postgres, which
// Run applies.
package pgconsumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
	"mailtriage/internal/tracing"
	"mailtriage/topics"
)

// ErrClosed is returned by Run when the Consumer was closed.
var ErrClosed = errors.New("consumer closed")

// DefaultMaxPollRecords bounds the records of one poll when
// Config.MaxPollRecords is zero.
const DefaultMaxPollRecords = 100

// dbTimeout bounds one try of a PostgreSQL transaction or a produce.
const dbTimeout = 30 * time.Second

// Config configures a Consumer.
type Config struct {
	// KafkaOpts connect to the cluster: seed brokers, TLS and SASL.
	// Required. The consumer adds its group, topic and isolation options.
	KafkaOpts []kgo.Opt
	// Pool is the PostgreSQL pool of the offsets and ledger tables.
	// Required; the caller closes it after Run returned.
	Pool *pgxpool.Pool
	// Group is the consumer group and the consumer_group of the stored
	// offsets and dead letters. Required.
	Group string
	// Topic is the topic to consume. Required.
	Topic string
	// DLQTopic receives dead letters. Default topics.DLQ.
	DLQTopic string
	// Stage is the DeadLetter.Stage of this sink, such as
	// "sink-ticketing". Required.
	Stage string
	// SpanName names the trace span of each record, such as
	// "sink.ticketing". Required.
	SpanName string
	// MaxPollRecords bounds the records of one poll. Default 100.
	MaxPollRecords int
	// Retry sets the backoff of PostgreSQL and Kafka retries, which go on
	// until they succeed or the context ends. Only its delays are used.
	Retry httpjson.RetryPolicy
	// Logger receives the logs. Default: discarded.
	Logger *slog.Logger
	// Metrics receives the sink metrics. Nil records none.
	Metrics *metrics.Sink
	// Now stamps dead letters. Default time.Now.
	Now func() time.Time
}

func (cfg Config) withDefaults() (Config, error) {
	switch {
	case len(cfg.KafkaOpts) == 0:
		return cfg, errors.New("consumer config: KafkaOpts is empty: pass the Kafka options from kafkaconfig.Config.Opts")
	case cfg.Pool == nil:
		return cfg, errors.New("consumer config: Pool is nil: pass a pgxpool.Pool of the ledger database")
	case cfg.Group == "":
		return cfg, errors.New("consumer config: Group is empty: name the consumer group")
	case cfg.Topic == "":
		return cfg, errors.New("consumer config: Topic is empty: name the topic to consume")
	case cfg.Stage == "" || cfg.SpanName == "":
		return cfg, errors.New("consumer config: Stage and SpanName are required")
	case cfg.MaxPollRecords < 0:
		return cfg, fmt.Errorf("consumer config: MaxPollRecords %d is negative: use 0 for the default of %d", cfg.MaxPollRecords, DefaultMaxPollRecords)
	}
	retry, err := cfg.Retry.WithDefaults()
	if err != nil {
		return cfg, fmt.Errorf("consumer config: %w", err)
	}
	cfg.Retry = retry
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = topics.DLQ
	}
	if cfg.DLQTopic == cfg.Topic {
		return cfg, fmt.Errorf("consumer config: DLQTopic and Topic are both %s: dead letters need their own topic", cfg.Topic)
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// Handler handles one data record. It returns nil when the record is done,
// its offset stored by Finish; httpjson.ErrStopped when the context ended
// first; or an error that stops Run.
type Handler func(ctx context.Context, rec *kgo.Record) error

// Consumer drives a Handler over a topic. Create it with New, drive it
// with Run and release it with Close.
type Consumer struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool

	running   atomic.Bool
	stopMu    sync.Mutex // guards client, stop and closed
	client    *kgo.Client
	stop      context.CancelCauseFunc
	closed    bool
	closeOnce sync.Once
}

// New validates cfg. It connects to nothing: Run does.
func New(cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Consumer{cfg: cfg, log: cfg.Logger, pool: cfg.Pool}, nil
}

// Group returns the consumer group.
func (c *Consumer) Group() string { return c.cfg.Group }

// Run applies the migrations of package postgres, produces dead letters
// left in the outbox, joins the group and hands each data record to
// handle until ctx ends, when it returns nil. While PostgreSQL or Kafka is
// unreachable it retries with backoff. It returns ErrClosed after Close,
// and the error of handle that stopped it otherwise. Run may be called
// once.
func (c *Consumer) Run(ctx context.Context, handle Handler) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("consumer: Run called twice: create a new Consumer")
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	c.stopMu.Lock()
	c.stop = stop
	closed := c.closed
	c.stopMu.Unlock()
	if closed {
		return ErrClosed
	}

	err := c.Retry(ctx, "migrating the tables", func(ctx context.Context) error {
		applied, err := postgres.Migrate(ctx, c.pool)
		if len(applied) > 0 {
			c.log.Info("migrations applied", "files", applied)
		}
		return err
	})
	if err != nil {
		return c.stopError(ctx, err)
	}
	if err := c.startClient(); err != nil {
		return c.stopError(ctx, err)
	}
	if err := c.FlushOutbox(ctx); err != nil {
		return c.stopError(ctx, err)
	}

	for {
		fetches := c.client.PollRecords(ctx, c.cfg.MaxPollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			c.client.AllowRebalance()
			return c.stopError(ctx, ErrClosed)
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			c.log.Warn("fetch failed", "fetch_topic", topic, "partition", partition, "error", err)
		})
		c.cfg.Metrics.ObserveFetches(fetches)

		err := c.handleAll(ctx, fetches.Records(), handle)
		c.client.AllowRebalance()
		if err != nil {
			return c.stopError(ctx, err)
		}
	}
}

// handleAll handles the records of one poll in order.
func (c *Consumer) handleAll(ctx context.Context, records []*kgo.Record, handle Handler) error {
	for _, rec := range records {
		if rec.Attrs.IsControl() {
			// A transaction marker only moves the stored offset, so that
			// the offset reaches the end of the log.
			if err := c.Finish(ctx, rec, nil); err != nil {
				return err
			}
			continue
		}
		c.cfg.Metrics.Records(1)

		recCtx, span := tracing.StartRecord(ctx, c.cfg.SpanName, rec)
		err := handle(recCtx, rec)
		if errors.Is(err, httpjson.ErrStopped) {
			span.End() // a stop is not a failure of the record
		} else {
			tracing.End(span, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startClient creates the Kafka client, which joins the group at once.
func (c *Consumer) startClient() error {
	opts := append(append([]kgo.Opt(nil), c.cfg.KafkaOpts...),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(c.storedOffsets),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}

	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.closed {
		client.Close()
		return ErrClosed
	}
	c.client = client
	return nil
}

// storedOffsets is the group's AdjustFetchOffsetsFn: it replaces the
// offsets of newly assigned partitions with those in consumer_offsets. A
// partition without a stored offset starts at the beginning of the log.
func (c *Consumer) storedOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	partitions, ok := assigned[c.cfg.Topic]
	if !ok {
		return assigned, nil
	}
	stored := map[int32]int64{}
	err := c.Retry(ctx, "reading stored offsets", func(ctx context.Context) error {
		rows, err := c.pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets
			WHERE consumer_group = $1 AND topic = $2`, c.cfg.Group, c.cfg.Topic)
		if err != nil {
			return fmt.Errorf("reading consumer_offsets: %w", err)
		}
		offsets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]int64, error) {
			var partition int32
			var next int64
			err := row.Scan(&partition, &next)
			return [2]int64{int64(partition), next}, err
		})
		if err != nil {
			return fmt.Errorf("reading consumer_offsets: %w", err)
		}
		clear(stored)
		for _, o := range offsets {
			stored[int32(o[0])] = o[1]
		}
		return nil
	})
	if err != nil {
		return nil, ctx.Err()
	}

	for p := range partitions {
		if next, ok := stored[p]; ok {
			// Epoch -1 turns off the client's data loss detection, which
			// would compare against a leader epoch PostgreSQL does not keep.
			partitions[p] = kgo.NewOffset().At(next).WithEpoch(-1)
		} else {
			partitions[p] = kgo.NewOffset().AtStart()
		}
	}
	c.log.Info("partitions assigned; seeking to stored offsets", "offsets", stored)
	return assigned, nil
}

// stopError returns the error Run ends with: ErrClosed after Close, nil
// when the caller's ctx ended or the handler stopped, and err otherwise.
func (c *Consumer) stopError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	if ctx.Err() != nil || errors.Is(err, httpjson.ErrStopped) {
		return nil
	}
	return err
}

// Retry runs fn until it succeeds, backing off between tries and logging
// each failure once with its error. Each try has its own 30s timeout and
// is not canceled by ctx, so an outcome is recorded even while the sink
// stops. The waits end with ctx, and Retry then returns
// httpjson.ErrStopped.
func (c *Consumer) Retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
		err := fn(opCtx)
		cancel()
		if err == nil {
			return nil
		}
		wait := c.cfg.Retry.Backoff(attempt)
		c.log.Warn(what+" failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		if httpjson.Sleep(ctx, wait) != nil {
			return httpjson.ErrStopped
		}
	}
}

// Close leaves the group and closes the Kafka client; the caller closes
// the pool. It is safe to call more than once and concurrently with Run,
// which then returns ErrClosed.
func (c *Consumer) Close() {
	c.closeOnce.Do(func() {
		c.stopMu.Lock()
		c.closed = true
		if c.stop != nil {
			c.stop(ErrClosed)
		}
		client := c.client
		c.stopMu.Unlock()
		if client != nil {
			client.Close()
		}
	})
}
