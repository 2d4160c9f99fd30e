package clickhouse

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes retry delays: min doubled per failed attempt up to max,
// then drawn at random from the upper half of that value, so that sinks
// restarted together do not retry in step.
type backoff struct {
	min, max time.Duration
}

// delay returns the wait after failed attempt number attempt (1 or more).
func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retry runs op until it succeeds or ctx is done, waiting s.backoff between
// attempts. It logs every failed attempt once, with its error and the wait,
// and logs the recovery after one or more failures. It returns nil, or the
// error of the last attempt once ctx is done. counter counts the retries.
func (s *Sink) retry(ctx context.Context, action string, counter *counter, attrs []any, op func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			if attempt > 1 {
				s.log.Info(action+" succeeded after retries", append(attrs, "attempts", attempt)...)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}

		wait := s.backoff.delay(attempt)
		counter.add(1)
		s.cfg.Metrics.DeliveryError()
		s.cfg.Metrics.Retry()
		s.log.Warn(action+" failed; retrying", append(attrs, "attempt", attempt, "retry_in", wait.String(), "error", err.Error())...)

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}
