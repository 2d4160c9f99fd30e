package httpjson

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClientErrorHidesQueryTokenAndAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-secret" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		http.Error(w, `{"error":"RecordInvalid","details":"ana@customer.test is not valid"}`, http.StatusUnprocessableEntity)
	}))
	defer srv.Close()

	c := New(nil, Auth{Token: "tok-secret"}, time.Second)
	err := c.Do(context.Background(), Request{Method: http.MethodGet, URL: srv.URL + "/api/x?idempotency_key=acme/T-1"}, nil)
	var serr *StatusError
	if !errors.As(err, &serr) || serr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("Do error = %v, expected a 422 StatusError", err)
	}
	for _, secret := range []string{"tok-secret", "idempotency_key", "ana@customer.test"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
	if !strings.Contains(err.Error(), "GET /api/x returned 422") {
		t.Errorf("error %q does not name the method, path and status", err)
	}
}

func TestRetryableByStatus(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&StatusError{StatusCode: 500}, true},
		{&StatusError{StatusCode: 503}, true},
		{&StatusError{StatusCode: 429}, true},
		{&StatusError{StatusCode: 409}, true},
		{&StatusError{StatusCode: 408}, true},
		{&StatusError{StatusCode: 400}, false},
		{&StatusError{StatusCode: 404}, false},
		{&StatusError{StatusCode: 422}, false},
		{&TransportError{Err: context.DeadlineExceeded}, true},
		{errors.New("decoding the response"), false},
	}
	for _, tc := range cases {
		if got, _ := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, expected %v", tc.err, got, tc.want)
		}
	}
}

func TestCallLooksUpBeforeRetry(t *testing.T) {
	p, err := RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	sends, lookups := 0, 0
	n, err := p.Call(context.Background(), func(context.Context) error {
		sends++
		return &TransportError{Err: context.DeadlineExceeded}
	}, func(context.Context) (bool, error) {
		lookups++
		return true, nil
	}, nil)
	if err != nil || n != 1 || sends != 1 || lookups != 1 {
		t.Errorf("Call = (%d, %v) with %d sends and %d lookups, expected (1, nil), 1 send, 1 lookup", n, err, sends, lookups)
	}
}
