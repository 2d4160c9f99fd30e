package poller

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/ingest"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
)

// Defaults of Config fields left zero.
const (
	DefaultLimit          = 100
	DefaultInterval       = 30 * time.Second
	DefaultRequestTimeout = 60 * time.Second
	DefaultMaxPageBytes   = 256 << 20
	DefaultMaxRetryAfter  = time.Hour
	DefaultTxnIDPrefix    = "mailtriage-poller-"
)

// MaxLimit is the largest page size the poller requests.
const MaxLimit = 10000

// Config configures a Poller. New validates it and fills in the defaults.
type Config struct {
	// URL is the cursor API endpoint. It must be https, or http with a
	// loopback host, because the request carries the bearer token.
	// Required.
	URL string
	// Tenant owns the polled mail. Required; see ingest.ValidateTenant.
	Tenant string
	// Token returns the bearer token. It is called before every request,
	// so a token file can be rotated in place. Required.
	Token func() (string, error)
	// Limit is the page size requested with the limit parameter. Default
	// DefaultLimit (100), at most MaxLimit.
	Limit int
	// Interval is the wait after a page with hasMore false. Default
	// DefaultInterval (30s).
	Interval time.Duration
	// Once makes Run return nil after the first committed page with
	// hasMore false, instead of polling on.
	Once bool

	// ClientOpts connect to the cluster (brokers, TLS, SASL); see
	// internal/kafkaconfig. Required.
	ClientOpts []kgo.Opt
	// TransactionalID identifies the producer across restarts. Default
	// DefaultTxnIDPrefix followed by the hash of the cursor key, so that a
	// second poller of the same tenant and URL fences the first.
	TransactionalID string
	// CursorReplication is the replication factor of the cursor topic when
	// the poller creates it. Default -1, the broker's default.
	CursorReplication int16
	// Serde encodes the records. Default schemas.NewSingleObject().
	Serde *schemas.Serde
	// Store keeps the raw MIME and attachments of raw items. Required.
	Store blobstore.Store

	// HTTPClient sends the requests. Default: a client with a timeout of
	// DefaultRequestTimeout (60s).
	HTTPClient *http.Client
	// MaxPageBytes bounds the size of a response body. Default
	// DefaultMaxPageBytes (256 MiB).
	MaxPageBytes int64
	// Backoff paces retries after errors. Default: from 1s to 5 minutes.
	Backoff Backoff
	// MaxRetryAfter caps the delay of a Retry-After header. Default
	// DefaultMaxRetryAfter (1 hour).
	MaxRetryAfter time.Duration

	// Logger receives the poller's logs. Default: logs are discarded.
	Logger *slog.Logger
	// Metrics counts the committed records (metrics.NewIngress). Nil, the
	// default, counts none.
	Metrics *metrics.Ingress
	// Now returns the time of receipt of each item. Default time.Now.
	Now func() time.Time
}

// withDefaults returns cfg with zero fields set to their defaults and the
// parsed URL, or an error naming the first invalid field.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	endpoint, err := parseEndpoint(cfg.URL)
	if err != nil {
		return cfg, nil, err
	}
	if err := ingest.ValidateTenant(cfg.Tenant); err != nil {
		return cfg, nil, err
	}
	switch {
	case cfg.Token == nil:
		return cfg, nil, errors.New("poller config: Token is nil: pass a function that reads the bearer token")
	case cfg.Limit < 0 || cfg.Limit > MaxLimit:
		return cfg, nil, fmt.Errorf("invalid limit %d: use a page size from 1 to %d", cfg.Limit, MaxLimit)
	case cfg.Interval < 0:
		return cfg, nil, fmt.Errorf("invalid interval %v: use a positive duration such as 30s", cfg.Interval)
	case len(cfg.ClientOpts) == 0:
		return cfg, nil, errors.New("poller config: ClientOpts is empty: pass the Kafka options of kafkaconfig.Config.Opts")
	case cfg.Store == nil:
		return cfg, nil, errors.New("poller config: Store is nil: pass a blobstore.Store such as blobstore.NewDir")
	case cfg.CursorReplication < -1:
		return cfg, nil, fmt.Errorf("invalid cursor topic replication %d: use 1 or more, or -1 for the broker default", cfg.CursorReplication)
	}

	if cfg.Limit == 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.CursorReplication == 0 {
		cfg.CursorReplication = -1
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = DefaultTxnIDPrefix + urlHash(endpoint)
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultRequestTimeout}
	}
	if cfg.MaxPageBytes <= 0 {
		cfg.MaxPageBytes = DefaultMaxPageBytes
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, endpoint, nil
}

// parseEndpoint checks that raw is an absolute https URL, or an http URL
// of a loopback host, without user information or fragment.
func parseEndpoint(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("missing URL: pass --url with the cursor API endpoint, such as https://api.example.com/v1/messages")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	redacted := redactURL(u)
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("invalid URL %s: it has no host; pass an absolute URL such as https://api.example.com/v1/messages", redacted)
	case u.User != nil:
		return nil, fmt.Errorf("invalid URL %s: it contains user information; pass the token with --token-file instead", redacted)
	case u.Fragment != "":
		return nil, fmt.Errorf("invalid URL %s: remove the #fragment", redacted)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("invalid URL %s: plain http would send the bearer token unencrypted; use https (http is accepted only for loopback hosts)", redacted)
	default:
		return nil, fmt.Errorf("invalid URL %s: unsupported scheme %q; use https", redacted, u.Scheme)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL returns u without user information, query and fragment, for
// logs and errors: a query may carry an API key.
func redactURL(u *url.URL) string {
	bare := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return bare.String()
}
