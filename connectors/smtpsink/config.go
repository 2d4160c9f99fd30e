package smtpsink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Defaults of Config fields left zero.
const (
	// DefaultGroup is the connector name: the Kafka consumer group and the
	// consumer_group key of the offsets stored in PostgreSQL.
	DefaultGroup = "mailtriage-sink-smtp"
	// DefaultMaxPollRecords bounds the records of one poll.
	DefaultMaxPollRecords = 100
	// DefaultRelayTimeout bounds each step of one SMTP session: the
	// connection, each command and the reply to the end of the data.
	DefaultRelayTimeout = 30 * time.Second
	// DefaultMaxAttempts is the number of sessions with the relay, the
	// first included, before a temporary failure sends the reply to the
	// dead-letter topic.
	DefaultMaxAttempts = 6
	// DefaultBaseDelay is the wait before the first retry; each further
	// retry doubles it.
	DefaultBaseDelay = time.Second
	// DefaultMaxDelay caps the wait between two retries.
	DefaultMaxDelay = time.Minute
)

// Limit allows at most Max replies in any sliding Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// String returns the limit as ParseLimits reads it, such as "1/24h0m0s".
func (l Limit) String() string { return strconv.Itoa(l.Max) + "/" + l.Window.String() }

// Limits are the rate limits the sink applies before it sends. A reply
// counts against them while it is sending or sent, or when a crash left
// its outcome unknown. Replies that were suppressed or failed do not
// count.
type Limits struct {
	// PerRecipient limits replies to one address of one tenant. Default
	// DefaultPerRecipient: one per 24 hours.
	PerRecipient []Limit
	// PerTicket limits replies about one ticket. Default DefaultPerTicket.
	PerTicket []Limit
	// PerTenant limits all replies of one tenant. Default DefaultPerTenant.
	PerTenant []Limit
}

// Default rate limits. The ticket and tenant caps are starting points
// chosen to stop a runaway loop early, not measured values: raise the
// tenant cap for tenants with more new tickets per hour.
var (
	DefaultPerRecipient = []Limit{{Max: 1, Window: 24 * time.Hour}}
	DefaultPerTicket    = []Limit{{Max: 1, Window: time.Hour}, {Max: 3, Window: 24 * time.Hour}}
	DefaultPerTenant    = []Limit{{Max: 500, Window: time.Hour}, {Max: 5000, Window: 24 * time.Hour}}
)

// ParseLimits reads a comma-separated list of MAX/WINDOW limits, such as
// "1/24h" or "500/1h,5000/24h". "none" and "" return an empty list, which
// turns the limit off.
func ParseLimits(s string) ([]Limit, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return []Limit{}, nil
	}
	var out []Limit
	for _, item := range strings.Split(s, ",") {
		maxText, windowText, ok := strings.Cut(strings.TrimSpace(item), "/")
		max, err := strconv.Atoi(maxText)
		if !ok || err != nil || max < 1 {
			return nil, fmt.Errorf("invalid limit %q: use MAX/WINDOW with MAX 1 or more, such as 1/24h", item)
		}
		window, err := time.ParseDuration(windowText)
		if err != nil || window <= 0 {
			return nil, fmt.Errorf("invalid limit %q: the window must be a positive duration such as 1h or 24h", item)
		}
		out = append(out, Limit{Max: max, Window: window})
	}
	return out, nil
}

// Relay is the SMTP server the sink hands its replies to.
type Relay struct {
	// Addr is host:port of the relay. Required.
	Addr string
	// StartTLS upgrades the session with STARTTLS before MAIL FROM and
	// fails when the relay does not offer it. Default false.
	StartTLS bool
	// TLSConfig verifies the relay's certificate. Nil means the system
	// roots and the host of Addr as the server name.
	TLSConfig *tls.Config
	// Username and Password authenticate with SASL PLAIN. Empty Username
	// skips authentication. PLAIN sends the password in clear text, so it
	// needs StartTLS unless the relay is on a loopback address.
	Username string
	Password string
	// HeloName is the name the sink gives in EHLO. Default "localhost".
	HeloName string
	// Timeout bounds the connection and each SMTP command. Default
	// DefaultRelayTimeout (30 s).
	Timeout time.Duration
}

