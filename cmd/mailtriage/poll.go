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

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/poller"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

func init() {
	register("poll", "Poll a REST cursor API for mail and put each message on the inbound topic exactly once", runPoll)
}

// pollConfig is the configuration of `mailtriage poll`.
type pollConfig struct {
	kafka           kafkaconfig.Config
	url             string
	tenant          string
	tokenFile       string
	limit           int
	interval        time.Duration
	once            bool
	storageDir      string
	transactionalID string
	replication     int
	schemaRegistry  string
	logLevel        slog.Level
	observe         observeFlags
	metricsAddr     string // empty serves no metrics
}

func parsePollConfig(args []string) (pollConfig, error) {
	var cfg pollConfig
	if err := cfg.kafka.FromEnv(); err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("poll", flag.ContinueOnError)
	cfg.kafka.AddFlags(fs)
	fs.StringVar(&cfg.url, "url", "", "`URL` of the cursor API; the poller adds the after and limit parameters. https, or http for a loopback host")
	fs.StringVar(&cfg.tenant, "tenant", "", `tenant the polled mail belongs to; the first part of the record key tenant/messageId, so no "/" or white space`)
	fs.StringVar(&cfg.tokenFile, "token-file", "", "`file` containing the bearer token, read before every request so it can be rotated in place; without it the token comes from "+poller.EnvToken)
	fs.IntVar(&cfg.limit, "limit", poller.DefaultLimit, fmt.Sprintf("page size sent as the limit parameter, from 1 to %d", poller.MaxLimit))
	fs.DurationVar(&cfg.interval, "interval", poller.DefaultInterval, "wait after a page with hasMore false before the next request, such as 30s")
	fs.BoolVar(&cfg.once, "once", false, "exit after the first page with hasMore false, for runs from cron")
	fs.StringVar(&cfg.storageDir, "storage", defaultStorageDir, "`location` of the raw MIME and the attachments of raw items: a folder, or s3://BUCKET with the MAILTRIAGE_S3_* variables")
	fs.StringVar(&cfg.transactionalID, "transactional-id", "", "transactional `ID`, stable across restarts, by default "+poller.DefaultTxnIDPrefix+"HASH of the tenant and URL")
	fs.IntVar(&cfg.replication, "replication", -1, "replication `factor` of the cursor topic when the poller creates it, or -1 for the broker default")
	fs.StringVar(&cfg.schemaRegistry, "schema-registry", "", "Confluent schema registry `URL`. When set, records use the Confluent wire format, otherwise Avro single-object encoding")
	cfg.observe.add(fs, &cfg.logLevel, logging.FormatJSON)
	addMetricsFlag(fs, &cfg.metricsAddr)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: mailtriage poll takes only flags", fs.Arg(0))
	}

	switch {
	case cfg.url == "":
		return cfg, errors.New("missing --url: pass the cursor API endpoint, such as https://api.example.com/v1/messages")
	case cfg.tenant == "":
		return cfg, errors.New("missing --tenant: name the tenant the polled mail belongs to")
	case cfg.storageDir == "":
		return cfg, errors.New("--storage is empty: name the folder that keeps the raw MIME and the attachments")
	case cfg.replication == 0 || cfg.replication < -1 || cfg.replication > 1<<15-1:
		return cfg, fmt.Errorf("invalid --replication %d: use 1 or more, or -1 for the broker default", cfg.replication)
	}
	if _, err := cfg.token()(); err != nil {
		return cfg, err
	}
	return cfg, cfg.kafka.Validate()
}

// token returns the function that reads the bearer token: from
// --token-file on every call, or else from the environment.
func (cfg pollConfig) token() func() (string, error) {
	if cfg.tokenFile == "" {
		return func() (string, error) {
			token := strings.TrimSpace(os.Getenv(poller.EnvToken))
			if token == "" {
				return "", fmt.Errorf("missing bearer token: pass --token-file with a file that contains it, or set %s", poller.EnvToken)
			}
			return token, nil
		}
	}
	file := cfg.tokenFile
	return func() (string, error) {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the bearer token from --token-file %s: %w", file, err)
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", fmt.Errorf("the token file %s (--token-file) is empty: write the bearer token into it", file)
		}
		return token, nil
	}
}

func runPoll(ctx context.Context, args []string) error {
	cfg, err := parsePollConfig(args)
	if err != nil {
		return err
	}
	log, stopTracing, err := cfg.observe.start(ctx, "poll", cfg.logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	return poll(ctx, cfg, log)
}

// poll runs the poller until ctx ends, which main does on SIGINT or
// SIGTERM, or with --once until the API has no more pages.
func poll(ctx context.Context, cfg pollConfig, log *slog.Logger) error {
	kafkaOpts, err := cfg.kafka.Opts()
	if err != nil {
		return err
	}
	store, err := blobstore.Open(ctx, cfg.storageDir)
	if err != nil {
		return fmt.Errorf("--storage %s: %w", cfg.storageDir, err)
	}
	serde, err := newSerde(ctx, cfg.schemaRegistry)
	if err != nil {
		return err
	}

	reg, stopMetrics, err := metrics.StartRole(ctx, cfg.metricsAddr, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	p, err := poller.New(poller.Config{
		URL:               cfg.url,
		Tenant:            cfg.tenant,
		Token:             cfg.token(),
		Limit:             cfg.limit,
		Interval:          cfg.interval,
		Once:              cfg.once,
		ClientOpts:        kafkaOpts,
		TransactionalID:   cfg.transactionalID,
		CursorReplication: int16(cfg.replication),
		Serde:             serde,
		Store:             store,
		Logger:            log,
		Metrics:           metrics.NewIngress(reg),
	})
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Run(ctx)
}
