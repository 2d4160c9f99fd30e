// Package demo runs the whole topology once over a folder of mail. It
// imports the messages onto the inbound topic and runs the processor chain
// in its exactly-once runner. Then it collects one outcome per imported
// message from the analytics and dead-letter topics.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/processors"
	"mailtriage/topics"
)

// Config sets what the demo reads and where it runs.
type Config struct {
	// Brokers of an existing Kafka cluster. Empty starts franz-go's
	// in-process kfake broker for the run.
	Brokers []string
	// Mail lists .eml files, folders, mbox files or Maildirs to import.
	Mail []string
	// RulesFile is the classification ruleset (YAML).
	RulesFile string
	// Model is consulted for messages that no rule matches. Nil, the
	// default, sends them to the default queue.
	Model processors.Model
	// Tenant the imported mail belongs to: a name without "/" or
	// whitespace, checked by ValidateTenant. Default "default".
	Tenant string
	// Partitions of each topic the demo creates, from 1 to MaxPartitions.
	// Default 3.
	Partitions int32
	// StorageDir holds the raw MIME and attachments. Empty uses a temporary
	// folder that is removed after the run.
	StorageDir string
	// Timeout bounds the whole run. Default 2 minutes. An error caused by
	// it names the --timeout flag of "mailtriage demo".
	Timeout time.Duration
	// Logger receives the runner's logs. Default discards them.
	Logger *slog.Logger
	// ThreadSalt is the secret salt of the participant digests in the
	// thread index (processors.ThreadConfig.AddressSalt). Empty, the
	// default, leaves them unsalted.
	ThreadSalt string

	// ProcessorGroup is the consumer group of the demo's processor; its
	// transactional ID is the group with "-demo" appended. Default
	// "mailtriage-processor".
	ProcessorGroup string
	// Sinks selects the sinks that run beside the processor. Default none.
	Sinks SinkConfig
}

// MaxPartitions is the largest partition count per topic that the demo
// accepts. The demo creates eight topics with that count each, so 1000
// already means 8000 partitions on one broker.
const MaxPartitions = 1000

// ValidatePartitions returns an error when n is not a partition count from
// 1 to MaxPartitions.
func ValidatePartitions(n int64) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("invalid partition count %d: use a value from 1 to %d", n, MaxPartitions)
	}
	return nil
}

// ValidateTenant returns an error when tenant cannot start a record key.
// The inbound key is tenant/messageId, so a tenant must be non-empty and
// free of "/", whitespace and control characters.
func ValidateTenant(tenant string) error {
	if tenant == "" {
		return errors.New(`invalid tenant "": pass a name such as "default"`)
	}
	if strings.Contains(tenant, "/") {
		return fmt.Errorf(`invalid tenant %q: remove the "/", because the record key is tenant/messageId`, tenant)
	}
	if strings.IndexFunc(tenant, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("invalid tenant %q: remove the whitespace and control characters", tenant)
	}
	return nil
}

func (c *Config) setDefaults() error {
	if len(c.Mail) == 0 {
		return errors.New("no mail to import: pass --mail with a folder, .eml file, mbox or Maildir")
	}
	if c.RulesFile == "" {
		return errors.New("no ruleset: pass --rules with a YAML rules file such as config/rules.yaml")
	}
	if c.Tenant == "" {
		c.Tenant = "default"
	}
	if err := ValidateTenant(c.Tenant); err != nil {
		return err
	}
	if c.Partitions == 0 {
		c.Partitions = 3
	}
	if err := ValidatePartitions(int64(c.Partitions)); err != nil {
		return err
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ProcessorGroup == "" {
		c.ProcessorGroup = processorGroup
	}
	return nil
}

// Run imports the mail, processes it and returns one outcome per message.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	brokers, stopBroker, err := startBroker(cfg.Brokers)
	if err != nil {
		return nil, err
	}
	defer stopBroker()

	store, removeStore, err := openStorage(cfg.StorageDir)
	if err != nil {
		return nil, err
	}
	defer removeStore()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytesFn(topics.MaxMessageBytes))
	if err != nil {
		return nil, fmt.Errorf("connecting to Kafka at %v: %w", brokers, err)
	}
	defer client.Close()

	adm := kadm.NewClient(client)
	if err := topics.Ensure(ctx, adm, topics.Specs(cfg.Partitions, 1)); err != nil {
		return nil, cfg.explainTimeout(ctx, "creating the topics", err)
	}
	start, err := endOffsets(ctx, adm)
	if err != nil {
		return nil, cfg.explainTimeout(ctx, "listing the end offsets", err)
	}

	sinks, err := newSinkRun(ctx, adm, brokers, cfg)
	if err != nil {
		return nil, cfg.explainTimeout(ctx, "preparing the sinks", err)
	}
	if sinks != nil {
		stopSinks := sinks.startAll(ctx)
		defer stopSinks()
	}

	imported, err := importMail(ctx, client, store, cfg)
	if err != nil {
		return nil, cfg.explainTimeout(ctx, "importing the mail", err)
	}

	stopRunner, err := startRunner(ctx, brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer stopRunner()

	report, err := collect(ctx, brokers, start, imported)
	if err != nil {
		return nil, cfg.explainTimeout(ctx, "waiting for outcomes", err)
	}
	if sinks != nil {
		if err := sinks.finish(ctx, imported, report); err != nil {
			return nil, cfg.explainTimeout(ctx, "waiting for the sinks", err)
		}
	}
	return report, nil
}

// explainTimeout returns err, prefixed with step and the flag to change
// when the run's deadline has passed.
func (c *Config) explainTimeout(ctx context.Context, step string, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: not finished before the --timeout of %s; raise --timeout or lower --partitions: %w", step, c.Timeout, err)
}

// startBroker returns the given brokers, or starts a kfake cluster when
// there are none.
func startBroker(brokers []string) ([]string, func(), error) {
	if len(brokers) > 0 {
		return brokers, func() {}, nil
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, nil, fmt.Errorf("starting the embedded kfake broker: %w", err)
	}
	return cluster.ListenAddrs(), cluster.Close, nil
}

func openStorage(dir string) (blobstore.Store, func(), error) {
	remove := func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "mailtriage-demo-")
		if err != nil {
			return nil, nil, fmt.Errorf("creating a temporary storage folder: %w", err)
		}
		dir = tmp
		remove = func() { os.RemoveAll(tmp) }
	}
	store, err := blobstore.NewDir(dir)
	if err != nil {
		remove()
		return nil, nil, err
	}
	return store, remove, nil
}

// endOffsets records where the output topics end before the run, so that a
// demo against a cluster with earlier data reads only its own records.
func endOffsets(ctx context.Context, adm *kadm.Client) (kadm.ListedOffsets, error) {
	offsets, err := adm.ListEndOffsets(ctx, topics.Analytics, topics.DLQ)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %s and %s: %w", topics.Analytics, topics.DLQ, err)
	}
	if err := offsets.Error(); err != nil {
		return nil, fmt.Errorf("listing end offsets of %s and %s: %w", topics.Analytics, topics.DLQ, err)
	}
	return offsets, nil
}
