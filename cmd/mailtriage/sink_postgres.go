package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

// envPostgresDSN is read when --postgres is not given, so that the DSN,
// which may contain a password, need not appear in the process list.
const envPostgresDSN = "MAILTRIAGE_POSTGRES_DSN"

func init() {
	registerSink("postgres", runSinkPostgres)
}

// runSinkPostgres runs "mailtriage sink postgres": it applies the ticket
// commands to PostgreSQL until SIGTERM or SIGINT, logging JSON to stderr.
func runSinkPostgres(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sink postgres", flag.ContinueOnError)
	var observe observeFlags
	var logLevel slog.Level
	observe.add(fs, &logLevel, logging.FormatJSON)
	var metricsAddr string
	addMetricsFlag(fs, &metricsAddr)
	var kafka kafkaconfig.Config
	kafka.AddFlags(fs)
	// The default stays out of the flag, so that -h never prints a
	// password taken from the environment.
	dsn := fs.String("postgres", "",
		"PostgreSQL connection string, e.g. postgres://user@host:5432/db?sslmode=disable (default $"+envPostgresDSN+"; pgx also reads PGPASSWORD and ~/.pgpass)")
	group := fs.String("group", postgres.DefaultGroup,
		"connector name: the Kafka consumer group and the key of the offsets stored in PostgreSQL")
	batch := fs.Int("batch", postgres.DefaultBatchSize,
		"maximum records applied in one database transaction")
	closedPolicy := fs.String("closed-policy", "",
		"what a follow-up to a closed ticket does, per queue: queue=reopen|new,... with *=policy for the other queues (default reopen in every queue)")
	registryURL := addSchemaRegistryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	policy, err := postgres.ParseClosedPolicy(*closedPolicy)
	if err != nil {
		return fmt.Errorf("--closed-policy: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: usage: mailtriage sink postgres --brokers host:port --postgres DSN [--group name] [--batch N] [--closed-policy queue=reopen|new,...] [--schema-registry URL]", fs.Arg(0))
	}
	if *dsn == "" {
		*dsn = os.Getenv(envPostgresDSN)
	}
	if *dsn == "" {
		return errors.New("missing --postgres: pass the PostgreSQL connection string or set " + envPostgresDSN)
	}
	if *batch < 1 {
		return fmt.Errorf("invalid --batch %d: use 1 or more", *batch)
	}
	if *group == "" {
		return errors.New("empty --group: name the connector")
	}
	kafkaOpts, err := kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*registryURL)
	if err != nil {
		return err
	}

	logger, stopTracing, err := observe.start(ctx, "sink-postgres", logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	reg, stopMetrics, err := metrics.StartRole(ctx, metricsAddr, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sink, err := postgres.New(postgres.Config{
		DSN:          *dsn,
		KafkaOpts:    kafkaOpts,
		Group:        *group,
		BatchSize:    *batch,
		ClosedPolicy: policy,
		Serde:        serde,
		Logger:       logger,
		Metrics:      metrics.NewSink(reg, metrics.SinkPostgres),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}
