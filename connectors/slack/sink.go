package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = errors.New("slack sink closed")

// commitTimeout bounds the offset commit that ends a batch, also when the
// sink is stopping.
const commitTimeout = 10 * time.Second

// Sink consumes notifications and posts them to Slack. Create it with New,
// drive it with Run and release it with Close.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	client *kgo.Client
	poster *poster
	stats  counters

	// rebalanceWaiting is set when the group wants to rebalance while a
	// batch blocks it, so that Run ends the batch early.
	rebalanceWaiting atomic.Bool

	running   atomic.Bool
	closeOnce sync.Once
}

// New validates cfg and creates the Kafka client. It does not contact the
// brokers yet: Run joins the group.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg: cfg,
		log: cfg.Logger.With("component", "sink-slack", "group", cfg.Group, "topic", cfg.Topic),
	}
	s.poster = &poster{client: cfg.HTTPClient, policy: cfg.Retry, timeout: cfg.RequestTimeout, log: s.log}

	opts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		// Offsets are committed between polls, so a partition must not
		// move to another member while its batch is being posted.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { s.rebalanceWaiting.Store(true) }),
	)
	s.client, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client of the Slack sink: %w", err)
	}
	return s, nil
}

// Stats returns the counters so far. It is safe to call at any time.
func (s *Sink) Stats() Stats { return s.stats.snapshot() }

// Run recovers the ledger's pending entries, then posts notifications
// until ctx is done and returns nil. It returns an error when the ledger
// fails permanently, or ErrClosed after Close. Run may be called once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("slack sink: Run called twice: create a new Sink")
	}

	if err := s.recoverPending(ctx); err != nil {
		if errors.Is(err, errStopped) {
			return nil
		}
		return err
	}
	s.log.Info("Slack sink started", "tenants", len(s.cfg.Webhooks.Tenants), "default_webhook", s.cfg.Webhooks.Default != "")

	for {
		fetches := s.client.PollRecords(ctx, s.cfg.MaxPollRecords)
		if fetches.IsClientClosed() {
			return ErrClosed
		}
		if ctx.Err() != nil {
			s.client.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			s.log.Warn("fetch failed", "topic", topic, "partition", partition, "error", err)
		})

		s.cfg.Metrics.ObserveFetches(fetches)
		s.cfg.Metrics.Records(fetches.NumRecords())
		err := s.runBatch(ctx, fetches.Records())
		s.client.AllowRebalance()
		if errors.Is(err, errStopped) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// recoverPending marks the entries that a stopped process left pending as
// unknown, and logs each once.
func (s *Sink) recoverPending(ctx context.Context) error {
	var entries []Entry
	err := s.retryLedger(ctx, "recovering pending deliveries", func(ctx context.Context) error {
		var err error
		entries, err = s.cfg.Ledger.RecoverPending(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		s.stats.unknown.Add(1)
		s.log.Warn("delivery outcome unknown: a previous run stopped during the post, so it is not posted again",
			"tenant", e.Tenant, "event_id", e.EventID, "attempts", e.Attempts)
	}
	if len(entries) > 0 {
		s.log.Warn("pending deliveries marked unknown", "count", len(entries))
	}
	return nil
}

// runBatch handles the records of one poll in order, then commits the
// offsets of those it handled. It stops early, with the handled ones
// committed, when ctx ends, a rebalance waits or an error stops the sink.
func (s *Sink) runBatch(ctx context.Context, records []*kgo.Record) error {
	handled := make([]*kgo.Record, 0, len(records))
	var stop error
	for _, rec := range records {
		if s.rebalanceWaiting.Load() {
			break
		}
		if err := s.handleTraced(ctx, rec); err != nil {
			stop = err
			break
		}
		handled = append(handled, rec)
	}
	s.rebalanceWaiting.Store(false)

	if len(handled) > 0 {
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		// A failed commit loses nothing: the records are read again and
		// the ledger turns them into skips.
		if err := s.client.CommitRecords(commitCtx, handled...); err != nil {
			s.log.Warn("committing offsets failed; the records will be read again and skipped by the ledger",
				"records", len(handled), "error", err)
		}
	}
	return stop
}

// Close leaves the group and closes the Kafka client. It is safe to call
// more than once and concurrently with Run, which then returns ErrClosed.
func (s *Sink) Close() {
	s.closeOnce.Do(func() {
		s.client.Close()
		s.log.Info("Slack sink closed")
	})
}

// retryLedger runs fn until it succeeds, backing off between tries. Each
// try has its own LedgerTimeout and is not canceled by ctx, so an outcome
// is recorded even while the sink stops. The waits between tries end with
// ctx, and retryLedger then returns errStopped. It returns a permanent
// ledger error at once.
func (s *Sink) retryLedger(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LedgerTimeout)
		err := fn(opCtx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrLedgerPermanent) {
			return fmt.Errorf("%s: %w", what, err)
		}

		wait := s.cfg.Retry.backoff(attempt)
		s.log.Warn("ledger call failed, retrying", "operation", what, "attempt", attempt, "retry_in", wait.String(), "error", err)
		if sleep(ctx, wait) != nil {
			return errStopped
		}
	}
}
