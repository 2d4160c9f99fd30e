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

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

// externalFlags are the flags that the ticketing, CRM and Teams sinks
// share: Kafka, logs, traces, metrics, PostgreSQL and the retry backoff.
type externalFlags struct {
	observe        observeFlags
	logLevel       slog.Level
	metricsAddr    string
	kafka          kafkaconfig.Config
	dsn            *string
	group          *string
	registryURL    *string
	requestTimeout *time.Duration
	baseDelay      *time.Duration
	maxDelay       *time.Duration
}

// add registers the shared flags on fs, with defaultGroup as the group.
func (f *externalFlags) add(fs *flag.FlagSet, defaultGroup, ledger string) {
	f.observe.add(fs, &f.logLevel, logging.FormatJSON)
	addMetricsFlag(fs, &f.metricsAddr)
	f.kafka.AddFlags(fs)
	f.dsn = fs.String("postgres", os.Getenv(envPostgresDSN),
		"PostgreSQL connection string of the "+ledger+" (default $"+envPostgresDSN+"; pgx also reads PGPASSWORD and ~/.pgpass)")
	f.group = fs.String("group", defaultGroup, "Kafka consumer group of the sink")
	f.registryURL = addSchemaRegistryFlag(fs)
	f.requestTimeout = fs.Duration("request-timeout", httpjson.DefaultTimeout, "timeout of one HTTP request, response included")
	f.baseDelay = fs.Duration("retry-base-delay", httpjson.DefaultBaseDelay, "backoff before the first retry; doubled for each further retry")
	f.maxDelay = fs.Duration("retry-max-delay", httpjson.DefaultMaxDelay, "maximum backoff between two attempts")
}

// validate checks the shared flags.
func (f *externalFlags) validate() error {
	switch {
	case *f.dsn == "":
		return errors.New("missing --postgres: pass the PostgreSQL connection string of the ledger or set " + envPostgresDSN)
	case *f.group == "":
		return errors.New("empty --group: name the consumer group")
	case *f.requestTimeout <= 0:
		return fmt.Errorf("invalid --request-timeout %v: use a positive duration such as 10s", *f.requestTimeout)
	case *f.baseDelay <= 0 || *f.maxDelay < *f.baseDelay:
		return fmt.Errorf("invalid --retry-base-delay %v or --retry-max-delay %v: both must be positive, the maximum at least the base", *f.baseDelay, *f.maxDelay)
	}
	return nil
}

// externalRuntime is the logger, metrics registry and pool of a running
// ticketing, CRM or Teams sink.
type externalRuntime struct {
	log     *slog.Logger
	metrics *metrics.Registry
	pool    *pgxpool.Pool
	stop    func()
}

// start begins logging, tracing and metrics for role and opens the pool.
// Call stop on exit.
func (f *externalFlags) start(ctx context.Context, role string) (*externalRuntime, error) {
	logger, stopTracing, err := f.observe.start(ctx, role, f.logLevel)
	if err != nil {
		return nil, err
	}
	reg, stopMetrics, err := metrics.StartRole(ctx, f.metricsAddr, logger)
	if err != nil {
		stopTracing()
		return nil, err
	}
	pool, err := pgxpool.New(ctx, *f.dsn)
	if err != nil {
		stopMetrics()
		stopTracing()
		// pgconn masks the password in the text of this error.
		return nil, fmt.Errorf("invalid --postgres connection string: %w", err)
	}
	return &externalRuntime{log: logger, metrics: reg, pool: pool, stop: func() {
		pool.Close()
		stopMetrics()
		stopTracing()
	}}, nil
}

// retryPolicy returns the backoff of the flags with maxAttempts.
func (f *externalFlags) retryPolicy(maxAttempts int) httpjson.RetryPolicy {
	return httpjson.RetryPolicy{MaxAttempts: maxAttempts, BaseDelay: *f.baseDelay, MaxDelay: *f.maxDelay}
}

// readToken reads an API token from path, trimming the white space around
// it. The token never appears in an error.
func readToken(flagName, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("missing %s: pass the file that contains the API token", flagName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("%s %s is empty: write the API token into it", flagName, path)
	}
	if strings.ContainsAny(token, "\r\n") {
		return "", fmt.Errorf("%s %s has more than one line: keep only the API token", flagName, path)
	}
	return token, nil
}
