package postgres

import (
	"context"
	"sync"
	"time"
)

// feedbackPassTimeout bounds one Drain of the sink's relay, so that a
// Kafka outage does not hold a database connection and the outbox lock
// indefinitely. Rows of a pass that timed out are sent on the next one.
const feedbackPassTimeout = 30 * time.Second

// startFeedbackRelay runs the feedback relay in a goroutine until ctx
// ends or the returned function is called. That function stops the
// goroutine and waits for it to return.
func (s *Sink) startFeedbackRelay(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	relay := NewFeedbackRelay(s.pool, s.client, s.cfg.FeedbackTopic, s.log)

	var wg sync.WaitGroup
	wg.Go(func() { s.relayFeedback(ctx, relay) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// relayFeedback drains the feedback outbox every FeedbackInterval and
// retries with backoff while PostgreSQL or Kafka fails.
func (s *Sink) relayFeedback(ctx context.Context, relay *FeedbackRelay) {
	attempt := 0
	for {
		passCtx, cancel := context.WithTimeout(ctx, feedbackPassTimeout)
		sent, err := relay.Drain(passCtx)
		cancel()
		if sent > 0 {
			s.log.Info("feedback events produced", "count", sent, "feedback_topic", s.cfg.FeedbackTopic)
		}
		if ctx.Err() != nil {
			return
		}

		if err != nil {
			attempt++
			if !s.waitRetry(ctx, "producing feedback events failed; retrying", attempt, err) {
				return
			}
			continue
		}
		attempt = 0
		if !sleep(ctx, s.cfg.FeedbackInterval) {
			return
		}
	}
}
