package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = errors.New("postgres sink closed")

// Sink applies ticket commands from Kafka to PostgreSQL. Create it with
// New, drive it with Run and release it with Close.
//
// Offsets: the sink joins a Kafka consumer group only so that several
// instances share the partitions. It never commits offsets to Kafka.
// When partitions are assigned, the group's AdjustFetchOffsetsFn hook
// replaces the group's offsets with those stored in consumer_offsets, and
// each batch writes the new offsets in the transaction that applies it.
// A group was chosen over a fixed partition assignment because it lets
// an operator add or remove instances without configuring partitions by
// hand. The price is that a member can lose its partitions while a batch
// is still open, for example when PostgreSQL is down longer than the
// rebalance timeout. To stay exactly-once anyway, every batch locks the
// offset rows of its partitions and skips records below the stored
// offset, so a batch that another member already applied changes nothing.
// BlockRebalanceOnPoll keeps rebalances between batches in the normal
// case.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	client *kgo.Client // set by Run once the schema is migrated
	redact redactor

	running   atomic.Bool
	stopMu    sync.Mutex // guards stop, closed and the setting of client
	stop      context.CancelCauseFunc
	closed    bool
	closeOnce sync.Once

	// beforeCommit, when set by a test, runs in each batch transaction just
	// before COMMIT.
	beforeCommit func()
}

// New validates cfg and creates the PostgreSQL pool, which connects
// lazily: Run connects, migrates and then joins the Kafka group.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	poolConfig, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgconn masks the password in the text of this error.
		return nil, fmt.Errorf("invalid PostgreSQL DSN: %w", err)
	}
	s := &Sink{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "sink-postgres", "group", cfg.Group, "topic", cfg.Topic),
		redact: redactor{password: poolConfig.ConnConfig.Password},
	}
	s.log.Info("postgres sink configured", "postgres", describeDSN(&poolConfig.ConnConfig.Config), "batch", cfg.BatchSize)

	s.pool, err = pgxpool.NewWithConfig(context.Background(), poolConfig)
	if err != nil {
		return nil, fmt.Errorf("creating the PostgreSQL pool for %s: %s", describeDSN(&poolConfig.ConnConfig.Config), s.redact.text(err))
	}

	return s, nil
}

// Run migrates the schema, sends any dead letters left from an earlier
// run, starts the relay of the feedback outbox (FeedbackRelay), and then
// applies the topic's records until ctx is done, when it
// returns nil. It returns an error when a migration fails, or ErrClosed
// after Close. While PostgreSQL or Kafka is unreachable it retries with
// backoff and does not return. Run may be called once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("postgres sink: Run called twice: create a new Sink")
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s.stopMu.Lock()
	s.stop = stop
	closed := s.closed
	s.stopMu.Unlock()
	if closed {
		return ErrClosed
	}

	if err := s.migrate(ctx); err != nil {
		return s.stopError(ctx, err)
	}
	// The client joins the group as soon as it exists, and the group reads
	// the stored offsets on assignment, so it is created only once the
	// offsets table exists.
	if err := s.startClient(); err != nil {
		return s.stopError(ctx, err)
	}
	if err := s.flushOutbox(ctx); err != nil {
		return s.stopError(ctx, err)
	}
	stopRelay := s.startFeedbackRelay(ctx)
	defer stopRelay()
	s.log.Info("postgres sink started")

	for {
		fetches := s.client.PollRecords(ctx, s.cfg.BatchSize)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			s.client.AllowRebalance()
			return s.stopError(ctx, ErrClosed)
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			s.log.Warn("fetch failed", "fetch_topic", topic, "partition", partition, "error", err)
		})

		s.cfg.Metrics.ObserveFetches(fetches)
		err := s.handle(ctx, fetches)
		s.client.AllowRebalance()
		if err != nil {
			return s.stopError(ctx, err)
		}
	}
}

// startClient creates the Kafka client, which joins the group at once.
func (s *Sink) startClient() error {
	opts := append(append([]kgo.Opt(nil), s.cfg.KafkaOpts...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as records so that the stored
		// offset moves past them. Otherwise it would stop one short of the
		// end of a transactional topic, and a lag computed from
		// consumer_offsets would never reach zero.
		kgo.KeepControlRecords(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(s.storedOffsets),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onRevoked),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}

	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.closed {
		client.Close()
		return ErrClosed
	}
	s.client = client
	return nil
}

// stopError returns the error Run ends with: ErrClosed after Close, nil
// when the caller's ctx ended, and err otherwise.
func (s *Sink) stopError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// migrate applies the migrations, retrying while PostgreSQL cannot be
// reached. A migration that PostgreSQL rejects stops the sink.
func (s *Sink) migrate(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		applied, err := Migrate(ctx, s.pool)
		if err == nil {
			if len(applied) > 0 {
				s.log.Info("migrations applied", "files", applied)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isServerError(err) {
			return errors.New(s.redact.text(err))
		}
		if !s.waitRetry(ctx, "migrating the schema failed; retrying", attempt, err) {
			return ctx.Err()
		}
	}
}

// waitRetry logs one failed attempt with its error and waits out its
// backoff. It reports false when ctx ended during the wait.
func (s *Sink) waitRetry(ctx context.Context, msg string, attempt int, err error, attrs ...any) bool {
	delay := backoff(attempt, s.cfg.MinBackoff, s.cfg.MaxBackoff)
	attrs = append(attrs, "attempt", attempt, "retry_in", delay.String(), "error", s.redact.text(err))
	s.log.Warn(msg, attrs...)
	return sleep(ctx, delay)
}

// onRevoked logs partitions that leave this member.
func (s *Sink) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if len(revoked[s.cfg.Topic]) > 0 {
		s.log.Info("partitions revoked", "partitions", revoked[s.cfg.Topic])
	}
}

// Close leaves the group and closes the Kafka client and the pool. A
// batch still open is rolled back by PostgreSQL when its connection
// closes. Close is safe to call more than once and concurrently with Run,
// which then returns ErrClosed.
func (s *Sink) Close() {
	s.closeOnce.Do(func() {
		s.stopMu.Lock()
		s.closed = true
		if s.stop != nil {
			s.stop(ErrClosed)
		}
		client := s.client
		s.stopMu.Unlock()
		if client != nil {
			client.Close()
		}
		s.pool.Close()
		s.log.Info("postgres sink closed")
	})
}
