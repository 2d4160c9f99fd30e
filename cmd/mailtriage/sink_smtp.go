package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"strings"

	"mailtriage/connectors/smtpsink"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
	"mailtriage/topics"
)

// envSMTPPassword is read when --password-file is not given, so that the
// relay password need not be in a file or the process list.
const envSMTPPassword = "MAILTRIAGE_SMTP_PASSWORD"

func init() {
	registerSink("smtp", runSinkSMTP)
}

// tenantFromFlag collects the repeated --tenant-from tenant=ADDRESS flags.
type tenantFromFlag map[string]mail.Address

func (f tenantFromFlag) String() string { return "" }

func (f tenantFromFlag) Set(s string) error {
	tenant, addr, ok := strings.Cut(s, "=")
	if !ok || tenant == "" {
		return fmt.Errorf("invalid --tenant-from %q: use tenant=address, such as acme=support@acme.example", s)
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil {
		return fmt.Errorf("invalid --tenant-from address for tenant %s: %w", tenant, err)
	}
	f[tenant] = *parsed
	return nil
}

// runSinkSMTP runs "mailtriage sink smtp": it sends the automatic
// acknowledgements of mailtriage.autoreplies.v1 and the agent replies of
// mailtriage.outbound.v1 through an SMTP relay until SIGTERM or SIGINT,
// logging JSON to stderr.
func runSinkSMTP(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink smtp --brokers host:port --postgres DSN --relay host:port --from ADDRESS [--starttls] [--user NAME --password-file FILE] [--tenant-from tenant=ADDRESS]... [--templates DIR] [--outbound-topic TOPIC|none]"

	fs := flag.NewFlagSet("sink smtp", flag.ContinueOnError)
	var observe observeFlags
	var logLevel slog.Level
	observe.add(fs, &logLevel, logging.FormatJSON)
	var metricsAddr string
	addMetricsFlag(fs, &metricsAddr)
	var kafka kafkaconfig.Config
	kafka.AddFlags(fs)
	dsn := fs.String("postgres", "",
		"PostgreSQL connection string of the ledger, suppression list and offsets (default $"+envPostgresDSN+"; pgx also reads PGPASSWORD and ~/.pgpass)")
	relay := fs.String("relay", "", "host:port of the SMTP relay that delivers the replies")
	startTLS := fs.Bool("starttls", false, "require STARTTLS on the relay connection")
	user := fs.String("user", "", "user name for SASL PLAIN authentication at the relay; empty skips authentication")
	passwordFile := fs.String("password-file", "", "file holding the relay password (default $"+envSMTPPassword+")")
	helo := fs.String("helo", "localhost", "host name the sink gives in EHLO")
	from := fs.String("from", "", "From address of the replies, such as \"Acme Support <support@acme.example>\"; its domain names the Message-IDs")
	tenantFrom := tenantFromFlag{}
	fs.Var(tenantFrom, "tenant-from", "From address of one tenant as tenant=ADDRESS; repeat for more tenants")
	envelopeFrom := fs.String("envelope-from", "", "SMTP MAIL FROM; empty sends the null reverse-path <> that RFC 3834 recommends for acknowledgements, and the tenant's From address for agent replies")
	templates := fs.String("templates", smtpsink.DefaultTemplatesDir, "folder of the reply templates, laid out as TENANT/QUEUE.text.tmpl and .html.tmpl")
	limitRecipient := fs.String("limit-recipient", "1/24h", "replies per recipient address and tenant, as MAX/WINDOW[,MAX/WINDOW]; none turns it off")
	limitTicket := fs.String("limit-ticket", "1/1h,3/24h", "replies per ticket, as MAX/WINDOW[,MAX/WINDOW]; none turns it off")
	limitTenant := fs.String("limit-tenant", "500/1h,5000/24h", "replies per tenant, as MAX/WINDOW[,MAX/WINDOW]; none turns it off")
	maxAttempts := fs.Int("max-attempts", smtpsink.DefaultMaxAttempts, "sessions with the relay, the first included, before a 4xx or network error sends the reply to the dead-letter topic")
	baseDelay := fs.Duration("retry-base-delay", smtpsink.DefaultBaseDelay, "backoff before the first retry; doubled for each further retry")
	maxDelay := fs.Duration("retry-max-delay", smtpsink.DefaultMaxDelay, "maximum backoff between two retries")
	timeout := fs.Duration("relay-timeout", smtpsink.DefaultRelayTimeout, "timeout of the connection and of each SMTP command")
	outboundTopic := fs.String("outbound-topic", topics.Outbound, "topic of the agent replies written by the ticket API, consumed in the same group; none sends acknowledgements only")
	group := fs.String("group", smtpsink.DefaultGroup, "connector name: the Kafka consumer group and the key of the offsets stored in PostgreSQL")
	registryURL := addSchemaRegistryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}

	if *dsn == "" {
		*dsn = os.Getenv(envPostgresDSN)
	}
	switch {
	case *dsn == "":
		return errors.New("missing --postgres: pass the PostgreSQL connection string or set " + envPostgresDSN)
	case *relay == "":
		return errors.New("missing --relay: pass host:port of the SMTP relay, such as smtp.example.com:587")
	case *from == "" && len(tenantFrom) == 0:
		return errors.New("missing --from: pass the From address of the replies, or one --tenant-from per tenant")
	}
	cfg := smtpsink.Config{
		DSN:           *dsn,
		Group:         *group,
		OutboundTopic: *outboundTopic,
		NoOutbound:    *outboundTopic == "none",
		EnvelopeFrom:  *envelopeFrom,
		TenantFrom:    tenantFrom,
		Relay: smtpsink.Relay{
			Addr:     *relay,
			StartTLS: *startTLS,
			Username: *user,
			HeloName: *helo,
			Timeout:  *timeout,
		},
		Retry: smtpsink.RetryPolicy{MaxAttempts: *maxAttempts, BaseDelay: *baseDelay, MaxDelay: *maxDelay},
	}
	if *from != "" {
		parsed, err := mail.ParseAddress(*from)
		if err != nil {
			return fmt.Errorf("invalid --from %q: %w", *from, err)
		}
		cfg.From = *parsed
	}
	if *user != "" {
		password, err := relayPassword(*passwordFile)
		if err != nil {
			return err
		}
		cfg.Relay.Password = password
	}
	var err error
	for _, l := range []struct {
		flag string
		text string
		into *[]smtpsink.Limit
	}{
		{"--limit-recipient", *limitRecipient, &cfg.Limits.PerRecipient},
		{"--limit-ticket", *limitTicket, &cfg.Limits.PerTicket},
		{"--limit-tenant", *limitTenant, &cfg.Limits.PerTenant},
	} {
		if *l.into, err = smtpsink.ParseLimits(l.text); err != nil {
			return fmt.Errorf("%s: %w", l.flag, err)
		}
	}
	if cfg.Templates, err = smtpsink.LoadTemplates(*templates); err != nil {
		return err
	}
	if cfg.KafkaOpts, err = kafka.Opts(); err != nil {
		return err
	}
	if cfg.Serde, err = sinkSerde(*registryURL); err != nil {
		return err
	}
	logger, stopTracing, err := observe.start(ctx, "sink-smtp", logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	reg, stopMetrics, err := metrics.StartRole(ctx, metricsAddr, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	cfg.Logger = logger
	cfg.Metrics = metrics.NewSink(reg, metrics.SinkSMTP)

	sink, err := smtpsink.New(cfg)
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}

// relayPassword reads the relay password from file, or from
// $MAILTRIAGE_SMTP_PASSWORD when file is empty.
func relayPassword(file string) (string, error) {
	if file == "" {
		if p := os.Getenv(envSMTPPassword); p != "" {
			return p, nil
		}
		return "", errors.New("--user is set but no password: pass --password-file FILE or set " + envSMTPPassword)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading --password-file: %w", err)
	}
	password := strings.TrimRight(string(data), "\r\n")
	if password == "" {
		return "", fmt.Errorf("--password-file %s is empty: write the relay password into it", file)
	}
	return password, nil
}
