package slack

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of RetryPolicy fields left zero.
const (
	DefaultMaxAttempts   = 8
	DefaultBaseDelay     = 500 * time.Millisecond
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
)

// RetryPolicy bounds the posts of one notification. With the defaults, a
// notification that keeps failing with 5xx is dead-lettered after 8 posts
// and about 1 to 2 minutes.
type RetryPolicy struct {
	// MaxAttempts is the number of posts, the first included, before a
	// transient failure becomes permanent. Default 8.
	MaxAttempts int
	// BaseDelay is the wait before the first retry; each further retry
	// doubles it. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff wait. Default 30s.
	MaxDelay time.Duration
	// MaxRetryAfter caps the wait that a 429's Retry-After header requests,
	// so that a wrong header cannot stop the sink for hours. Default 5m.
	MaxRetryAfter time.Duration
}

// withDefaults fills zero fields and rejects negative ones.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("retry policy: MaxAttempts %d is negative: use 0 for the default of %d", p.MaxAttempts, DefaultMaxAttempts)
	case p.BaseDelay < 0:
		return p, fmt.Errorf("retry policy: BaseDelay %v is negative: use 0 for the default of %v", p.BaseDelay, DefaultBaseDelay)
	case p.MaxDelay < 0:
		return p, fmt.Errorf("retry policy: MaxDelay %v is negative: use 0 for the default of %v", p.MaxDelay, DefaultMaxDelay)
	case p.MaxRetryAfter < 0:
		return p, fmt.Errorf("retry policy: MaxRetryAfter %v is negative: use 0 for the default of %v", p.MaxRetryAfter, DefaultMaxRetryAfter)
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
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("retry policy: MaxDelay %v is below BaseDelay %v: raise MaxDelay", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}

// backoff returns the wait before retry number retry (1 for the first
// retry): BaseDelay doubled per retry and capped at MaxDelay, of which a
// random half is taken away so that many sinks do not retry in step.
func (p RetryPolicy) backoff(retry int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < retry && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter returns the wait from a 429 response's Retry-After header in
// seconds, capped at MaxRetryAfter. ok is false when the header is missing
// or not a non-negative integer, so the caller falls back to backoff.
//
// NOTE: the HTTP-date form of Retry-After is not parsed because Slack sends
// seconds; a date falls back to backoff.
func (p RetryPolicy) retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return 0, false
	}
	if secs > int64(p.MaxRetryAfter/time.Second) {
		return p.MaxRetryAfter, true
	}
	return time.Duration(secs) * time.Second, true
}
