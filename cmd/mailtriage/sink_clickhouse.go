package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"mailtriage/connectors/clickhouse"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

// envClickHousePassword holds the password of the ClickHouse user, so that
// it need not appear in the process list.
const envClickHousePassword = "MAILTRIAGE_CLICKHOUSE_PASSWORD"

func init() {
	registerSink("clickhouse", runSinkClickHouse)
}

// runSinkClickHouse runs "mailtriage sink clickhouse": it inserts the
// decision events into ClickHouse until SIGTERM or SIGINT, logging JSON to
// stderr.
func runSinkClickHouse(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink clickhouse --brokers host:port --clickhouse host:port [--database name] [--table name] [--batch-rows N] [--batch-wait 1s] [--group name] [--schema-registry URL]"

	fs := flag.NewFlagSet("sink clickhouse", flag.ContinueOnError)
	var observe observeFlags
	var logLevel slog.Level
	observe.add(fs, &logLevel, logging.FormatJSON)
	var metricsAddr string
	addMetricsFlag(fs, &metricsAddr)
	var kafka kafkaconfig.Config
	if err := kafka.FromEnv(); err != nil {
		return err
	}
	kafka.AddFlags(fs)
	addr := fs.String("clickhouse", os.Getenv(envClickHouseAddr), "host:port of the ClickHouse native protocol (TCP, usually port 9000; not the HTTP port); the default comes from $"+envClickHouseAddr)
	user := fs.String("clickhouse-user", clickhouse.DefaultUsername, "ClickHouse user; its password is read from $"+envClickHousePassword)
	database := fs.String("database", clickHouseDatabaseDefault(), "ClickHouse database of the decisions table, created if missing; the default comes from $"+envClickHouseDatabase+" when set")
	table := fs.String("table", clickhouse.DefaultTable, "name of the decisions table; created if missing")
	batchRows := fs.Int("batch-rows", clickhouse.DefaultBatchRows, "records per insert: a batch is flushed once it holds this many")
	batchWait := fs.Duration("batch-wait", clickhouse.DefaultBatchWait, "maximum time from the first record of a batch to its flush")
	group := fs.String("group", clickhouse.DefaultGroup, "Kafka consumer group of the sink")
	registryURL := addSchemaRegistryFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}
	switch {
	case *addr == "":
		return errors.New("missing --clickhouse: pass the host:port of the ClickHouse native protocol, such as 127.0.0.1:9000, or set " + envClickHouseAddr)
	case *group == "":
		return errors.New("empty --group: name the consumer group")
	case *batchRows < 1:
		return fmt.Errorf("invalid --batch-rows %d: use 1 or more", *batchRows)
	case *batchWait <= 0:
		return fmt.Errorf("invalid --batch-wait %v: use a positive duration such as 1s", *batchWait)
	}
	kafkaOpts, err := kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*registryURL)
	if err != nil {
		return err
	}

	logger, stopTracing, err := observe.start(ctx, "sink-clickhouse", logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	reg, stopMetrics, err := metrics.StartRole(ctx, metricsAddr, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sink, err := clickhouse.New(clickhouse.Config{
		Addr:      *addr,
		Database:  *database,
		Table:     *table,
		Username:  *user,
		Password:  os.Getenv(envClickHousePassword),
		KafkaOpts: kafkaOpts,
		Group:     *group,
		BatchRows: *batchRows,
		BatchWait: *batchWait,
		Serde:     serde,
		Logger:    logger,
		Metrics:   metrics.NewSink(reg, metrics.SinkClickHouse),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}
