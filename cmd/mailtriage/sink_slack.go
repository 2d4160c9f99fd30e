package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/slack"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

// envSlackDefaultWebhook is read when --default-webhook is not given, so
// that the secret URL need not appear in the process list.
const envSlackDefaultWebhook = "MAILTRIAGE_SLACK_DEFAULT_WEBHOOK"

func init() {
	registerSink("slack", runSinkSlack)
}

// webhookFlag collects the repeated --webhook tenant=URL flags. Its Set
// returns no error, because the flag package would print the rejected
// value with the secret URL. slackWebhooks checks the values after parsing.
type webhookFlag struct{ specs *[]string }

func (f webhookFlag) String() string { return "" }

func (f webhookFlag) Set(s string) error {
	*f.specs = append(*f.specs, s)
	return nil
}

// runSinkSlack runs "mailtriage sink slack": it posts the notifications to
// Slack incoming webhooks until SIGTERM or SIGINT, logging JSON to stderr.
func runSinkSlack(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink slack --brokers host:port --postgres DSN --webhooks FILE [--webhook tenant=URL]... [--default-webhook URL] [--group name] [--schema-registry URL]"

	fs := flag.NewFlagSet("sink slack", flag.ContinueOnError)
	var observe observeFlags
	var logLevel slog.Level
	observe.add(fs, &logLevel, logging.FormatJSON)
	var metricsAddr string
	addMetricsFlag(fs, &metricsAddr)
	var kafka kafkaconfig.Config
	kafka.AddFlags(fs)
	var webhookSpecs []string
	dsn := fs.String("postgres", os.Getenv(envPostgresDSN),
		"PostgreSQL connection string of the delivery ledger (default $"+envPostgresDSN+"; pgx also reads PGPASSWORD and ~/.pgpass)")
	schema := fs.String("postgres-schema", slack.DefaultSchema, "PostgreSQL schema of the slack_deliveries ledger table; created if missing")
	webhookFile := fs.String("webhooks", "", "YAML file with \"default: URL\" and \"tenants: {tenant: URL}\"; prefer it to flags, which show the secret URLs in the process list")
	fs.Var(webhookFlag{&webhookSpecs}, "webhook", "webhook of one tenant as tenant=URL; repeat for more tenants")
	defaultHook := fs.String("default-webhook", os.Getenv(envSlackDefaultWebhook),
		"webhook URL for tenants without their own (default $"+envSlackDefaultWebhook+"; empty skips such tenants)")
	group := fs.String("group", slack.DefaultGroup, "Kafka consumer group of the sink")
	maxAttempts := fs.Int("max-attempts", slack.DefaultMaxAttempts, "posts of one notification, the first included, before a 5xx, 429 or network error sends it to the dead-letter topic")
	baseDelay := fs.Duration("retry-base-delay", slack.DefaultBaseDelay, "backoff before the first retry; doubled for each further retry")
	maxDelay := fs.Duration("retry-max-delay", slack.DefaultMaxDelay, "maximum backoff between two posts")
	requestTimeout := fs.Duration("request-timeout", slack.DefaultRequestTimeout, "timeout of one webhook post, response included")
	registryURL := addSchemaRegistryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}

	hooks, err := slackWebhooks(*webhookFile, webhookSpecs, *defaultHook)
	if err != nil {
		return err
	}
	switch {
	case *dsn == "":
		return errors.New("missing --postgres: pass the PostgreSQL connection string of the ledger or set " + envPostgresDSN)
	case *group == "":
		return errors.New("empty --group: name the consumer group")
	case *maxAttempts < 1:
		return fmt.Errorf("invalid --max-attempts %d: use 1 or more", *maxAttempts)
	case *baseDelay <= 0 || *maxDelay < *baseDelay:
		return fmt.Errorf("invalid --retry-base-delay %v or --retry-max-delay %v: both must be positive, the maximum at least the base", *baseDelay, *maxDelay)
	case *requestTimeout <= 0:
		return fmt.Errorf("invalid --request-timeout %v: use a positive duration such as 10s", *requestTimeout)
	}
	kafkaOpts, err := kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*registryURL)
	if err != nil {
		return err
	}

	logger, stopTracing, err := observe.start(ctx, "sink-slack", logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	reg, stopMetrics, err := metrics.StartRole(ctx, metricsAddr, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("invalid --postgres connection string: %w", err)
	}
	defer pool.Close()
	if err := migrateSlackLedger(ctx, pool, *schema, logger); err != nil {
		if ctx.Err() != nil {
			return nil // stopped by a signal while waiting for PostgreSQL
		}
		return err
	}

	sink, err := slack.New(slack.Config{
		ClientOpts: kafkaOpts,
		Group:      *group,
		Webhooks:   hooks,
		Ledger:     slack.NewPostgresLedger(pool, *schema),
		Serde:      serde,
		Retry: slack.RetryPolicy{
			MaxAttempts: *maxAttempts,
			BaseDelay:   *baseDelay,
			MaxDelay:    *maxDelay,
		},
		RequestTimeout: *requestTimeout,
		Logger:         logger,
		Metrics:        metrics.NewSink(reg, metrics.SinkSlack),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}

// slackWebhooks merges the --webhook flags, the webhook file and the
// default URL, and checks that at least one URL is set.
func slackWebhooks(file string, specs []string, defaultURL string) (slack.Webhooks, error) {
	var hooks slack.Webhooks
	for _, spec := range specs {
		if err := hooks.Set(spec); err != nil {
			return slack.Webhooks{}, fmt.Errorf("invalid --webhook: %w", err)
		}
	}
	if file != "" {
		fromFile, err := slack.LoadWebhooks(file)
		if err != nil {
			return slack.Webhooks{}, err
		}
		if err := hooks.Merge(fromFile); err != nil {
			return slack.Webhooks{}, fmt.Errorf("--webhook and --webhooks %s: %w", file, err)
		}
	}
	if defaultURL != "" {
		hooks.Default = defaultURL
	}
	if err := hooks.Validate(); err != nil {
		return slack.Webhooks{}, err
	}
	if hooks.Empty() {
		return slack.Webhooks{}, errors.New("no Slack webhook configured: pass --webhooks FILE, --webhook tenant=URL or --default-webhook URL")
	}
	return hooks, nil
}

// migrateSlackLedger creates or updates the ledger table, retrying while
// PostgreSQL is unreachable so that the sink can start before the database.
func migrateSlackLedger(ctx context.Context, pool *pgxpool.Pool, schema string, logger *slog.Logger) error {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := slack.Migrate(ctx, pool, schema)
		if err == nil {
			return nil
		}
		if errors.Is(err, slack.ErrLedgerPermanent) || ctx.Err() != nil {
			return fmt.Errorf("preparing the Slack delivery ledger: %w", err)
		}
		logger.Warn("preparing the Slack delivery ledger failed, retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("preparing the Slack delivery ledger: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
