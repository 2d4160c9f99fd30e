package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/schemas"
)

// handle delivers one record by the ledger protocol of the package
// comment. It returns nil when the record is done (posted, skipped or
// dead-lettered), errStopped when ctx ended before that, or an error that
// stops the sink.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	var n schemas.Notification
	if err := s.decode(ctx, rec, &n); err != nil {
		if errors.Is(err, errStopped) {
			return err
		}
		return s.deadLetter(ctx, rec, nil, fmt.Errorf("decoding the notification: %w", err), 0)
	}
	if n.EventID == "" {
		return s.deadLetter(ctx, rec, &n, errors.New("the notification has no eventId, so the ledger cannot track it: fix the producer"), 0)
	}
	log := s.log.With("tenant", n.Tenant, "event_id", n.EventID, "partition", rec.Partition, "offset", rec.Offset)
	tracing.SetTenant(ctx, n.Tenant)

	if n.Channel != "" && n.Channel != "slack" {
		s.cfg.Metrics.Skipped("other_channel", 1)
		if s.stats.addOtherChannel(n.Channel) {
			log.Info("skipping notifications for a channel other than slack", "channel", n.Channel)
		}
		return nil
	}
	url, ok := s.cfg.Webhooks.Lookup(n.Tenant)
	if !ok {
		s.cfg.Metrics.Skipped("no_webhook", 1)
		if s.stats.addNoWebhook(n.Tenant) {
			log.Warn("tenant has no Slack webhook and there is no default; skipping its notifications")
		}
		return nil
	}

	var claim Claim
	err := s.retryLedger(ctx, "claiming a delivery", func(ctx context.Context) error {
		var err error
		claim, err = s.cfg.Ledger.Claim(ctx, n.EventID, n.Tenant)
		return err
	})
	if err != nil {
		return err
	}
	if !claim.Claimed {
		s.skipClaimed(log, claim)
		return nil
	}

	return s.post(ctx, log, rec, &n, url)
}

// skipClaimed counts a notification that the ledger already had.
func (s *Sink) skipClaimed(log *slog.Logger, claim Claim) {
	if claim.Previous == StatusPending {
		s.stats.unknown.Add(1)
		s.cfg.Metrics.Skipped("unknown", 1)
		log.Warn("delivery outcome unknown: another run left it pending during the post, so it is not posted again")
		return
	}
	s.stats.replayed.Add(1)
	s.cfg.Metrics.Skipped("replayed", 1)
	log.Debug("notification already in the ledger; not posting it again", "status", claim.Previous)
}

// post sends a claimed notification and records the outcome.
func (s *Sink) post(ctx context.Context, log *slog.Logger, rec *kgo.Record, n *schemas.Notification, url string) error {
	body, err := json.Marshal(NewMessage(n))
	if err != nil {
		// encoding/json fails only on values a Message does not contain
		// (channels, functions, cycles, NaN). The claim is released anyway,
		// so that nothing is left pending.
		s.release(ctx, n.EventID)
		return fmt.Errorf("encoding the Slack message of %s: %w", n.EventID, err)
	}

	d := &delivery{
		tenant:  n.Tenant,
		eventID: n.EventID,
		url:     url,
		body:    body,
		beforeRetry: func(attempt int) {
			s.stats.retries.Add(1)
			s.cfg.Metrics.DeliveryError() // the attempt before this one failed
			s.cfg.Metrics.Retry()
			// The attempt count is informational, so a failure is logged and
			// the post goes ahead.
			recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LedgerTimeout)
			defer cancel()
			if err := s.cfg.Ledger.RecordAttempt(recCtx, n.EventID, attempt); err != nil {
				log.Warn("recording the attempt count failed", "attempt", attempt, "error", err)
			}
		},
	}
	attempts, postErr := s.poster.deliver(ctx, d)

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
		log.Debug("notification posted", "attempts", attempts)
		return nil

	case errors.Is(postErr, errStopped):
		s.release(ctx, n.EventID)
		return errStopped
	}

	s.cfg.Metrics.DeliveryError()
	if err := s.deadLetter(ctx, rec, n, postErr, attempts); err != nil {
		if errors.Is(err, errStopped) {
			s.release(ctx, n.EventID)
		}
		return err
	}
	return s.retryLedger(ctx, "marking a delivery failed", func(ctx context.Context) error {
		return s.cfg.Ledger.MarkFailed(ctx, n.EventID, attempts, postErr.Error())
	})
}

// release deletes the pending claim of a notification that was not
// posted or whose post failed, so that it is posted when its record is read
// again. If that fails, the entry stays pending and the next start marks it
// unknown.
func (s *Sink) release(ctx context.Context, eventID string) {
	relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LedgerTimeout)
	defer cancel()
	if err := s.cfg.Ledger.Release(relCtx, eventID); err != nil {
		s.log.Warn("releasing a pending delivery failed; the next start will mark it unknown", "event_id", eventID, "error", err)
	}
}

// decode decodes rec into n with the configured Serde. A failed lookup in
// the schema registry may pass, so it is retried with backoff until it
// succeeds or ctx ends, when decode returns errStopped. Any other error
// is returned at once.
func (s *Sink) decode(ctx context.Context, rec *kgo.Record, n *schemas.Notification) error {
	for attempt := 1; ; attempt++ {
		err := s.cfg.Serde.DecodeContext(ctx, rec.Value, n)
		if err == nil || !errors.Is(err, schemas.ErrRegistry) {
			return err
		}
		wait := s.cfg.Retry.backoff(attempt)
		s.log.Warn("looking up a schema in the registry failed, retrying", "partition", rec.Partition, "offset", rec.Offset,
			"attempt", attempt, "retry_in", wait.String(), "error", err)
		if sleep(ctx, wait) != nil {
			return errStopped
		}
	}
}
