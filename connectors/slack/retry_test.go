package slack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRetryPolicyBackoffBounds(t *testing.T) {
	p, err := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		retry int
		full  time.Duration // the delay before jitter
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second}, // capped
		{60, time.Second},
	} {
		for range 200 {
			d := p.backoff(tc.retry)
			if d < tc.full/2 || d > tc.full {
				t.Fatalf("backoff(%d) = %v, expected within [%v, %v]", tc.retry, d, tc.full/2, tc.full)
			}
		}
	}
}

func TestRetryPolicyDefaultsAndErrors(t *testing.T) {
	p, err := RetryPolicy{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := RetryPolicy{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay, MaxRetryAfter: DefaultMaxRetryAfter}
	if p != want {
		t.Errorf("defaults = %+v, expected %+v", p, want)
	}

	for _, tc := range []struct {
		name   string
		policy RetryPolicy
		want   string
	}{
		{"negative attempts", RetryPolicy{MaxAttempts: -1}, "MaxAttempts -1"},
		{"negative base", RetryPolicy{BaseDelay: -time.Second}, "BaseDelay -1s"},
		{"max below base", RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Millisecond}, "MaxDelay 1ms is below BaseDelay 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.policy.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("withDefaults error = %v, expected one containing %q", err, tc.want)
			}
		})
	}
}

func TestRetryPolicyRetryAfter(t *testing.T) {
	p, _ := RetryPolicy{MaxRetryAfter: time.Minute}.withDefaults()
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"600", time.Minute, true}, // capped
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		got, ok := p.retryAfter(h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; expected %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryableClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"429", &WebhookError{StatusCode: 429}, true},
		{"500", &WebhookError{StatusCode: 500}, true},
		{"503", &WebhookError{StatusCode: 503}, true},
		{"400", &WebhookError{StatusCode: 400}, false},
		{"403", &WebhookError{StatusCode: 403}, false},
		{"404", &WebhookError{StatusCode: 404}, false},
		{"410", &WebhookError{StatusCode: 410}, false},
		{"301 redirect", &WebhookError{StatusCode: 301}, false},
		{"network", &transportError{tenant: "acme", err: errors.New("connection reset")}, true},
		{"other", errors.New("encoding failed"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := retryable(tc.err); got != tc.want {
				t.Errorf("retryable(%v) = %v, expected %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestPosterErrorsHideURL(t *testing.T) {
	// A server that is closed at once leaves a loopback port that refuses
	// connections.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T/B/" + secretToken
	srv.Close()

	p := &poster{client: noRedirects(nil), policy: RetryPolicy{MaxAttempts: 1}, timeout: time.Second}
	err := p.postOnce(context.Background(), &delivery{tenant: "acme", eventID: "e1", url: url, body: []byte("{}")})
	if err == nil {
		t.Fatal("post to a closed port succeeded")
	}
	if strings.Contains(err.Error(), secretToken) || strings.Contains(err.Error(), "/services/") {
		t.Errorf("error %q shows the webhook URL", err)
	}
	if !strings.Contains(err.Error(), `tenant "acme"`) {
		t.Errorf("error %q does not name the tenant", err)
	}
	if retry, _ := retryable(err); !retry {
		t.Errorf("a refused connection is not retryable: %v", err)
	}
}

func TestPosterDoesNotFollowRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect target received a %s request", r.Method)
	}))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()

	p := &poster{client: noRedirects(nil), policy: RetryPolicy{MaxAttempts: 1}, timeout: time.Second}
	err := p.postOnce(context.Background(), &delivery{tenant: "acme", url: redirect.URL, body: []byte("{}")})
	var werr *WebhookError
	if !errors.As(err, &werr) || werr.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("post to a redirect returned %v, expected a 307 WebhookError", err)
	}
	if retry, _ := retryable(err); retry {
		t.Errorf("a redirect is retryable, expected permanent")
	}
}
