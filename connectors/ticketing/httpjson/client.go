// Package httpjson sends JSON requests to the external APIs that the
// ticketing, CRM and Teams sinks deliver to: ticketing systems, CRMs and
// chat webhooks. It sets the Authorization header, bounds every request
// with a timeout that a stopping sink does not cut short, never follows
// redirects, and turns every failure into a StatusError or a
// TransportError, whose Retryable method decides retries in one place.
//
// Error texts name the method and the URL path, never the query string,
// the token or a request body, and pass the start of an error response
// through processors.RedactText, because APIs echo invalid values such as
// an email address in their validation errors.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailtriage/processors"
)

// DefaultTimeout bounds one request, response included, when
// Client.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponseBody bounds how much of a successful response is read, in
// bytes.
const maxResponseBody = 8 << 20

// maxErrorBody bounds how much of an error response goes into a
// StatusError, in bytes.
const maxErrorBody = 300

// Auth is the credential sent with every request.
type Auth struct {
	// Token is the API token or OAuth access token. Empty sends no
	// Authorization header.
	Token string
	// BasicUser switches to HTTP Basic authentication with BasicUser as
	// the user name and Token as the password, which Zendesk API tokens
	// ("agent@example.com/token") and Jira Cloud API tokens (the account
	// email) need. Empty sends "Authorization: Bearer Token".
	BasicUser string
}

// Client sends JSON requests. The zero value is not usable: create it with
// New. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	auth    Auth
	timeout time.Duration
}

// New returns a client that authenticates with auth and bounds each
// request with timeout (DefaultTimeout when zero). base may be nil for a
// client with http.DefaultTransport. Redirects are returned as responses
// instead of being followed, so that a redirect never receives the token
// or the body.
func New(base *http.Client, auth Auth, timeout time.Duration) *Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{http: c, auth: auth, timeout: timeout}
}

// Request is one call of Client.Do.
type Request struct {
	Method string
	URL    string
	// Body is encoded as JSON when not nil.
	Body any
	// Header adds headers, such as Idempotency-Key.
	Header http.Header
}

// Do sends req and decodes a 2xx response body into out, unless out is
// nil or the body is empty. It returns a *StatusError for any other
// status and a *TransportError when no response arrived. The request is
// detached from ctx's cancellation and bounded by the client's timeout
// instead, because abandoning a request that the server may already have
// applied would turn a clean stop into an ambiguous outcome.
func (c *Client) Do(ctx context.Context, req Request, out any) error {
	reqCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()

	var body io.Reader
	if req.Body != nil {
		data, err := json.Marshal(req.Body)
		if err != nil {
			return fmt.Errorf("encoding the body of %s %s: %w", req.Method, pathOf(req.URL), err)
		}
		body = bytes.NewReader(data)
	}
	httpReq, err := http.NewRequestWithContext(reqCtx, req.Method, req.URL, body)
	if err != nil {
		return &TransportError{Method: req.Method, Path: pathOf(req.URL), Err: stripURL(err)}
	}
	for name, values := range req.Header {
		for _, v := range values {
			httpReq.Header.Add(name, v)
		}
	}
	httpReq.Header.Set("Accept", "application/json")
	if body != nil {
		httpReq.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	c.authorize(httpReq)

	resp, err := c.http.Do(httpReq)
	if err != nil {
		return &TransportError{Method: req.Method, Path: pathOf(req.URL), Err: stripURL(err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		redacted, _ := processors.RedactText(strings.TrimSpace(string(text)))
		return &StatusError{
			Method:     req.Method,
			Path:       pathOf(req.URL),
			StatusCode: resp.StatusCode,
			Body:       redacted,
			RetryAfter: retryAfter(resp.Header),
		}
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return &TransportError{Method: req.Method, Path: pathOf(req.URL), Err: fmt.Errorf("reading the response: %w", err), Sent: true}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the response of %s %s: %w", req.Method, pathOf(req.URL), err)
	}
	return nil
}

// authorize sets the Authorization header from the client's Auth.
func (c *Client) authorize(req *http.Request) {
	switch {
	case c.auth.Token == "":
	case c.auth.BasicUser != "":
		req.SetBasicAuth(c.auth.BasicUser, c.auth.Token)
	default:
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	}
}

// pathOf returns the path of raw without its query, which may carry an
// idempotency key, and without its host.
func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// stripURL drops the *url.Error wrapper of a net/http error, because its
// text repeats the whole URL, query included.
func stripURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s: %w", urlErr.Op, urlErr.Err)
	}
	return err
}
