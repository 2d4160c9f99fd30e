package slack

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrLedgerPermanent marks a ledger error that retrying cannot fix, such as
// a missing table or a permission error. The sink stops on it; it retries
// every other ledger error.
var ErrLedgerPermanent = errors.New("permanent ledger error")

// WebhookError is a non-2xx response of a webhook.
type WebhookError struct {
	Tenant     string
	StatusCode int
	// SlackError is the start of the response body, where Slack puts its
	// error code such as "invalid_payload" or "no_service".
	SlackError string
	// RetryAfter is the wait a 429 response asked for; zero otherwise.
	RetryAfter time.Duration
}

func (e *WebhookError) Error() string {
	text := strings.TrimSpace(e.SlackError)
	if text == "" {
		text = "no error text"
	}
	return fmt.Sprintf("Slack webhook of tenant %q returned %d %s: %s",
		e.Tenant, e.StatusCode, http.StatusText(e.StatusCode), text)
}

// Temporary reports whether posting again may succeed: for 429 and 5xx.
func (e *WebhookError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// transportError is a failure to get any response: refused or reset
// connection, DNS failure or timeout. It never carries the URL.
type transportError struct {
	tenant string
	err    error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("posting to the Slack webhook of tenant %q: %v", e.tenant, e.err)
}

func (e *transportError) Unwrap() error { return e.err }

// retryable decides in one place whether a post error is worth another
// post, and returns the wait that the server requested, if any.
func retryable(err error) (retry bool, serverWait time.Duration) {
	var werr *WebhookError
	if errors.As(err, &werr) {
		return werr.Temporary(), werr.RetryAfter
	}
	var terr *transportError
	if errors.As(err, &terr) {
		return true, 0
	}
	return false, 0
}

// attemptsError is the error of a notification that failed transiently on
// every allowed post.
type attemptsError struct {
	attempts int
	last     error
}

func (e *attemptsError) Error() string {
	return fmt.Sprintf("giving up after %d posts: %v", e.attempts, e.last)
}

func (e *attemptsError) Unwrap() error { return e.last }
