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
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
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
	// Tenant the imported mail belongs to. Default "default".
	Tenant string
	// Partitions of each topic the demo creates. Default 3.
	Partitions int32
	// StorageDir holds the raw MIME and attachments. Empty uses a temporary
	// folder that is removed after the run.
	StorageDir string
	// Timeout bounds the whole run. Default 2 minutes.
	Timeout time.Duration
	// Logger receives the runner's logs. Default discards them.
	Logger *slog.Logger
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
	if c.Partitions <= 0 {
		c.Partitions = 3
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
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

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("connecting to Kafka at %v: %w", brokers, err)
	}
	defer client.Close()

	adm := kadm.NewClient(client)
	if err := topics.Ensure(ctx, adm, topics.Specs(cfg.Partitions, 1)); err != nil {
		return nil, err
	}
	start, err := endOffsets(ctx, adm)
	if err != nil {
		return nil, err
	}

	imported, err := importMail(ctx, client, store, cfg)
	if err != nil {
		return nil, err
	}

	stopRunner, err := startRunner(ctx, brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer stopRunner()

	return collect(ctx, brokers, start, imported)
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
