package ticketapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// clientAttempts bounds the tries of one POST: a request that failed in
// transit is sent again with the same Idempotency-Key, so it changes the
// ticket at most once.
const clientAttempts = 3

// Client calls the ticket API. It is safe for concurrent use.
type Client struct {
	// BaseURL is the API's address, such as http://127.0.0.1:8090.
	BaseURL string
	// Token is the bearer token.
	Token string
	// HTTP sends the requests. Nil means a client with a 30 s timeout.
	HTTP *http.Client
}

// ListFilter holds the query parameters of List; empty fields are left
// out.
type ListFilter struct {
	Queue, Status, Priority, Requester string
	Since, Until                       time.Time
	Limit                              int
	Cursor                             string
}

// List returns one page of tickets.
func (c *Client) List(ctx context.Context, f ListFilter) (TicketList, error) {
	q := url.Values{}
	for name, v := range map[string]string{"queue": f.Queue, "status": f.Status, "priority": f.Priority, "requester": f.Requester, "cursor": f.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	var out TicketList
	path := "/v1/tickets"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Show returns one ticket with its messages and events.
func (c *Client) Show(ctx context.Context, ref string) (TicketDetail, error) {
	var out TicketDetail
	err := c.do(ctx, http.MethodGet, "/v1/tickets/"+url.PathEscape(ref), nil, &out)
	return out, err
}

// Reassign moves a ticket to queue and, unless priority is empty, to
// priority.
func (c *Client) Reassign(ctx context.Context, ref, queue, priority string) (ChangeResult, error) {
	body := map[string]string{"queue": queue}
	if priority != "" {
		body["priority"] = priority
	}
	return c.post(ctx, ref, "reassign", body)
}

// SetStatus sets the status of a ticket.
func (c *Client) SetStatus(ctx context.Context, ref, status string) (ChangeResult, error) {
	return c.post(ctx, ref, "status", map[string]string{"status": status})
}

// AddNote adds an internal note to a ticket.
func (c *Client) AddNote(ctx context.Context, ref, text string) (ChangeResult, error) {
	return c.post(ctx, ref, "notes", map[string]string{"text": text})
}

// Reply sends an agent reply; html may be empty.
func (c *Client) Reply(ctx context.Context, ref, text, html string) (ChangeResult, error) {
	body := map[string]string{"text": text}
	if html != "" {
		body["html"] = html
	}
	return c.post(ctx, ref, "replies", body)
}

// post sends one change with a new Idempotency-Key.
func (c *Client) post(ctx context.Context, ref, action string, body any) (ChangeResult, error) {
	var out ChangeResult
	err := c.do(ctx, http.MethodPost, "/v1/tickets/"+url.PathEscape(ref)+"/"+action, body, &out)
	return out, err
}

// do sends one request and decodes the response into out. An API error
// comes back as an *Error. A POST that fails in transit or with a 5xx
// status is sent again, up to clientAttempts times, with the same
// Idempotency-Key.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	var key string
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		random := make([]byte, 16)
		if _, err := rand.Read(random); err != nil {
			return fmt.Errorf("reading random bytes for an Idempotency-Key: %w", err)
		}
		key = hex.EncodeToString(random)
	}
	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}

	var lastErr error
	for attempt := 1; attempt <= clientAttempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt-1) * 500 * time.Millisecond):
			}
		}
		retry, err := c.once(ctx, httpClient, method, path, key, payload, out)
		if err == nil || !retry || method != http.MethodPost {
			return err
		}
		lastErr = err
	}
	return lastErr
}

// once sends one request and reports whether a failure may be retried.
func (c *Client) once(ctx context.Context, httpClient *http.Client, method, path, key string, payload []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return false, fmt.Errorf("invalid API address %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("%s %s failed: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return true, fmt.Errorf("reading the response of %s %s: %w", method, path, err)
	}

	if resp.StatusCode >= 300 {
		apiErr := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, apiErr) != nil || apiErr.Message == "" {
			apiErr.Message = fmt.Sprintf("%s %s returned %s", method, path, resp.Status)
		}
		return resp.StatusCode >= 500, apiErr
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("decoding the response of %s %s: %w", method, path, err)
	}
	return false, nil
}

// IsStatus reports whether err is an API error with HTTP status code.
func IsStatus(err error, code int) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.Status == code
}
