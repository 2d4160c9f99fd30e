package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/teams"
	"mailtriage/internal/metrics"
)

// envTeamsWebhook is read when --webhook-url is not given, so that the
// secret URL need not appear in the process list.
const envTeamsWebhook = "MAILTRIAGE_TEAMS_WEBHOOK_URL"

func init() {
	registerSink("teams", runSinkTeams)
}

// runSinkTeams runs "mailtriage sink teams": it posts the notifications to
// Microsoft Teams webhooks until SIGTERM or SIGINT.
func runSinkTeams(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink teams --webhook-url URL | --webhooks FILE --postgres DSN [--brokers host:port] [--group name]"

	fs := flag.NewFlagSet("sink teams", flag.ContinueOnError)
	var common externalFlags
	common.add(fs, teams.DefaultGroup, "delivery ledger (teams_deliveries)")
	defaultURL := fs.String("webhook-url", os.Getenv(envTeamsWebhook),
		"Teams webhook URL for every tenant without its own (default $"+envTeamsWebhook+"); prefer --webhooks or the variable, because flags show in the process list")
	webhookFile := fs.String("webhooks", "", "YAML file with \"default: URL\" and \"tenants: {tenant: URL}\"")
	maxAttempts := fs.Int("max-attempts", teams.DefaultMaxAttempts, "posts of one notice, the first included, before a 5xx, 429 or network error sends it to the dead-letter topic")
	channels := fs.String("channels", strings.Join(teams.DefaultChannels, ","), "comma-separated Notification.channel values to post; the processor marks chat notices \"slack\"")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}
	if err := common.validate(); err != nil {
		return err
	}
	if *maxAttempts < 1 {
		return fmt.Errorf("invalid --max-attempts %d: use 1 or more", *maxAttempts)
	}
	var hooks teams.Webhooks
	if *webhookFile != "" {
		var err error
		if hooks, err = teams.LoadWebhooks(*webhookFile); err != nil {
			return err
		}
	}
	if *defaultURL != "" {
		hooks.Default = *defaultURL
	}
	if err := hooks.Validate(); err != nil {
		return fmt.Errorf("--webhook-url: %w", err)
	}
	if hooks.Empty() {
		return errors.New("no Teams webhook configured: pass --webhook-url, --webhooks FILE or set " + envTeamsWebhook)
	}
	kafkaOpts, err := common.kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*common.registryURL)
	if err != nil {
		return err
	}

	rt, err := common.start(ctx, "sink-teams")
	if err != nil {
		return err
	}
	defer rt.stop()
	if err := migrateExternal(ctx, rt.pool, rt.log); err != nil {
		if ctx.Err() != nil {
			return nil // stopped by a signal while waiting for PostgreSQL
		}
		return err
	}
	sink, err := teams.New(teams.Config{
		ClientOpts:     kafkaOpts,
		Group:          *common.group,
		Serde:          serde,
		Webhooks:       hooks,
		Ledger:         teams.NewLedger(rt.pool),
		Channels:       strings.Split(*channels, ","),
		Retry:          common.retryPolicy(*maxAttempts),
		RequestTimeout: *common.requestTimeout,
		Logger:         rt.log,
		Metrics:        metrics.NewSink(rt.metrics, "teams"),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}

// migrateExternal applies the PostgreSQL migrations, which create the
// Teams ledger, retrying while PostgreSQL is unreachable.
func migrateExternal(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		_, err := postgres.Migrate(ctx, pool)
		if err == nil {
			return nil
		}
		logger.Warn("applying the PostgreSQL migrations failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("applying the PostgreSQL migrations: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
