package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/internal/importer"
	"mailtriage/internal/ingest"
	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/logging"
	"mailtriage/topics"
)

func init() {
	register("import", "Import .eml files, folders, mbox files and Maildirs onto the inbound topic", runImport)
}

// defaultStorageDir is the object storage folder of the import and the
// poller when --storage is not given.
const defaultStorageDir = "mailtriage-storage"

// importConfig is the configuration of `mailtriage import`.
type importConfig struct {
	kafka          kafkaconfig.Config
	tenant         string
	storageDir     string
	concurrency    int
	timeout        time.Duration
	schemaRegistry string
	paths          []string
	logLevel       slog.Level
	observe        observeFlags
}

func parseImportConfig(args []string) (importConfig, error) {
	var cfg importConfig
	if err := cfg.kafka.FromEnv(); err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mailtriage import [flags] PATH...")
		fmt.Fprintln(fs.Output(), "PATH is an .eml file, a folder, an mbox file or a Maildir.")
		fs.PrintDefaults()
	}
	cfg.kafka.AddFlags(fs)
	fs.StringVar(&cfg.tenant, "tenant", "default", `tenant the imported mail belongs to; the first part of the record key tenant/messageId, so no "/" or white space`)
	fs.StringVar(&cfg.storageDir, "storage", defaultStorageDir, "`location` of the raw MIME and the attachments: a folder, or s3://BUCKET with the MAILTRIAGE_S3_* variables")
	fs.IntVar(&cfg.concurrency, "concurrency", importer.DefaultConcurrency, "`number` of messages parsed and published at once")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "how long one message may wait for Kafka, and the limit of the connection check at start, such as 10s")
	fs.StringVar(&cfg.schemaRegistry, "schema-registry", "", "Confluent schema registry `URL`. When set, records use the Confluent wire format, otherwise Avro single-object encoding")
	cfg.observe.add(fs, &cfg.logLevel, logging.FormatText)
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}

	cfg.paths = fs.Args()
	switch {
	case len(cfg.paths) == 0:
		return cfg, errors.New("no mail to import: pass .eml files, folders, mbox files or Maildirs after the flags")
	case cfg.storageDir == "":
		return cfg, errors.New("--storage is empty: name the folder that keeps the raw MIME and the attachments")
	case cfg.concurrency < 1:
		return cfg, fmt.Errorf("invalid --concurrency %d: use 1 or more", cfg.concurrency)
	case cfg.timeout <= 0:
		return cfg, fmt.Errorf("invalid --timeout %v: use a positive duration such as 10s", cfg.timeout)
	}
	if err := ingest.ValidateTenant(cfg.tenant); err != nil {
		return cfg, fmt.Errorf("--tenant: %w", err)
	}
	return cfg, cfg.kafka.Validate()
}

func runImport(ctx context.Context, args []string) error {
	cfg, err := parseImportConfig(args)
	if err != nil {
		return err
	}
	// The import reports on stdout; the logger only carries the trace
	// exporter's warnings.
	_, stopTracing, err := cfg.observe.start(ctx, "import", cfg.logLevel)
	if err != nil {
		return err
	}
	defer stopTracing()
	return importFiles(ctx, cfg, os.Stdout, os.Stderr, term.IsTerminal(int(os.Stdout.Fd())))
}

// importFiles runs the import, shows its progress on stdout, as a bar when
// stdout is a terminal and as plain lines otherwise, and ends with the
// totals. It returns an error when any message failed.
func importFiles(ctx context.Context, cfg importConfig, stdout, stderr io.Writer, terminal bool) error {
	kafkaOpts, err := cfg.kafka.Opts()
	if err != nil {
		return err
	}
	if err := checkImportTopics(ctx, kafkaOpts, cfg.kafka.Brokers, cfg.timeout); err != nil {
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
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: kafkaOpts, Serde: serde, DeliveryTimeout: cfg.timeout})
	if err != nil {
		return err
	}
	defer pub.Close()

	var progress importer.Progress = &importer.LineProgress{W: stdout}
	if terminal {
		progress = &importer.BarProgress{W: stdout}
	}
	totals, runErr := importer.Run(ctx, importer.Config{
		Paths:       cfg.paths,
		Tenant:      cfg.tenant,
		Store:       store,
		Publisher:   pub,
		Concurrency: cfg.concurrency,
		Progress:    progress,
	})

	writeImportTotals(stdout, stderr, totals)
	switch {
	case runErr != nil && errors.Is(runErr, ingress.ErrUnavailable):
		return fmt.Errorf("%w; %d of %d messages were not imported: check that Kafka at %s is up and run the import again (the processor drops the messages already imported as duplicates)",
			runErr, totals.Total-totals.Imported-totals.DeadLettered, totals.Total, strings.Join(cfg.kafka.Brokers, ","))
	case runErr != nil:
		return runErr
	case totals.Failed > 0:
		return fmt.Errorf("%d of %d messages failed; the errors are listed above", totals.Failed, totals.Total)
	}
	return nil
}

// writeImportTotals writes the totals line to stdout and each kept
// failure to stderr.
func writeImportTotals(stdout, stderr io.Writer, t importer.Totals) {
	fmt.Fprintf(stdout, "imported %d, dead-lettered %d, failed %d", t.Imported, t.DeadLettered, t.Failed)
	if n := t.NotAttempted(); n > 0 && t.Total > 0 {
		fmt.Fprintf(stdout, ", not attempted %d", n)
	}
	noun := "messages"
	if t.Total == 1 {
		noun = "message"
	}
	fmt.Fprintf(stdout, " (of %d %s)\n", t.Total, noun)

	for _, f := range t.Failures {
		fmt.Fprintf(stderr, "failed: %s: %v\n", f.Name, f.Err)
	}
	if more := t.Failed - len(t.Failures); more > 0 {
		fmt.Fprintf(stderr, "failed: %d more messages not listed\n", more)
	}
}

// checkImportTopics checks, within timeout, that the cluster is reachable
// and has the inbound and dead-letter topics, so that a wrong address or a
// missing topic fails at once instead of after the first message's
// delivery timeout.
func checkImportTopics(ctx context.Context, kafkaOpts []kgo.Opt, brokers []string, timeout time.Duration) error {
	client, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	details, err := kadm.NewClient(client).ListTopics(ctx, topics.Inbound, topics.DLQ)
	if err != nil {
		return fmt.Errorf("connecting to Kafka at %s failed within %v (--timeout): %w; check --brokers and that the cluster is up",
			strings.Join(brokers, ","), timeout, err)
	}
	for _, name := range []string{topics.Inbound, topics.DLQ} {
		detail, ok := details[name]
		if !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s is missing: create the topics with \"mailtriage topics create\"", name)
		}
		if detail.Err != nil {
			return fmt.Errorf("reading the metadata of topic %s: %w", name, detail.Err)
		}
	}
	return nil
}