// RetryPolicy bounds the sessions spent on one reply.
type RetryPolicy struct {
	// MaxAttempts is the number of sessions, the first included, before a
	// temporary failure (a 4xx reply, a refused or broken connection)
	// sends the reply to the dead-letter topic. Default 6.
	MaxAttempts int
	// BaseDelay is the wait before the first retry; each further retry
	// doubles it. Default 1 s. PostgreSQL retries use the same backoff.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. Default 1 min.
	MaxDelay time.Duration
}

// Config configures a Sink. New validates it and fills in the defaults.
type Config struct {
	// DSN is the PostgreSQL connection string of the ledger, the
	// suppression list and the stored offsets. Required.
	DSN string
	// KafkaOpts are the franz-go options that reach the cluster (seed
	// brokers, TLS, SASL). Required: at least the seed brokers.
	KafkaOpts []kgo.Opt
	// Group is the connector name. Default DefaultGroup.
	Group string
	// Topic carries the AutoReply commands. Default topics.AutoReplies.
	Topic string
	// OutboundTopic carries the agent replies (OutboundMessage) that the
	// ticket API writes. The sink consumes it in the same group as Topic.
	// Default topics.Outbound.
	OutboundTopic string
	// NoOutbound turns off the agent replies: the sink consumes only
	// Topic. Default false.
	NoOutbound bool
	// DLQTopic receives replies that failed for good. Default topics.DLQ.
	DLQTopic string
	// MaxPollRecords bounds one poll. Default DefaultMaxPollRecords.
	MaxPollRecords int
	// Serde decodes the commands. Default schemas.NewSingleObject().
	Serde *schemas.Serde

	// Relay is the SMTP server that delivers the replies. Required.
	Relay Relay
	// From is the From mailbox of the replies of tenants without one in
	// TenantFrom. Its domain also names the Message-IDs. Required unless
	// every tenant is in TenantFrom, and then only tenants listed there
	// get replies.
	From mail.Address
	// TenantFrom maps a tenant to its own From mailbox.
	TenantFrom map[string]mail.Address
	// EnvelopeFrom is the SMTP MAIL FROM. Empty, the default, sends the
	// null reverse-path "<>" for acknowledgements, as RFC 3834 section 3.3
	// recommends for automatic responses, so a reply that bounces does not
	// start another exchange. Agent replies then use the tenant's From
	// address, so their bounces reach the support mailbox. Set it when the
	// relay rejects a null sender or needs one fixed sender.
	EnvelopeFrom string
	// Templates renders the replies. Required.
	Templates *Templates
	// Limits are the rate limits. A nil list takes its default; an empty
	// non-nil list turns that limit off.
	Limits Limits
	// Retry bounds the retries of one reply.
	Retry RetryPolicy

	// Logger receives the sink's logs. Default: discarded.
	Logger *slog.Logger
	// Metrics receives the sink's metrics (metrics.NewSink with
	// metrics.SinkSMTP). Nil, the default, records none.
	Metrics *metrics.Sink
	// Now returns the current time for the ledger and the Date header.
	// Default time.Now.
	Now func() time.Time
}

// fromFor returns the From mailbox of tenant, and ok false when the
// tenant has none.
func (cfg *Config) fromFor(tenant string) (mail.Address, bool) {
	if from, ok := cfg.TenantFrom[tenant]; ok {
		return from, true
	}
	return cfg.From, cfg.From.Address != ""
}

