package smtpsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = errors.New("smtp sink closed")

// errStopped ends the handling of a record when ctx ended first.
var errStopped = errors.New("smtp sink stopping")

// dbTimeout bounds one try of a PostgreSQL transaction or a produce.
const dbTimeout = 30 * time.Second

// Sink sends the AutoReply commands and the agent replies (OutboundMessage)
// of Kafka through an SMTP relay. Create
// it with New, drive it with Run and release it with Close.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	client *kgo.Client // set by Run once the tables exist
	stats  counters

	running   atomic.Bool
	stopMu    sync.Mutex // guards stop, closed and the setting of client
	stop      context.CancelCauseFunc
	closed    bool
	closeOnce sync.Once

	// beforeClaimCommit, when set by a test, runs in each claim
	// transaction just before COMMIT.
	beforeClaimCommit func()
}

// New validates cfg and creates the PostgreSQL pool, which connects
// lazily: Run migrates the tables and then joins the Kafka group.
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
		cfg: cfg,
		log: cfg.Logger.With("component", "sink-smtp", "group", cfg.Group, "topic", cfg.Topic),
	}
	s.pool, err = pgxpool.NewWithConfig(context.Background(), poolConfig)
	if err != nil {
		return nil, fmt.Errorf("creating the PostgreSQL pool: %w", err)
	}
	return s, nil
}

// Stats returns the counters so far. It is safe to call at any time.
func (s *Sink) Stats() Stats { return s.stats.snapshot() }

// Run migrates the tables, marks the rows a stopped sink left sending as
// unknown, produces dead letters left in the outbox, and then sends the
// topic's commands until ctx is done, when it returns nil. While
// PostgreSQL, Kafka or the relay is unreachable it retries with backoff.
// It returns ErrClosed after Close. Run may be called once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("smtp sink: Run called twice: create a new Sink")
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

	err := s.retry(ctx, "migrating the tables", func(ctx context.Context) error {
		applied, err := postgres.Migrate(ctx, s.pool)
		if len(applied) > 0 {
			s.log.Info("migrations applied", "files", applied)
		}
		return err
	})
	if err != nil {
		return s.stopError(ctx, err)
	}
	if err := s.recoverSending(ctx); err != nil {
		return s.stopError(ctx, err)
	}
	if err := s.startClient(); err != nil {
		return s.stopError(ctx, err)
	}
	if err := s.flushOutbox(ctx); err != nil {
		return s.stopError(ctx, err)
	}
	s.log.Info("SMTP sink started", "relay", s.cfg.Relay.Addr, "starttls", s.cfg.Relay.StartTLS)

	for {
		fetches := s.client.PollRecords(ctx, s.cfg.MaxPollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			s.client.AllowRebalance()
			return s.stopError(ctx, ErrClosed)
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			s.log.Warn("fetch failed", "fetch_topic", topic, "partition", partition, "error", err)
		})

		s.cfg.Metrics.Polled(fetches)
		err := s.handleFetches(ctx, fetches)
		s.client.AllowRebalance()
		if err != nil {
			return s.stopError(ctx, err)
		}
	}
}

// recoverSending applies the crash rule at start-up: every row left
// sending is marked unknown and logged once, and never sent again.
func (s *Sink) recoverSending(ctx context.Context) error {
	var rows []recoveredRow
	err := s.retry(ctx, "recovering sending auto-replies", func(ctx context.Context) error {
		var err error
		rows, err = s.markSendingUnknown(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		s.stats.unknown.Add(1)
		s.log.Warn("auto-reply outcome unknown: a previous run stopped while sending it, so it is not sent again",
			"tenant", r.tenant, "event_id", r.eventID, "attempts", r.attempts)
	}
	return nil
}

// startClient creates the Kafka client, which joins the group at once.
func (s *Sink) startClient() error {
	opts := append(append([]kgo.Opt(nil), s.cfg.KafkaOpts...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.topics()...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as records, so that the stored
		// offset moves past the last one of a partition.
		kgo.KeepControlRecords(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AdjustFetchOffsetsFn(s.storedOffsets),
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

// topics returns the topics the sink consumes: the acknowledgements and,
// unless NoOutbound is set, the agent replies. Both share one consumer
// group, one ledger and one relay.
func (s *Sink) topics() []string {
	if s.cfg.NoOutbound {
		return []string{s.cfg.Topic}
	}
	return []string{s.cfg.Topic, s.cfg.OutboundTopic}
}

// consumes reports whether topic is one of the sink's topics.
func (s *Sink) consumes(topic string) bool {
	return topic == s.cfg.Topic || (!s.cfg.NoOutbound && topic == s.cfg.OutboundTopic)
}

// storedOffsets is the group's AdjustFetchOffsetsFn. It replaces the
// offsets of newly assigned partitions with those stored in
// consumer_offsets. A partition without one starts at the beginning.
func (s *Sink) storedOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for topic, partitions := range assigned {
		if !s.consumes(topic) {
			continue
		}
		if err := s.seekStored(ctx, topic, partitions); err != nil {
			return nil, err
		}
	}
	return assigned, nil
}

// seekStored sets the offsets of topic's assigned partitions to those
// stored in consumer_offsets.
func (s *Sink) seekStored(ctx context.Context, topic string, partitions map[int32]kgo.Offset) error {
	stored := map[int32]int64{}
	err := s.retry(ctx, "reading stored offsets", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets
			WHERE consumer_group = $1 AND topic = $2`, s.cfg.Group, topic)
		if err != nil {
			return fmt.Errorf("reading consumer_offsets: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var partition int32
			var next int64
			if err := rows.Scan(&partition, &next); err != nil {
				return fmt.Errorf("reading consumer_offsets: %w", err)
			}
			stored[partition] = next
		}
		return rows.Err()
	})
	if err != nil {
		return ctx.Err()
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
	s.log.Info("partitions assigned; seeking to stored offsets", "assigned_topic", topic, "offsets", stored)
	return nil
}

// stopError returns the error Run ends with: ErrClosed after Close, nil
// when the caller's ctx ended, and err otherwise.
func (s *Sink) stopError(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	if ctx.Err() != nil || errors.Is(err, errStopped) {
		return nil
	}
	return err
}

// retry runs fn until it succeeds, backing off between tries and logging
// each failure once with its error. Each try has its own dbTimeout and is
// not canceled by ctx, so an outcome is recorded even while the sink
// stops. The waits end with ctx, and retry then returns errStopped.
func (s *Sink) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
		err := fn(opCtx)
		cancel()
		if err == nil {
			return nil
		}
		wait := s.cfg.Retry.backoff(attempt)
		s.log.Warn(what+" failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		if !sleep(ctx, wait) {
			return errStopped
		}
	}
}

// Close leaves the group and closes the Kafka client and the pool. It is
// safe to call more than once and concurrently with Run, which then
// returns ErrClosed.
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
		s.log.Info("SMTP sink closed")
	})
}
