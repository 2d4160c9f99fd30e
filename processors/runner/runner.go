// Package runner drives the processor chain over the inbound topic with
// exactly-once semantics. It consumes in a consumer group with franz-go's
// GroupTransactSession and read_committed isolation, and one Kafka
// transaction covers each poll batch: the outputs, the dead letters, the
// state changelog writes and the input offsets commit together or not at
// all. The state of each input partition is restored from its changelog
// partition when the partition is assigned.
//
// The thread index is a global table instead (state.GlobalTable): every
// instance reads all of its topic's partitions, restores it before
// processing starts and follows it in the background. Its writes go into
// the same transaction as the rest of the batch.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/state"
	"mailtriage/processors"
	"mailtriage/schemas"
)

// ErrClosed is returned by Run when the Runner was closed.
var ErrClosed = errors.New("runner closed")

// Runner is the exactly-once processor. Create it with New, drive it with
// Run and release it with Close.
type Runner struct {
	cfg Config
	log *slog.Logger

	sess    *kgo.GroupTransactSession
	restore *kgo.Client // direct read_committed consumer for changelog restores

	stores *partitionStores
	global *state.GlobalTable // the thread index, shared by all partitions
	stats  statsCounter
	poison poisonList

	// batchMetrics collects the metrics of the open transaction; nil when
	// Config.Metrics is nil. Only Run's goroutine uses it.
	batchMetrics *metrics.Batch

	running   atomic.Bool
	fatalMu   sync.Mutex // guards fatal and stop
	fatal     error      // first error that stops Run, such as a failed restore
	stop      context.CancelCauseFunc
	closeOnce sync.Once

	// closing is canceled first thing in Close. A partition restore runs
	// inside franz-go's rebalance callback, whose context stays live until
	// the group is left, and leaving the group waits for the callback; so
	// the restore must watch closing, or Close waits for the whole
	// restore (up to RestoreTimeout).
	closing       context.Context
	cancelClosing context.CancelFunc

	// afterRecord, when set by a test, runs after each record is processed.
	// An error from it makes Run return at once without ending the open
	// transaction, as a crashed process would.
	afterRecord func(processors.Position) error
}

// New validates cfg and creates the Kafka clients. It does not contact
// the brokers yet: Run joins the group.
func New(cfg Config) (*Runner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "runner", "group", cfg.Group, "input", cfg.InputTopic),
		stores: newPartitionStores(),
	}
	r.closing, r.cancelClosing = context.WithCancel(context.Background())
	if cfg.Metrics != nil {
		r.cfg.Chain = r.timeChain(cfg.Chain)
	}
	r.cfg.Chain = traceChain(r.cfg.Chain)

	restoreOpts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	r.restore, err = kgo.NewClient(restoreOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the changelog restore client: %w", err)
	}
	r.global, err = state.NewGlobalTable(state.GlobalTableConfig{
		Topic:      cfg.GlobalTopic,
		ClientOpts: append(append([]kgo.Opt(nil), cfg.ClientOpts...), kgo.SeedBrokers(cfg.Brokers...)),
		MaxAge:     cfg.GlobalMaxAge,
		Logger:     r.log,
	})
	if err != nil {
		r.restore.Close()
		return nil, err
	}

	sessOpts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.InputTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// NOTE: franz-go v1.22 always requires stable offsets and made this
		// option a no-op; it stays to state the requirement.
		kgo.RequireStableFetchOffsets(),
		kgo.RecordPartitioner(newPartitioner(cfg.ChangelogTopic)),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
	)
	r.sess, err = kgo.NewGroupTransactSession(sessOpts...)
	if err != nil {
		r.restore.Close()
		r.global.Close()
		return nil, fmt.Errorf("creating the transactional group session: %w", err)
	}
	return r, nil
}

// Run processes the input topic until ctx is done, then returns nil. It
// returns an error when the transaction can no longer go on (the producer
// was fenced by another instance with the same transactional ID, or
// ending a transaction failed), when a partition's state cannot be
// restored, or ErrClosed after Close. Run may be called once.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice: create a new Runner")
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.fatalMu.Lock()
	r.stop = stop
	fatal := r.fatal
	r.fatalMu.Unlock()
	if fatal != nil {
		return fatal
	}

	// Initializing the producer ID fences an earlier instance with the same
	// transactional ID and aborts its open transaction. Without this, that
	// transaction would hold back the changelog's last stable offset, and
	// the restore on assignment would wait for it to time out.
	if _, _, err := r.sess.Client().ProducerID(ctx); err != nil {
		if ctx.Err() != nil {
			return r.stopError(ctx)
		}
		return fmt.Errorf("initializing transactional ID %q: %w", r.cfg.TransactionalID, err)
	}
	if _, err := r.cfg.Serde.Register(ctx, r.cfg.DLQTopic, schemas.NameDeadLetter); err != nil {
		return fmt.Errorf("registering the dead-letter schema for %s: %w", r.cfg.DLQTopic, err)
	}
	stopFollow, err := r.startGlobal(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return r.stopError(ctx)
		}
		return err
	}
	defer stopFollow()
	r.log.Info("runner started", "transactional_id", r.cfg.TransactionalID, "confluent_framing", r.cfg.Serde.Confluent())

	for {
		fetches := r.sess.PollRecords(ctx, r.cfg.MaxPollRecords)
		if ctx.Err() != nil {
			return r.stopError(ctx)
		}
		if fetches.IsClientClosed() {
			return ErrClosed
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			r.log.Warn("fetch failed", "topic", topic, "partition", partition, "error", err)
		})
		r.cfg.Metrics.ObserveFetches(fetches)
		if fetches.NumRecords() == 0 {
			continue
		}

		if err := r.runBatch(ctx, fetches); err != nil {
			if ctx.Err() != nil {
				return r.stopError(ctx)
			}
			return err
		}
	}
}

// stopError returns the reason ctx ended: nil when the caller canceled it,
// or the fatal error that stopped Run.
func (r *Runner) stopError(ctx context.Context) error {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	return nil
}

// fail records err as the reason Run stops and wakes Run up. Only the first
// error is kept.
func (r *Runner) fail(err error) {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	if r.fatal != nil {
		return
	}
	r.fatal = err
	if r.stop != nil {
		r.stop(err)
	}
}

// Close leaves the group and closes the clients. A transaction still open
// is left to be aborted by the next instance with the same transactional
// ID, or by the broker when it times out. Close is safe to call more than
// once and concurrently with Run, which then returns ErrClosed.
func (r *Runner) Close() {
	r.closeOnce.Do(func() {
		r.cancelClosing()
		r.fatalMu.Lock()
		if r.stop != nil {
			r.stop(ErrClosed)
		}
		r.fatalMu.Unlock()
		r.sess.Close()
		r.restore.Close()
		r.global.Close()
		r.log.Info("runner closed")
	})
}