// withDefaults returns cfg with zero fields set to their defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.DSN == "":
		return cfg, errors.New("smtp sink config: DSN is empty: pass the PostgreSQL connection string, e.g. postgres://user@host:5432/db")
	case len(cfg.KafkaOpts) == 0:
		return cfg, errors.New("smtp sink config: KafkaOpts is empty: pass at least kgo.SeedBrokers")
	case cfg.Templates == nil:
		return cfg, errors.New("smtp sink config: Templates is nil: load them with LoadTemplates")
	case cfg.From.Address == "" && len(cfg.TenantFrom) == 0:
		return cfg, errors.New("smtp sink config: From is empty: pass the From address of the replies, such as support@example.com")
	case cfg.MaxPollRecords < 0:
		return cfg, fmt.Errorf("smtp sink config: MaxPollRecords %d is negative: use 0 for the default", cfg.MaxPollRecords)
	}
	if err := cfg.Relay.validate(); err != nil {
		return cfg, err
	}
	for tenant, from := range cfg.TenantFrom {
		if _, _, ok := strings.Cut(from.Address, "@"); !ok {
			return cfg, fmt.Errorf("smtp sink config: From address %q of tenant %s has no domain: use a full address", from.Address, tenant)
		}
	}
	if cfg.From.Address != "" && !strings.Contains(cfg.From.Address, "@") {
		return cfg, fmt.Errorf("smtp sink config: From address %q has no domain: use a full address such as support@example.com", cfg.From.Address)
	}
	if cfg.EnvelopeFrom != "" && !strings.Contains(cfg.EnvelopeFrom, "@") {
		return cfg, fmt.Errorf("smtp sink config: EnvelopeFrom %q is not an address: use a full address, or leave it empty for <>", cfg.EnvelopeFrom)
	}

	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.AutoReplies
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = topics.DLQ
	}
	if cfg.OutboundTopic == "" {
		cfg.OutboundTopic = topics.Outbound
	}
	if cfg.DLQTopic == cfg.Topic {
		return cfg, fmt.Errorf("smtp sink config: DLQTopic and Topic are both %s: the DLQ must be another topic", cfg.Topic)
	}
	if !cfg.NoOutbound && (cfg.OutboundTopic == cfg.Topic || cfg.OutboundTopic == cfg.DLQTopic) {
		return cfg, fmt.Errorf("smtp sink config: OutboundTopic %s is also Topic or DLQTopic: give the agent replies a topic of their own", cfg.OutboundTopic)
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Serde == nil {
		cfg.Serde = schemas.NewSingleObject()
	}
	if cfg.Limits.PerRecipient == nil {
		cfg.Limits.PerRecipient = DefaultPerRecipient
	}
	if cfg.Limits.PerTicket == nil {
		cfg.Limits.PerTicket = DefaultPerTicket
	}
	if cfg.Limits.PerTenant == nil {
		cfg.Limits.PerTenant = DefaultPerTenant
	}
	var err error
	if cfg.Retry, err = cfg.Retry.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

func (r *Relay) validate() error {
	host, _, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return fmt.Errorf("smtp sink config: invalid relay address %q: use host:port, such as smtp.example.com:587", r.Addr)
	}
	if r.Timeout < 0 {
		return fmt.Errorf("smtp sink config: relay timeout %v is negative: use 0 for the default", r.Timeout)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultRelayTimeout
	}
	if r.HeloName == "" {
		r.HeloName = "localhost"
	}
	if r.Username != "" && !r.StartTLS && !isLoopback(host) {
		return fmt.Errorf("smtp sink config: authentication to %s without STARTTLS would send the password in clear text: enable StartTLS", r.Addr)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback IP.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("smtp sink config: MaxAttempts %d is negative: use 0 for the default of %d", p.MaxAttempts, DefaultMaxAttempts)
	case p.BaseDelay < 0 || p.MaxDelay < 0:
		return p, fmt.Errorf("smtp sink config: retry delays %v and %v must not be negative: use 0 for the defaults", p.BaseDelay, p.MaxDelay)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		return p, fmt.Errorf("smtp sink config: MaxDelay %v is below BaseDelay %v: raise MaxDelay", p.MaxDelay, p.BaseDelay)
	}
	return p, nil
}
