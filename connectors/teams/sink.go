package teams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/tracing"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// ErrClosed is returned by Run when the Sink was closed.
var ErrClosed = errors.New("teams sink closed")

// Timeouts of the steps around a post.
const (
	ledgerTimeout  = 10 * time.Second
	commitTimeout  = 10 * time.Second
	produceTimeout = 30 * time.Second
	maxErrorText   = 2048
)

// Sink consumes notifications and posts them to Teams. Create it with
// New, drive it with Run and release it with Close.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	client *kgo.Client
	http   *httpjson.Client
	stats  counters

	// rebalanceWaiting is set when the group wants to rebalance while a
	// batch blocks it, so that Run ends the batch early.
	rebalanceWaiting atomic.Bool
	running          atomic.Bool
	closeOnce        sync.Once
}

// Stats counts what a Sink did since it was created.
type Stats struct {
	Delivered    int64 // notices posted with a 2xx response
	Replayed     int64 // notices skipped because the ledger had them
	Unknown      int64 // entries marked unknown: left pending by a stopped process
	DeadLettered int64
	Retries      int64
	Skipped      int64 // notices of another channel or of a tenant without a webhook
}

type counters struct {
	delivered, replayed, unknown, deadLettered, retries, skipped atomic.Int64
}

// New validates cfg and creates the Kafka client. Run joins the group.
func New(cfg Config) (*Sink, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:  cfg,
		log:  cfg.Logger.With("component", "sink-teams", "group", cfg.Group, "topic", cfg.Topic),
		http: httpjson.New(cfg.HTTPClient, httpjson.Auth{}, cfg.RequestTimeout),
	}
	opts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { s.rebalanceWaiting.Store(true) }),
	)
	if s.client, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("creating the Kafka client of the Teams sink: %w", err)
	}
	return s, nil
}

// Stats returns the counters so far. It is safe to call at any time.
func (s *Sink) Stats() Stats {
	return Stats{
		Delivered: s.stats.delivered.Load(), Replayed: s.stats.replayed.Load(), Unknown: s.stats.unknown.Load(),
		DeadLettered: s.stats.deadLettered.Load(), Retries: s.stats.retries.Load(), Skipped: s.stats.skipped.Load(),
	}
}

// Run marks the ledger's pending entries unknown, then posts notices until
// ctx is done and returns nil. It returns ErrClosed after Close. Run may
// be called once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("teams sink: Run called twice: create a new Sink")
	}
	var pending [][2]string
	err := s.retryLedger(ctx, "recovering pending deliveries", func(ctx context.Context) error {
		var err error
		pending, err = s.cfg.Ledger.RecoverPending(ctx)
		return err
	})
	if err != nil {
		return nil // stopped while PostgreSQL was unreachable
	}
	for _, e := range pending {
		s.stats.unknown.Add(1)
		s.log.Warn("delivery outcome unknown: a previous run stopped during the post, so it is not posted again",
			"event_id", e[0], "tenant", e[1])
	}
	s.log.Info("Teams sink started", "tenants", len(s.cfg.Webhooks.Tenants), "default_webhook", s.cfg.Webhooks.Default != "")

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
			s.log.Warn("fetch failed", "fetch_topic", topic, "partition", partition, "error", err)
		})
		s.cfg.Metrics.ObserveFetches(fetches)
		s.cfg.Metrics.Records(fetches.NumRecords())

		stopped := s.runBatch(ctx, fetches.Records())
		s.client.AllowRebalance()
		if stopped {
			return nil
		}
	}
}

// runBatch handles the records of one poll in order and commits the
// offsets of those it finished. It reports true when ctx ended.
func (s *Sink) runBatch(ctx context.Context, records []*kgo.Record) (stopped bool) {
	handled := make([]*kgo.Record, 0, len(records))
	for _, rec := range records {
		if s.rebalanceWaiting.Load() {
			break
		}
		recCtx, span := tracing.StartRecord(ctx, SpanName, rec)
		err := s.handle(recCtx, rec)
		span.End()
		if err != nil {
			stopped = true
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
	return stopped
}

// handle delivers one record by the ledger protocol. It returns nil when
// the record is done, or httpjson.ErrStopped when ctx ended first.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	var n schemas.Notification
	if err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &n); err != nil {
		return s.deadLetter(ctx, rec, "", fmt.Errorf("decoding the notification: %w", err), 0)
	}
	if n.EventID == "" {
		return s.deadLetter(ctx, rec, n.Tenant, errors.New("the notification has no eventId, so the ledger cannot track it: fix the producer"), 0)
	}
	log := s.log.With("tenant", n.Tenant, "event_id", n.EventID, "partition", rec.Partition, "offset", rec.Offset)

	url, ok := s.cfg.Webhooks.Lookup(n.Tenant)
	if !slices.Contains(s.cfg.Channels, n.Channel) || !ok {
		s.stats.skipped.Add(1)
		s.cfg.Metrics.Skipped("not_for_teams", 1)
		log.Debug("skipping a notice of another channel or of a tenant without a Teams webhook", "channel", n.Channel)
		return nil
	}

	var claimed bool
	var previous Status
	err := s.retryLedger(ctx, "claiming a delivery", func(ctx context.Context) error {
		var err error
		claimed, previous, err = s.cfg.Ledger.Claim(ctx, n.EventID, n.Tenant)
		return err
	})
	if err != nil {
		return err
	}
	if !claimed {
		if previous == StatusPending {
			s.stats.unknown.Add(1)
			log.Warn("delivery outcome unknown: another run left it pending during the post, so it is not posted again")
		} else {
			s.stats.replayed.Add(1)
			s.cfg.Metrics.Skipped("replayed", 1)
		}
		return nil
	}
	return s.post(ctx, log, rec, &n, url)
}

