package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// maxErrorBody bounds how much of an error response is read, in bytes.
// Slack's error bodies are short codes such as "invalid_payload".
const maxErrorBody = 512

// errStopped is returned by poster.deliver when ctx ended while it waited
// between two posts, so no post is in flight and the outcome is "not
// delivered yet".
var errStopped = errors.New("stopped while waiting to retry")

// poster sends webhook posts with the retry policy.
type poster struct {
	client  *http.Client
	policy  RetryPolicy
	timeout time.Duration // bound of one post, response included
	log     *slog.Logger
}

// delivery is one notification on its way to a webhook.
type delivery struct {
	tenant  string
	eventID string
	url     string
	body    []byte
	// beforeRetry runs before post number attempt (2 or more).
	beforeRetry func(attempt int)
}

// deliver posts d until a 2xx, a permanent error, or MaxAttempts posts,
// and returns the number of posts made. A post already sent when ctx ends
// runs to its own timeout, so that its outcome can be recorded. Only the
// waits between posts stop at once, and deliver then returns errStopped.
func (p *poster) deliver(ctx context.Context, d *delivery) (int, error) {
	for attempt := 1; ; attempt++ {
		err := p.postOnce(ctx, d)
		if err == nil {
			return attempt, nil
		}

		retry, serverWait := retryable(err)
		if !retry {
			return attempt, err
		}
		if attempt >= p.policy.MaxAttempts {
			return attempt, &attemptsError{attempts: attempt, last: err}
		}

		wait := serverWait
		if wait == 0 {
			wait = p.policy.backoff(attempt)
		}
		p.log.Warn("Slack post failed, retrying",
			"tenant", d.tenant, "event_id", d.eventID, "attempt", attempt,
			"retry_in", wait.String(), "error", err)

		if err := sleep(ctx, wait); err != nil {
			return attempt, errStopped
		}
		if d.beforeRetry != nil {
			d.beforeRetry(attempt + 1)
		}
	}
}

// postOnce sends one POST. The request is detached from ctx's cancellation
// and bounded by the poster's timeout instead, because abandoning a request
// that Slack may already have accepted would turn a clean stop into an
// ambiguous delivery.
func (p *poster) postOnce(ctx context.Context, d *delivery) error {
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return &transportError{tenant: d.tenant, err: stripURL(err)}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	resp, err := p.client.Do(req)
	if err != nil {
		return &transportError{tenant: d.tenant, err: stripURL(err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Reading the rest lets the connection be reused; its content ("ok")
		// carries nothing more.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}

	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	werr := &WebhookError{Tenant: d.tenant, StatusCode: resp.StatusCode, SlackError: string(text)}
	if resp.StatusCode == http.StatusTooManyRequests {
		if wait, ok := p.policy.retryAfter(resp.Header); ok {
			werr.RetryAfter = wait
		}
	}
	return werr
}

// stripURL drops the *url.Error wrapper of a net/http error, because its
// text contains the request URL, which is a secret for webhooks.
func stripURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s: %w", urlErr.Op, urlErr.Err)
	}
	return err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
