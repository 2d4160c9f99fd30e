package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/connectors/webhook"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
)

func init() {
	register("serve", "Run the HTTP webhook gateway that takes signed inbound mail (raw MIME or JSON) onto the inbound topic", runServe)
}

// Defaults of the serve flags.
const (
	defaultServeListen   = "127.0.0.1:8080"
	defaultShutdownGrace = 30 * time.Second
)

// serveConfig is the configuration of `mailtriage serve`.
type serveConfig struct {
	kafka          kafkaconfig.Config
	gateway        webhook.Config
	listen         string
	configFile     string // YAML with tenants and optionally a kafka section
	storage        string // folder of the raw messages and attachments
	schemaRegistry string
	shutdownGrace  time.Duration
	drainDelay     time.Duration
	logLevel       slog.Level
	observe        observeFlags
	metricsAddr    string // empty serves no metrics
}

func addServeFlags(fs *flag.FlagSet, cfg *serveConfig) {
	cfg.kafka.AddFlags(fs)
	fs.StringVar(&cfg.listen, "listen", defaultServeListen, "`address` (host:port) of the HTTP listener")
	fs.StringVar(&cfg.configFile, "config", "", "YAML `file` with the tenants and their signing secrets, and optionally a kafka section that MAILTRIAGE_KAFKA_* variables and flags override (required)")
	fs.StringVar(&cfg.storage, "storage", "", "`location` of raw messages and attachments: a folder, or s3://BUCKET with the MAILTRIAGE_S3_* variables (required)")
	fs.StringVar(&cfg.schemaRegistry, "schema-registry", "", "Confluent schema registry `URL`. When set, records use the Confluent wire format, otherwise Avro single-object encoding")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", defaultShutdownGrace, "how long requests in flight may take to finish after SIGTERM")
	fs.DurationVar(&cfg.drainDelay, "drain-delay", 0, "how long /readyz fails after SIGTERM before the listener closes, so that a load balancer stops sending requests")
	cfg.observe.add(fs, &cfg.logLevel, logging.FormatJSON)
	addMetricsFlag(fs, &cfg.metricsAddr)
}

// parseServeConfig builds the configuration from args, the file that
// --config names and the environment, in the order of process: a flag
// overrides the environment, which overrides the file.
func parseServeConfig(args []string, lookupEnv func(string) (string, bool)) (serveConfig, error) {
	// The first pass only finds --config, because the file must be loaded
	// before the flags that override it are applied.
	var probe serveConfig
	probeFlags := flag.NewFlagSet("serve", flag.ContinueOnError)
	probeFlags.SetOutput(io.Discard)
	addServeFlags(probeFlags, &probe)
	_ = probeFlags.Parse(args) // the second pass reports the same errors

	var cfg serveConfig
	if probe.configFile != "" {
		loaded, err := kafkaconfig.LoadFile(probe.configFile)
		switch {
		case errors.Is(err, kafkaconfig.ErrNoKafkaSection):
		case err != nil:
			return cfg, err
		default:
			cfg.kafka = loaded
		}
	}
	if err := cfg.kafka.FromEnv(); err != nil {
		return cfg, err
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addServeFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: mailtriage serve takes only flags", fs.Arg(0))
	}

	switch {
	case cfg.configFile == "":
		return cfg, errors.New("missing --config: name the YAML file with the tenants and their signing secrets")
	case cfg.storage == "":
		return cfg, errors.New("missing --storage: name the folder where raw messages and attachments are stored")
	case cfg.shutdownGrace <= 0:
		return cfg, fmt.Errorf("invalid --shutdown-grace %s: use a positive duration such as 30s", cfg.shutdownGrace)
	case cfg.drainDelay < 0:
		return cfg, fmt.Errorf("invalid --drain-delay %s: use 0 or a positive duration such as 5s", cfg.drainDelay)
	}
	if err := cfg.kafka.Validate(); err != nil {
		return cfg, err
	}
	gateway, err := webhook.LoadConfig(cfg.configFile, lookupEnv)
	if err != nil {
		return cfg, err
	}
	cfg.gateway = gateway
	return cfg, nil
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := parseServeConfig(args, os.LookupEnv)
	if err != nil {
		return err
	}
	log, stopTracing, err := cfg.observe.start(ctx, "serve", cfg.logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	return serve(ctx, cfg, log, nil)
}

// serve runs the gateway until ctx ends, which main does on SIGINT or
// SIGTERM. It then fails /readyz for drainDelay, stops accepting connections, lets the
// requests in flight finish for up to shutdownGrace and closes the
// producer. listening, when not nil, receives the bound address.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, listening func(net.Addr)) error {
	kafkaOpts, err := cfg.kafka.Opts()
	if err != nil {
		return err
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
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: kafkaOpts, Serde: serde, Metrics: metrics.NewIngress(reg)})
	if err != nil {
		return err
	}
	defer pub.Close()

	store, err := blobstore.Open(ctx, cfg.storage)
	if err != nil {
		return err
	}
	gateway, err := webhook.New(cfg.gateway, pub, store, log)
	if err != nil {
		return err
	}

	listener, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s (--listen): %w", cfg.listen, err)
	}
	server := &http.Server{
		Handler:           metrics.NewWebhook(reg).Handler(gateway),
		ReadHeaderTimeout: 10 * time.Second,
		// A 25 MiB body over a slow link needs minutes, so the body
		// timeouts are generous; the header timeout stops idle clients.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 3 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gateway starting", "listen", listener.Addr().String(), "brokers", cfg.kafka.Brokers,
		"tls", cfg.kafka.TLS.Enabled, "sasl_mechanism", cfg.kafka.SASL.Mechanism, "storage", cfg.storage,
		"gateway", cfg.gateway.String())
	if listening != nil {
		listening(listener.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()

	select {
	case err := <-served:
		return fmt.Errorf("serving HTTP on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}

	log.Info("gateway stopping", "drain_delay", cfg.drainDelay.String(), "grace", cfg.shutdownGrace.String())
	gateway.Drain()
	time.Sleep(cfg.drainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownGrace)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		log.Error("gateway stopped before the requests in flight finished", "error", err)
		return fmt.Errorf("shutting down the HTTP server: %w", err)
	}
	<-served // http.ErrServerClosed
	log.Info("gateway stopped")
	return nil
}
