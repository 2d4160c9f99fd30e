package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func init() {
	register("process", "Run the exactly-once processor chain (dedupe, redact, classify, route) against a Kafka cluster", runProcess)
}

// Defaults of the process flags.
const (
	defaultProcessGroup     = "mailtriage-processor"
	defaultTxnIDPrefix      = "mailtriage-processor-"
	defaultProcessPartition = 6
	registryTimeout         = 30 * time.Second
)

// processConfig is the configuration of `mailtriage process`.
type processConfig struct {
	kafka           kafkaconfig.Config
	configFile      string // YAML file with a kafka section; empty for none
	rulesFile       string
	rulesReload     time.Duration // 0 loads the rules file once
	model           modelFlags
	group           string
	transactionalID string
	schemaRegistry  string // URL, or empty to write single-object encoding
	createTopics    bool
	partitions      int
	replication     int
	logLevel        slog.Level
	observe         observeFlags
	metricsAddr     string // empty serves no metrics
	threadSaltFile  string // file of the thread index's address salt; empty reads the environment
	threadSalt      string // the salt itself: a secret, never logged
}

// addProcessFlags registers the flags of `mailtriage process` on fs,
// writing into cfg, and returns the flag set.
func addProcessFlags(fs *flag.FlagSet, cfg *processConfig) {
	cfg.kafka.AddFlags(fs)
	fs.StringVar(&cfg.configFile, "config", "", "YAML `file` whose kafka section sets the connection, overridden by MAILTRIAGE_KAFKA_* variables and then by flags")
	fs.StringVar(&cfg.rulesFile, "rules", processors.DefaultRulesFile, "classification ruleset `file` (YAML)")
	fs.DurationVar(&cfg.rulesReload, "rules-reload", processors.DefaultRulesReloadInterval, "`interval` between checks of the rules file, such as 5s: a changed valid file applies without a restart, an invalid one is logged and ignored; 0 loads the file once")
	cfg.model.add(fs)
	fs.StringVar(&cfg.group, "group", defaultProcessGroup, "consumer `group` that shares the inbound partitions among instances")
	fs.StringVar(&cfg.transactionalID, "transactional-id", "", "transactional `ID`, stable across restarts and unique per running instance, by default "+defaultTxnIDPrefix+"HOSTNAME")
	fs.StringVar(&cfg.schemaRegistry, "schema-registry", "", "Confluent schema registry `URL`. When set, outputs use the Confluent wire format, otherwise Avro single-object encoding")
	fs.BoolVar(&cfg.createTopics, "create-topics", false, "create the topology's topics on start when missing")
	fs.IntVar(&cfg.partitions, "partitions", defaultProcessPartition, "partition `count` of every topic that --create-topics creates")
	fs.IntVar(&cfg.replication, "replication", -1, "replication `factor` of every topic that --create-topics creates, or -1 for the broker default")
	cfg.observe.add(fs, &cfg.logLevel, logging.FormatJSON)
	addMetricsFlag(fs, &cfg.metricsAddr)
	addThreadSaltFlag(fs, &cfg.threadSaltFile)
}

// parseProcessConfig builds the configuration from args, the YAML file
// that --config names and the environment. A flag overrides the
// environment, which overrides the file.
func parseProcessConfig(args []string, hostname func() (string, error)) (processConfig, error) {
	// The first pass only finds --config, because the file must be loaded
	// before the flags that override it are applied.
	var probe processConfig
	probeFlags := flag.NewFlagSet("process", flag.ContinueOnError)
	probeFlags.SetOutput(io.Discard)
	addProcessFlags(probeFlags, &probe)
	_ = probeFlags.Parse(args) // the second pass reports the same errors

	var cfg processConfig
	if probe.configFile != "" {
		loaded, err := kafkaconfig.LoadFile(probe.configFile)
		if err != nil {
			return cfg, err
		}
		cfg.kafka = loaded
	}
	if err := cfg.kafka.FromEnv(); err != nil {
		return cfg, err
	}

	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	addProcessFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: mailtriage process takes only flags", fs.Arg(0))
	}
	return cfg, cfg.complete(fs, hostname)
}

