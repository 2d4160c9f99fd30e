package httpjson

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Unlimited as RetryPolicy.MaxAttempts retries a retryable failure until
// it succeeds or the context ends.
const Unlimited = -1

// Defaults of RetryPolicy fields left zero.
const (
	DefaultMaxAttempts = 6
	DefaultBaseDelay   = 500 * time.Millisecond
	DefaultMaxDelay    = 30 * time.Second
)

// RetryPolicy bounds the attempts of one external call and sets the
// backoff between them. With the defaults, a call that keeps failing with
// 5xx gives up after 6 attempts and about 10 to 20 seconds.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included, before a
	// retryable failure becomes permanent. Default 6; Unlimited retries
	// without end.
	MaxAttempts int
	// BaseDelay is the wait before the first retry; each further retry
	// doubles it. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the wait. Default 30s.
	MaxDelay time.Duration
}

// WithDefaults fills zero fields and rejects negative or inconsistent
// ones, naming the field.
func (p RetryPolicy) WithDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxAttempts < Unlimited:
		return p, fmt.Errorf("retry policy: MaxAttempts %d is negative: use 0 for the default of %d, or Unlimited (-1)", p.MaxAttempts, DefaultMaxAttempts)
	case p.BaseDelay < 0:
		return p, fmt.Errorf("retry policy: BaseDelay %v is negative: use 0 for the default of %v", p.BaseDelay, DefaultBaseDelay)
	case p.MaxDelay < 0:
		return p, fmt.Errorf("retry policy: MaxDelay %v is negative: use 0 for the default of %v", p.MaxDelay, DefaultMaxDelay)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("retry policy: MaxDelay %v is below BaseDelay %v: raise MaxDelay", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// Backoff returns the wait before retry number retry (1 for the first):
// BaseDelay doubled per retry and capped at MaxDelay, of which a random
// half is taken away so that many sinks do not retry in step.
func (p RetryPolicy) Backoff(retry int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < retry && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + rand.N(half+1)
}

// ErrStopped is returned when ctx ended while waiting between two
// attempts, so no request is in flight.
var ErrStopped = errors.New("stopped while waiting to retry")

// GiveUpError is the error of a call that failed on every allowed attempt.
type GiveUpError struct {
	Attempts int
	Last     error
}

func (e *GiveUpError) Error() string {
	return fmt.Sprintf("giving up after %d attempts: %v", e.Attempts, e.Last)
}

func (e *GiveUpError) Unwrap() error { return e.Last }

// Call runs attempt until it succeeds, fails permanently or has run
// MaxAttempts times, waiting the backoff (or the server's Retry-After)
// between attempts. before runs before every attempt after the first and
// may end the loop: it returns done true when the outcome is already
// known, as when a lookup finds the ticket that a timed-out create made.
// onRetry, when not nil, is called with each failure that is retried. Call
// returns the attempts made and nil, the permanent error, a *GiveUpError
// or ErrStopped.
func (p RetryPolicy) Call(ctx context.Context, attempt func(ctx context.Context) error,
	before func(ctx context.Context) (done bool, err error), onRetry func(n int, wait time.Duration, err error)) (int, error) {
	for n := 1; ; n++ {
		if n > 1 && before != nil {
			done, err := before(ctx)
			if err == nil && done {
				return n - 1, nil
			}
			if err != nil {
				// A failed lookup counts as a failed attempt: it is retried
				// the same way, and the create is not sent blind.
				if stop, result := p.afterFailure(ctx, n, err, onRetry); stop {
					return n, result
				}
				continue
			}
		}

		err := attempt(ctx)
		if err == nil {
			return n, nil
		}
		if stop, result := p.afterFailure(ctx, n, err, onRetry); stop {
			return n, result
		}
	}
}

// afterFailure decides what follows failed attempt n. It returns stop
// with the error to return, or waits and returns stop false.
func (p RetryPolicy) afterFailure(ctx context.Context, n int, err error, onRetry func(int, time.Duration, error)) (bool, error) {
	retry, serverWait := Retryable(err)
	if !retry {
		return true, err
	}
	if p.MaxAttempts != Unlimited && n >= p.MaxAttempts {
		return true, &GiveUpError{Attempts: n, Last: err}
	}
	wait := serverWait
	if wait == 0 {
		wait = p.Backoff(n)
	}
	if onRetry != nil {
		onRetry(n, wait, err)
	}
	if Sleep(ctx, wait) != nil {
		return true, ErrStopped
	}
	return false, nil
}

// Sleep waits d or until ctx ends, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
