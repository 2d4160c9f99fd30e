package httpjson

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps the wait that a Retry-After header requests, so that
// a wrong header cannot stop a sink for hours.
const maxRetryAfter = 5 * time.Minute

// StatusError is a response with a status outside 2xx.
type StatusError struct {
	Method     string
	Path       string // URL path without the query
	StatusCode int
	// Body is the redacted start of the response body, where APIs put
	// their error code and description.
	Body string
	// RetryAfter is the wait that a 429 or 503 response requested in its
	// Retry-After header, in seconds form; zero otherwise.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	text := e.Body
	if text == "" {
		text = "no error text"
	}
	return fmt.Sprintf("%s %s returned %d %s: %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), text)
}

// TransportError is a request that got no complete response: a refused or
// reset connection, a DNS failure or a timeout.
type TransportError struct {
	Method string
	Path   string
	Err    error
	// Sent is true when the request certainly reached the server, such as
	// a response that broke off while its body was read.
	Sent bool
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Retryable reports whether sending the request again may succeed, and the
// wait the server requested, if any. A transport error, 408, 409
// (Zendesk's status for a concurrent update of one ticket), 429 and every
// 5xx are retryable. Any other status is permanent.
func Retryable(err error) (retry bool, serverWait time.Duration) {
	var serr *StatusError
	if errors.As(err, &serr) {
		switch {
		case serr.StatusCode == http.StatusRequestTimeout,
			serr.StatusCode == http.StatusConflict,
			serr.StatusCode == http.StatusTooManyRequests,
			serr.StatusCode >= 500:
			return true, serr.RetryAfter
		}
		return false, 0
	}
	var terr *TransportError
	if errors.As(err, &terr) {
		return true, 0
	}
	return false, 0
}

// IsStatus reports whether err is a StatusError with code.
func IsStatus(err error, code int) bool {
	var serr *StatusError
	return errors.As(err, &serr) && serr.StatusCode == code
}

// retryAfter reads a Retry-After header in seconds, capped at
// maxRetryAfter. The HTTP-date form and a missing or invalid header give
// zero, so the caller falls back to its backoff.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	secs, err := strconv.ParseInt(v, 10, 64)
	if v == "" || err != nil || secs < 0 {
		return 0
	}
	if secs > int64(maxRetryAfter/time.Second) {
		return maxRetryAfter
	}
	return time.Duration(secs) * time.Second
}
