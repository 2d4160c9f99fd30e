package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchErrorLogInterval is how often one repeating fetch error is logged.
const fetchErrorLogInterval = time.Minute

// Sink consumes DecisionEvent records from Kafka and inserts them into the
// ClickHouse decisions table in batches. Create it with New, run it with
// Run, then Close it. Only Stats is safe to call while Run runs.
type Sink struct {
	cfg       Config
	log       *slog.Logger
	kafka     *kgo.Client
	conn      driver.Conn
	backoff   backoff
	insertSQL string
	counters  counters
	started   atomic.Bool // set by the first Run
	closeOnce sync.Once

	// afterInsert, when set by a test, runs after a batch is inserted and
	// before its dead letters and offsets are written. A non-nil error
	// stops Run there, as a crash would.
	afterInsert func() error

	// inserted marks the tables that the current batch was inserted into,
	// so that the flush of drain, after cancellation interrupted a flush,
	// does not insert them again. Only Run's goroutine uses it.
	inserted insertedTables

	// lastFetchError and lastFetchErrorAt rate-limit fetch error logs.
	// Only Run's goroutine uses them.
	lastFetchError   string
	lastFetchErrorAt time.Time
}

// New validates cfg and creates the Kafka and ClickHouse clients. It does
// not connect to either service. Run does: it retries ClickHouse with
// backoff, and the Kafka client retries on its own.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	opts := append(slices.Clone(cfg.KafkaOpts),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.consumedTopics()...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	kafka, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client of the ClickHouse sink: %w", err)
	}

	conn, err := ch.Open(&ch.Options{
		Protocol:     ch.Native,
		Addr:         []string{cfg.Addr},
		Auth:         ch.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.QueryTimeout,
		MaxOpenConns: 4,
		MaxIdleConns: 2,
		Compression:  &ch.Compression{Method: ch.CompressionLZ4},
		ClientInfo:   ch.ClientInfo{Products: []struct{ Name, Version string }{{Name: "mailtriage-sink-clickhouse"}}},
	})
	if err != nil {
		kafka.Close()
		return nil, fmt.Errorf("creating the ClickHouse client for %s: %w", cfg.Addr, err)
	}

	return &Sink{
		cfg:       cfg,
		log:       cfg.Logger.With("component", Stage),
		kafka:     kafka,
		conn:      conn,
		backoff:   backoff{min: cfg.RetryMin, max: cfg.RetryMax},
		insertSQL: insertStatement(cfg.Database, cfg.Table),
	}, nil
}

// Run applies the schema, then consumes until ctx is canceled. It flushes
// a batch when it holds BatchRows records or BatchWait after its first
// record arrived: it inserts the rows, sends the records that do not
// decode to the dead-letter topic, then commits the group offsets. On
// cancellation it flushes the last batch within DrainTimeout and returns
// nil. It returns an error when the Kafka client was closed, or when a dead
// letter cannot be encoded.
//
// Run fails when called a second time on the same Sink.
func (s *Sink) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("clickhouse sink: Run was already called: create a new Sink with New")
	}

	err := s.retry(ctx, "applying the ClickHouse schema", &s.counters.insertRetries,
		[]any{"database", s.cfg.Database, "table", s.cfg.Table},
		func(ctx context.Context) error { return s.applySchemas(ctx) })
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	s.log.Info("clickhouse sink started", "topics", s.cfg.consumedTopics(), "group", s.cfg.Group,
		"database", s.cfg.Database, "table", s.cfg.Table,
		"batch_rows", s.cfg.BatchRows, "batch_wait", s.cfg.BatchWait.String())
	err = s.consume(ctx)
	s.log.Info("clickhouse sink stopped", "rows", s.counters.rows.Load(), "dead_letters", s.counters.deadLetters.Load())
	return err
}

// consume is the poll loop of Run. Every record it polls is in batch until
// the batch is flushed, so the offsets that CommitUncommittedOffsets
// commits never pass a record that is not in ClickHouse or the DLQ.
func (s *Sink) consume(ctx context.Context) error {
	var batch []*kgo.Record
	var deadline time.Time // flush time of the current batch; zero while it is empty

	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if len(batch) > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, deadline)
		}
		fetches := s.kafka.PollRecords(pollCtx, s.cfg.BatchRows-len(batch))
		cancel()

		before := len(batch)
		fetches.EachRecord(func(r *kgo.Record) { batch = append(batch, r) })
		s.counters.records.add(int64(len(batch) - before))
		s.cfg.Metrics.Records(len(batch) - before)
		s.cfg.Metrics.ObserveFetches(fetches)
		if ctx.Err() != nil {
			s.drain(ctx, batch)
			return nil
		}
		if err := s.checkFetchErrors(fetches); err != nil {
			return err
		}

		if len(batch) == 0 {
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.cfg.BatchWait)
		}
		if len(batch) < s.cfg.BatchRows && time.Now().Before(deadline) {
			continue
		}

		if err := s.flush(ctx, batch); err != nil {
			if ctx.Err() != nil {
				s.drain(ctx, batch)
				return nil
			}
			return err
		}
		batch, deadline = batch[:0], time.Time{}
	}
}

// drain flushes the records polled before ctx was canceled, within
// DrainTimeout. Records it cannot flush stay uncommitted and are read again
// on the next start. With no records left, it commits the offsets of the
// last flushed batch, in case cancellation interrupted that commit.
func (s *Sink) drain(ctx context.Context, batch []*kgo.Record) {
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
	defer cancel()
	if len(batch) == 0 {
		if err := s.kafka.CommitUncommittedOffsets(drainCtx); err != nil {
			s.counters.commitErrors.add(1)
			s.log.Warn("committing offsets before stopping failed; the last batch will be inserted again on the next start",
				"group", s.cfg.Group, "error", err.Error())
		}
		return
	}
	if err := s.flush(drainCtx, batch); err != nil {
		s.log.Warn("flushing the last batch before stopping failed; its records will be read again on the next start",
			"records", len(batch), "error", err.Error())
	}
}

// checkFetchErrors logs the fetch errors that franz-go reports and retries
// on its own. An error with the same text as the previous one is logged
// again only after a minute. It returns an error when the client is closed.
func (s *Sink) checkFetchErrors(fetches kgo.Fetches) error {
	var closed error
	fetches.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return
		case errors.Is(err, kgo.ErrClientClosed):
			closed = fmt.Errorf("consuming %s: %w", s.cfg.Topic, err)
			return
		}
		text := err.Error()
		if text == s.lastFetchError && time.Since(s.lastFetchErrorAt) < fetchErrorLogInterval {
			return
		}
		s.lastFetchError, s.lastFetchErrorAt = text, time.Now()
		s.log.Warn("fetching records failed; the Kafka client retries", "topic", topic, "partition", partition, "error", text)
	})
	return closed
}

// Close closes the Kafka and ClickHouse clients. It leaves the consumer
// group without committing, and is safe to call more than once.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.kafka.Close()
		err = s.conn.Close()
	})
	return err
}
