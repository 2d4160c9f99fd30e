package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnauthorized marks a 401 or 403 response: the API rejected the token,
// and the poller stops, because retrying with the same token cannot help.
var ErrUnauthorized = errors.New("the API rejected the bearer token")

// page is one decoded response. Items stay raw, so that an item which
// cannot be read goes to the dead-letter topic with its bytes.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"nextCursor"`
	HasMore    bool              `json:"hasMore"`
}

// fetchError is a failed request with how to go on.
type fetchError struct {
	err error
	// fatal stops the poller: retrying the same request cannot succeed.
	fatal bool
	// retryAfter, when positive, is the delay the server asked for.
	retryAfter time.Duration
}

func (e *fetchError) Error() string { return e.err.Error() }

func (e *fetchError) Unwrap() error { return e.err }

// fetch requests the page after cursor and decodes it.
func (p *Poller) fetch(ctx context.Context, cursor string) (*page, error) {
	token, err := p.cfg.Token()
	if err != nil {
		return nil, &fetchError{err: fmt.Errorf("reading the bearer token: %w", err)}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.pageURL(cursor), nil)
	if err != nil {
		return nil, &fetchError{err: fmt.Errorf("building the request to %s: %w", p.shownURL, err), fatal: true}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")

	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		// The error of net/http repeats the URL with its query, which may
		// carry an API key, so only the cause is kept.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, &fetchError{err: fmt.Errorf("GET %s: %w", p.shownURL, err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// Drain a little of the body so that the connection can be reused;
		// its content is not logged, because it may quote the request.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, p.statusError(resp)
	}
	return p.decodePage(resp.Body, cursor)
}

// pageURL returns the endpoint with the after and limit parameters set.
func (p *Poller) pageURL(cursor string) string {
	u := *p.endpoint
	query := u.Query()
	query.Del("after")
	if cursor != "" {
		query.Set("after", cursor)
	}
	query.Set("limit", strconv.Itoa(p.cfg.Limit))
	u.RawQuery = query.Encode()
	return u.String()
}

// statusError turns a response other than 200 into a fetchError.
func (p *Poller) statusError(resp *http.Response) error {
	status := resp.Status
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &fetchError{fatal: true, err: fmt.Errorf(
			"GET %s returned %s: %w; check the token in the --token-file file or in %s, its expiry and its scopes, then start the poller again",
			p.shownURL, status, ErrUnauthorized, EnvToken)}
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return &fetchError{
			err:        fmt.Errorf("GET %s returned %s", p.shownURL, status),
			retryAfter: p.retryAfter(resp.Header.Get("Retry-After")),
		}
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		return &fetchError{err: fmt.Errorf("GET %s returned %s", p.shownURL, status)}
	}
	return &fetchError{fatal: true, err: fmt.Errorf(
		"GET %s returned %s, which a retry cannot fix: check --url and that the API serves GET with the after and limit parameters",
		p.shownURL, status)}
}

// retryAfter parses a Retry-After header, delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3), capped at MaxRetryAfter. It returns 0 when
// the header is missing or invalid, and the backoff applies instead.
func (p *Poller) retryAfter(header string) time.Duration {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0
	}
	var wait time.Duration
	if seconds, err := strconv.ParseInt(header, 10, 64); err == nil {
		if seconds < 0 {
			return 0
		}
		if seconds > int64(p.cfg.MaxRetryAfter/time.Second) {
			return p.cfg.MaxRetryAfter
		}
		wait = time.Duration(seconds) * time.Second
	} else if at, err := http.ParseTime(header); err == nil {
		wait = at.Sub(p.cfg.Now())
		if wait <= 0 {
			// A date in the past means "now"; a minimal wait keeps a
			// server with a wrong clock from being flooded.
			wait = time.Millisecond
		}
	} else {
		return 0
	}
	return min(wait, p.cfg.MaxRetryAfter)
}

// decodePage reads a 200 body and checks the page against the cursor it
// was requested with.
func (p *Poller) decodePage(body io.Reader, cursor string) (*page, error) {
	data, err := io.ReadAll(io.LimitReader(body, p.cfg.MaxPageBytes+1))
	if err != nil {
		return nil, &fetchError{err: fmt.Errorf("reading the page from %s: %w", p.shownURL, err)}
	}
	if int64(len(data)) > p.cfg.MaxPageBytes {
		return nil, &fetchError{fatal: true, err: fmt.Errorf(
			"the page from %s is larger than %d MiB: lower --limit so that a page of items fits", p.shownURL, p.cfg.MaxPageBytes>>20)}
	}

	var pg page
	if err := json.Unmarshal(data, &pg); err != nil {
		return nil, &fetchError{err: fmt.Errorf("decoding the page from %s: %w; expected {\"items\": [...], \"nextCursor\": \"...\", \"hasMore\": true|false}", p.shownURL, err)}
	}
	if len(pg.Items) > 0 && pg.NextCursor == "" {
		return nil, &fetchError{err: fmt.Errorf("the page from %s has %d items but no nextCursor, so the poller cannot move past it", p.shownURL, len(pg.Items))}
	}
	if len(pg.Items) > 0 && pg.NextCursor == cursor {
		return nil, &fetchError{err: fmt.Errorf("the page from %s has %d items and nextCursor equal to the cursor it was requested with, so it would be read again", p.shownURL, len(pg.Items))}
	}
	return &pg, nil
}