// complete checks the settings that the flag package cannot and fills in
// the default transactional ID.
func (cfg *processConfig) complete(fs *flag.FlagSet, hostname func() (string, error)) error {
	if err := cfg.kafka.Validate(); err != nil {
		return err
	}
	if cfg.group == "" {
		return errors.New("--group is empty: name the consumer group, or leave the flag out for " + defaultProcessGroup)
	}

	if cfg.transactionalID == "" {
		host, err := hostname()
		if err != nil || host == "" {
			return fmt.Errorf("finding the host name for the default transactional ID failed (%v): pass --transactional-id", err)
		}
		cfg.transactionalID = defaultTxnIDPrefix + host
	}

	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if !cfg.createTopics && (explicit["partitions"] || explicit["replication"]) {
		return errors.New("--partitions and --replication apply only to topics that --create-topics creates: add --create-topics, or create the topics with \"mailtriage topics create\"")
	}
	if err := cfg.model.validate(explicit); err != nil {
		return err
	}
	if cfg.rulesReload < 0 {
		return fmt.Errorf("invalid --rules-reload %s: use a positive duration such as 5s, or 0 to load the rules file once", cfg.rulesReload)
	}
	if cfg.partitions < 1 || cfg.partitions > 1<<20 {
		return fmt.Errorf("invalid --partitions %d: use a count from 1 to %d", cfg.partitions, 1<<20)
	}
	if cfg.replication == 0 || cfg.replication < -1 || cfg.replication > 1<<15-1 {
		return fmt.Errorf("invalid --replication %d: use 1 or more, or -1 for the broker default", cfg.replication)
	}
	salt, err := threadSalt(cfg.threadSaltFile)
	if err != nil {
		return err
	}
	cfg.threadSalt = salt
	return nil
}

func runProcess(ctx context.Context, args []string) error {
	cfg, err := parseProcessConfig(args, os.Hostname)
	if err != nil {
		return err
	}
	log, stopTracing, err := cfg.observe.start(ctx, "process", cfg.logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	return process(ctx, cfg, log)
}

// process runs the processor until ctx ends, which main does on SIGINT or
// SIGTERM. It returns nil after such a stop.
func process(ctx context.Context, cfg processConfig, log *slog.Logger) error {
	kafkaOpts, err := cfg.kafka.Opts()
	if err != nil {
		return err
	}
	reg, stopMetrics, err := metrics.StartRole(ctx, cfg.metricsAddr, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	log.Info("processor starting", "brokers", cfg.kafka.Brokers, "tls", cfg.kafka.TLS.Enabled,
		"sasl_mechanism", cfg.kafka.SASL.Mechanism, "group", cfg.group, "transactional_id", cfg.transactionalID,
		"rules", cfg.rulesFile, "rules_reload", cfg.rulesReload.String(), "schema_registry", schemas.RedactURL(cfg.schemaRegistry),
		"thread_salt_set", cfg.threadSalt != "")

	if cfg.createTopics {
		if err := ensureTopics(ctx, cfg, kafkaOpts); err != nil {
			return err
		}
		log.Info("topics ensured", "partitions", cfg.partitions, "replication", cfg.replication)
	}

	serde, err := newSerde(ctx, cfg.schemaRegistry)
	if err != nil {
		return err
	}
	reload := cfg.rulesReload
	if reload == 0 {
		reload = -1 // ChainConfig reads 0 as the default interval
	}
	model, err := cfg.model.load(log)
	if err != nil {
		return err
	}
	chain, err := processors.DefaultChain(processors.ChainConfig{
		RulesFile: cfg.rulesFile, Context: ctx, RulesReloadInterval: reload, Logger: log, Model: model,
		Thread: processors.ThreadConfig{AddressSalt: cfg.threadSalt},
	})
	if err != nil {
		return fmt.Errorf("loading the processor chain: %w", explainMissingRules(err))
	}

	r, err := runner.New(runner.Config{
		Brokers:         cfg.kafka.Brokers,
		Group:           cfg.group,
		TransactionalID: cfg.transactionalID,
		InputTopic:      topics.Inbound,
		Chain:           chain,
		Outputs:         processors.Outputs,
		Serde:           serde,
		Logger:          log,
		ClientOpts:      kafkaOpts,
		Metrics:         metrics.NewProcessor(reg),
	})
	if err != nil {
		return err
	}
	defer r.Close()

	if err := r.Run(ctx); err != nil {
		log.Error("processor stopped", "error", err)
		return err
	}
	log.Info("processor stopped", "stats", r.Stats())
	return nil
}

// ensureTopics creates the topology's topics that are missing.
func ensureTopics(ctx context.Context, cfg processConfig, kafkaOpts []kgo.Opt) error {
	client, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return fmt.Errorf("creating the admin client: %w", err)
	}
	defer client.Close()

	specs := topics.Specs(int32(cfg.partitions), int16(cfg.replication))
	if err := topics.Ensure(ctx, kadm.NewClient(client), specs); err != nil {
		return fmt.Errorf("creating the topics (--create-topics): %w", err)
	}
	return nil
}

// newSerde returns the single-object Serde when registryURL is empty, and
// otherwise a Confluent Serde that registers the contracts first.
func newSerde(ctx context.Context, registryURL string) (*schemas.Serde, error) {
	if registryURL == "" {
		return schemas.NewSingleObject(), nil
	}
	client, err := schemas.NewRegistryClient(registryURL)
	if err != nil {
		return nil, fmt.Errorf("--schema-registry: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	serde, err := schemas.NewConfluent(ctx, client, nil)
	if err != nil {
		return nil, fmt.Errorf("registering the schemas at %s: %w", schemas.RedactURL(registryURL), err)
	}
	return serde, nil
}
