package poller

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff paces the retries after failed requests and failed transactions.
// The wait before retry n (from 1) is drawn uniformly between half and all
// of min(Initial × 2^(n-1), Max), so retries of many pollers spread out
// while each wait stays above a known minimum.
type Backoff struct {
	// Initial is the base of the first wait. Default 1s.
	Initial time.Duration
	// Max caps the base of any wait. Default 5 minutes.
	Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// Delay returns the wait before retry attempt, counted from 1.
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	base := b.Initial
	for i := 1; i < attempt && base < b.Max; i++ {
		base *= 2
	}
	base = min(base, b.Max)
	half := base / 2
	return half + rand.N(base-half+1)
}

// sleep waits for d or until ctx ends, and returns ctx.Err() in that case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