// post sends a claimed notice and records the outcome.
func (s *Sink) post(ctx context.Context, log *slog.Logger, rec *kgo.Record, n *schemas.Notification, url string) error {
	msg := NewMessage(n)
	attempts, postErr := s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
		return s.http.Do(ctx, httpjson.Request{Method: http.MethodPost, URL: url, Body: msg}, nil)
	}, nil, func(attempt int, wait time.Duration, err error) {
		s.stats.retries.Add(1)
		s.cfg.Metrics.DeliveryError()
		s.cfg.Metrics.Retry()
		log.Warn("Teams post failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
	})

	switch {
	case postErr == nil:
		err := s.retryLedger(ctx, "marking a delivery delivered", func(ctx context.Context) error {
			return s.cfg.Ledger.MarkDelivered(ctx, n.EventID, attempts)
		})
		if err != nil {
			return err
		}
		s.stats.delivered.Add(1)
		s.cfg.Metrics.Delivered(n.ReceivedAt)
		return nil
	case errors.Is(postErr, httpjson.ErrStopped):
		s.release(ctx, n.EventID)
		return postErr
	}

	if err := s.deadLetter(ctx, rec, n.Tenant, fmt.Errorf("Teams webhook of tenant %q: %w", n.Tenant, postErr), attempts); err != nil {
		s.release(ctx, n.EventID)
		return err
	}
	return s.retryLedger(ctx, "marking a delivery failed", func(ctx context.Context) error {
		return s.cfg.Ledger.MarkFailed(ctx, n.EventID, attempts, postErr.Error())
	})
}

// release deletes a pending claim whose post did not go out. If that
// fails, the next start marks the entry unknown.
func (s *Sink) release(ctx context.Context, eventID string) {
	relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
	defer cancel()
	if err := s.cfg.Ledger.Release(relCtx, eventID); err != nil {
		s.log.Warn("releasing a pending delivery failed; the next start will mark it unknown", "event_id", eventID, "error", err)
	}
}

// retryLedger runs fn until it succeeds, each try with its own timeout
// that ctx does not cut short. It returns httpjson.ErrStopped when ctx
// ended during a wait.
func (s *Sink) retryLedger(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ledgerTimeout)
		err := fn(opCtx)
		cancel()
		if err == nil {
			return nil
		}
		wait := s.cfg.Retry.Backoff(attempt)
		s.log.Warn("ledger call failed; retrying", "operation", what, "attempt", attempt, "retry_in", wait.String(), "error", err)
		if httpjson.Sleep(ctx, wait) != nil {
			return httpjson.ErrStopped
		}
	}
}

// deadLetter writes rec to the dead-letter topic with cause, retrying
// until Kafka accepts it or ctx ends.
func (s *Sink) deadLetter(ctx context.Context, rec *kgo.Record, tenant string, cause error, attempts int) error {
	text := cause.Error()
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	sum := sha256.Sum256([]byte(Stage + "\x00" + rec.Topic + "\x00" + strconv.Itoa(int(rec.Partition)) + "\x00" + strconv.FormatInt(rec.Offset, 10)))
	dl := schemas.DeadLetter{
		EventID: hex.EncodeToString(sum[:16]), Tenant: tenant, Stage: Stage, Error: text,
		SourceTopic: rec.Topic, SourcePartition: rec.Partition, SourceOffset: rec.Offset,
		TraceID: tracing.TraceID(rec), Attempts: int32(attempts), FailedAt: s.cfg.Now(),
		Key: rec.Key, Payload: rec.Value,
	}
	out := &kgo.Record{Topic: s.cfg.DLQTopic, Key: rec.Key, Headers: runner.DeadLetterHeaders(&dl)}
	value, err := schemas.Marshal(&dl)
	if err != nil {
		s.log.Error("encoding a dead letter failed; sending it with headers only", "partition", rec.Partition, "offset", rec.Offset, "error", err)
	}
	out.Value = value

	for attempt := 1; ; attempt++ {
		produceCtx, cancel := context.WithTimeout(ctx, produceTimeout)
		err := s.client.ProduceSync(produceCtx, out).FirstErr()
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return httpjson.ErrStopped
		}
		wait := s.cfg.Retry.Backoff(attempt)
		s.log.Warn("producing a dead letter failed; retrying", "partition", rec.Partition, "offset", rec.Offset,
			"attempt", attempt, "retry_in", wait.String(), "error", err)
		if httpjson.Sleep(ctx, wait) != nil {
			return httpjson.ErrStopped
		}
	}
	s.stats.deadLettered.Add(1)
	s.cfg.Metrics.DeadLetters(1)
	s.log.Error("notification sent to the dead-letter topic", "tenant", tenant, "partition", rec.Partition,
		"offset", rec.Offset, "attempts", attempts, "error", text)
	return nil
}

// Close leaves the group and closes the Kafka client. It is safe to call
// more than once and concurrently with Run, which then returns ErrClosed.
func (s *Sink) Close() {
	s.closeOnce.Do(func() {
		s.client.Close()
		s.log.Info("Teams sink closed")
	})
}
