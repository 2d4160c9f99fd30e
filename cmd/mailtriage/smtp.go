package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/connectors/smtp"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
	"mailtriage/schemas"
)

func init() {
	register("smtp", "Accept mail over SMTP or LMTP and publish it to the inbound topic", runSMTP)
}

// Defaults of the smtp flags.
const (
	defaultSMTPListen = "127.0.0.1:2525"
	smtpPingTimeout   = 10 * time.Second
)

// smtpConfig is the configuration of `mailtriage smtp`.
type smtpConfig struct {
	kafka          kafkaconfig.Config
	listen         string
	lmtp           bool
	configFile     string // listener YAML, whose kafka section is optional
	storage        string
	certFile       string // overrides tls.cert of the file
	keyFile        string // overrides tls.key of the file
	schemaRegistry string
	logLevel       slog.Level
	observe        observeFlags
	metricsAddr    string // empty serves no metrics
}

// addSMTPFlags registers the flags of `mailtriage smtp` on fs, writing
// into cfg. --tls-cert and --tls-key belong to the Kafka connection, so
// the listener's own certificate has --starttls-cert and --starttls-key.
func addSMTPFlags(fs *flag.FlagSet, cfg *smtpConfig) {
	cfg.kafka.AddFlags(fs)
	fs.StringVar(&cfg.listen, "listen", defaultSMTPListen, "TCP `address` (host:port) to accept connections on")
	fs.BoolVar(&cfg.lmtp, "lmtp", false, "speak LMTP (LHLO, one reply per recipient) instead of SMTP")
	fs.StringVar(&cfg.configFile, "config", "", "listener YAML `file`: domains, addresses, catch-all, limits, timeouts, tls and an optional kafka section (required)")
	fs.StringVar(&cfg.storage, "storage", "", "`location` of raw messages and attachments: a folder, or s3://BUCKET with the MAILTRIAGE_S3_* variables (required)")
	fs.StringVar(&cfg.certFile, "starttls-cert", "", "PEM certificate `file` that STARTTLS offers, overriding tls.cert of --config; needs --starttls-key")
	fs.StringVar(&cfg.keyFile, "starttls-key", "", "PEM private key `file` of --starttls-cert, overriding tls.key of --config")
	fs.StringVar(&cfg.schemaRegistry, "schema-registry", "", "Confluent schema registry `URL`. When set, records use the Confluent wire format, otherwise Avro single-object encoding")
	cfg.observe.add(fs, &cfg.logLevel, logging.FormatJSON)
	addMetricsFlag(fs, &cfg.metricsAddr)
}

// parseSMTPConfig builds the configuration from args, the kafka section of
// the --config file and the environment. A flag overrides the
// environment, which overrides the file.
func parseSMTPConfig(args []string) (smtpConfig, error) {
	// The first pass only finds --config, because its kafka section must
	// be loaded before the flags that override it are applied.
	var probe smtpConfig
	probeFlags := flag.NewFlagSet("smtp", flag.ContinueOnError)
	probeFlags.SetOutput(io.Discard)
	addSMTPFlags(probeFlags, &probe)
	_ = probeFlags.Parse(args) // the second pass reports the same errors

	var cfg smtpConfig
	if probe.configFile != "" {
		loaded, err := kafkaconfig.LoadFile(probe.configFile)
		switch {
		case err == nil:
			cfg.kafka = loaded
		case !errors.Is(err, kafkaconfig.ErrNoKafkaSection):
			return cfg, err
		}
	}
	if err := cfg.kafka.FromEnv(); err != nil {
		return cfg, err
	}

	fs := flag.NewFlagSet("smtp", flag.ContinueOnError)
	addSMTPFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: mailtriage smtp takes only flags", fs.Arg(0))
	}
	return cfg, cfg.check()
}

// check validates the settings that the flag package cannot.
func (cfg *smtpConfig) check() error {
	if cfg.configFile == "" {
		return errors.New("--config is missing: name the listener YAML file with at least one domain, such as\n  domains:\n    support.example.com: {tenant: acme}")
	}
	if cfg.storage == "" {
		return errors.New("--storage is missing: name the folder that keeps the raw messages and attachments")
	}
	if (cfg.certFile == "") != (cfg.keyFile == "") {
		return errors.New("--starttls-cert and --starttls-key must be given together")
	}
	if _, _, err := net.SplitHostPort(cfg.listen); err != nil {
		return fmt.Errorf("invalid --listen %q: %w; use host:port such as %s", cfg.listen, err, defaultSMTPListen)
	}
	return cfg.kafka.Validate()
}

// listenerConfig loads the listener YAML and applies the certificate
// flags.
func (cfg *smtpConfig) listenerConfig() (smtp.Config, error) {
	lc, err := smtp.LoadConfig(cfg.configFile)
	if err != nil {
		return lc, err
	}
	if cfg.certFile != "" {
		lc.TLS = smtp.TLSFiles{Cert: cfg.certFile, Key: cfg.keyFile}
	}
	return lc, nil
}

func runSMTP(ctx context.Context, args []string) error {
	cfg, err := parseSMTPConfig(args)
	if err != nil {
		return err
	}
	log, stopTracing, err := cfg.observe.start(ctx, "smtp", cfg.logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	return serveSMTP(ctx, cfg, log)
}

// serveSMTP runs the listener until ctx ends, which main does on SIGINT or
// SIGTERM, and returns nil after a graceful stop.
func serveSMTP(ctx context.Context, cfg smtpConfig, log *slog.Logger) error {
	listenerCfg, err := cfg.listenerConfig()
	if err != nil {
		return err
	}
	store, err := blobstore.Open(ctx, cfg.storage)
	if err != nil {
		return err
	}
	kafkaOpts, err := cfg.kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := newSerde(ctx, cfg.schemaRegistry)
	if err != nil {
		return err
	}
	producerOpts := append(kafkaOpts, smtp.ProducerOpts()...)
	reg, stopMetrics, err := metrics.StartRole(ctx, cfg.metricsAddr, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: producerOpts, Serde: serde, Metrics: metrics.NewIngress(reg)})
	if err != nil {
		return err
	}
	defer pub.Close()

	// A broker that is down at start is no reason to refuse mail later:
	// until it is back, the listener replies 451 and senders retry.
	pingCtx, cancel := context.WithTimeout(ctx, smtpPingTimeout)
	if err := pub.Ping(pingCtx); err != nil {
		log.Warn("kafka is not reachable; messages get 451 until it is", "brokers", cfg.kafka.Brokers, "error", err)
	}
	cancel()

	srv, err := smtp.New(smtp.Options{Config: listenerCfg, LMTP: cfg.lmtp, Publisher: pub, Store: store, Logger: log,
		Metrics: metrics.NewSMTP(reg)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on --listen %s: %w", cfg.listen, err)
	}
	log.Info("smtp listener starting", "lmtp", cfg.lmtp, "brokers", cfg.kafka.Brokers, "storage", cfg.storage,
		"schema_registry", schemas.RedactURL(cfg.schemaRegistry))
	return srv.Serve(ctx, ln)
}
