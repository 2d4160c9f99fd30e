package poller

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		URL:        "https://api.example.com/v1/messages",
		Tenant:     "acme",
		Token:      func() (string, error) { return testToken, nil },
		ClientOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:9")},
		Store:      store,
	}
}

func TestConfigRejectsInvalidSettings(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"missing URL", func(c *Config) { c.URL = "" }, "missing URL"},
		{"relative URL", func(c *Config) { c.URL = "/v1/messages" }, "has no host"},
		{"plain http", func(c *Config) { c.URL = "http://api.example.com/v1?key=k-secret" }, "invalid URL http://api.example.com/v1: plain http"},
		{"user info", func(c *Config) { c.URL = "https://user:pw-secret@api.example.com/v1" }, "contains user information"},
		{"ftp", func(c *Config) { c.URL = "ftp://api.example.com/v1" }, `unsupported scheme "ftp"`},
		{"tenant with slash", func(c *Config) { c.Tenant = "a/b" }, `invalid tenant "a/b"`},
		{"no token", func(c *Config) { c.Token = nil }, "Token is nil"},
		{"limit too large", func(c *Config) { c.Limit = MaxLimit + 1 }, "invalid limit"},
		{"no brokers", func(c *Config) { c.ClientOpts = nil }, "ClientOpts is empty"},
		{"no store", func(c *Config) { c.Store = nil }, "Store is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig(t)
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New returned %v, expected an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a secret from the URL", err)
			}
		})
	}
}

func TestConfigAcceptsLoopbackHTTP(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:8080/v1", "http://[::1]:8080/v1", "http://localhost/v1", "https://api.example.com/v1?key=k"} {
		cfg := validConfig(t)
		cfg.URL = url
		p, err := New(cfg)
		if err != nil {
			t.Errorf("New with %s: %v", url, err)
			continue
		}
		p.Close()
	}
}

func TestDefaultTransactionalIDFollowsURL(t *testing.T) {
	a, b := validConfig(t), validConfig(t)
	b.URL = "https://api.example.com/v2/messages"
	ca, _, errA := a.withDefaults()
	cb, _, errB := b.withDefaults()
	if errA != nil || errB != nil {
		t.Fatalf("withDefaults: %v, %v", errA, errB)
	}
	if !strings.HasPrefix(ca.TransactionalID, DefaultTxnIDPrefix) || ca.TransactionalID == cb.TransactionalID {
		t.Errorf("transactional IDs %q and %q, expected distinct IDs with prefix %s", ca.TransactionalID, cb.TransactionalID, DefaultTxnIDPrefix)
	}
}

func TestPageURLSetsCursorAndLimit(t *testing.T) {
	cfg := validConfig(t)
	cfg.URL = "https://api.example.com/v1/messages?folder=inbox&after=stale"
	cfg.Limit = 25
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cases := map[string]string{
		"":      "https://api.example.com/v1/messages?folder=inbox&limit=25",
		"c 1/2": "https://api.example.com/v1/messages?after=c+1%2F2&folder=inbox&limit=25",
	}
	for cursor, want := range cases {
		if got := p.pageURL(cursor); got != want {
			t.Errorf("pageURL(%q) = %s, expected %s", cursor, got, want)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	cfg := validConfig(t)
	cfg.Now = func() time.Time { return now }
	cfg.MaxRetryAfter = 10 * time.Minute
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{"86400", 10 * time.Minute},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), time.Millisecond},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), 10 * time.Minute},
	}
	for _, tc := range cases {
		if got := p.retryAfter(tc.header); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, expected %v", tc.header, got, tc.want)
		}
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	bases := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, base := range bases {
		base *= time.Millisecond
		for range 50 {
			d := b.Delay(i + 1)
			if d < base/2 || d > base {
				t.Fatalf("Delay(%d) = %v, expected between %v and %v", i+1, d, base/2, base)
			}
		}
	}
}

func TestDecodePageRejectsStuckCursor(t *testing.T) {
	p, err := New(validConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cases := map[string]string{
		`{"items":[{"raw":"QQ=="}],"hasMore":true}`:                   "no nextCursor",
		`{"items":[{"raw":"QQ=="}],"nextCursor":"c5","hasMore":true}`: "equal to the cursor",
		`{"items":[{"raw":"QQ=="}],"nextCursor":5}`:                   "decoding the page",
		`<html>maintenance</html>`:                                    "decoding the page",
	}
	for body, want := range cases {
		_, err := p.decodePage(strings.NewReader(body), "c5")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodePage(%s) returned %v, expected an error containing %q", body, err, want)
		}
	}
}
