package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/importer"
	"mailtriage/topics"
)

// HeaderReplayOf marks a replayed record with the position of its dead
// letter, as PARTITION:OFFSET of the dead-letter topic.
const HeaderReplayOf = "mailtriage.replay.of"

// Defaults of ReplayConfig fields left zero.
const (
	// DefaultTransactionalID is the transactional ID of the replay
	// producer. Two replays with the same ID cannot commit at once: the
	// later one fences the earlier.
	DefaultTransactionalID = "mailtriage-dlq-replay"
	// DefaultReplayBatch is the number of dead letters per transaction.
	DefaultReplayBatch = 100
)

// dlqHeaderPrefix starts the headers that describe a failure. Replay does
// not copy them, because the replayed record has not failed.
const dlqHeaderPrefix = "mailtriage.dlq."

// ReplayConfig configures Replay.
type ReplayConfig struct {
	Source
	// Filter selects the dead letters to replay.
	Filter Filter
	// To, when set, receives every replayed record in place of its source
	// topic, partitioned by key. Default: the source topic and partition
	// of each dead letter.
	To string
	// LedgerTopic records the replayed dead letters. Default
	// topics.DLQReplayed.
	LedgerTopic string
	// TransactionalID is the transactional ID of the producer. Default
	// DefaultTransactionalID.
	TransactionalID string
	// BatchSize is the number of dead letters per transaction. Default
	// DefaultReplayBatch (100).
	BatchSize int
	// DryRun selects and classifies the dead letters but produces nothing.
	DryRun bool
	// Progress receives the number of replayed dead letters after each
	// committed transaction. Default: none.
	Progress importer.Progress
	// Now returns the time written to the ledger. Default time.Now.
	Now func() time.Time
}

// Skipped is a selected dead letter that Replay did not send.
type Skipped struct {
	Entry  *Entry
	Reason string
}

// ReplayResult lists what Replay did with each selected dead letter.
type ReplayResult struct {
	// Replayed are the dead letters sent, or in a dry run those that would
	// be sent.
	Replayed []*Entry
	// AlreadyReplayed were found in the ledger for the same destination.
	AlreadyReplayed []*Entry
	// NotReplayable lack a source topic or payload, or cannot be decoded.
	NotReplayable []Skipped
}

func (cfg ReplayConfig) withDefaults() (ReplayConfig, error) {
	src, err := cfg.Source.withDefaults()
	if err != nil {
		return cfg, err
	}
	cfg.Source = src
	if cfg.LedgerTopic == "" {
		cfg.LedgerTopic = topics.DLQReplayed
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = DefaultTransactionalID
	}
	if cfg.BatchSize < 0 {
		return cfg, fmt.Errorf("dlq replay: BatchSize %d is negative: use 0 for the default of %d", cfg.BatchSize, DefaultReplayBatch)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultReplayBatch
	}
	if cfg.To == cfg.Topic || cfg.To == cfg.LedgerTopic {
		if cfg.To != "" {
			return cfg, fmt.Errorf("dlq replay: --to %s is the dead-letter or ledger topic: name the topic that should process the records again", cfg.To)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// Replay sends the source key and payload of each dead letter that
// cfg.Filter selects back to its source topic and partition (or to
// cfg.To), with the dead letter's headers except the failure context,
// plus HeaderReplayOf. Each transaction covers up to BatchSize dead
// letters and their ledger records, so a dead letter counts as replayed
// exactly when its record was committed. Dead letters already in the
// ledger for the same destination are skipped.
//
// On an error the result lists the dead letters replayed before it.
func Replay(ctx context.Context, cfg ReplayConfig) (ReplayResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return ReplayResult{}, err
	}
	entries, err := List(ctx, cfg.Source, cfg.Filter)
	if err != nil {
		return ReplayResult{}, err
	}
	ledger, err := readLedger(ctx, cfg.KafkaOpts, cfg.LedgerTopic)
	if err != nil {
		return ReplayResult{}, err
	}

	var res ReplayResult
	var todo []*Entry
	for _, e := range entries {
		if ledger[ledgerKey(cfg.Topic, e.Position, cfg.destination(e))] {
			res.AlreadyReplayed = append(res.AlreadyReplayed, e)
			continue
		}
		if reason := notReplayable(ctx, e, cfg); reason != "" {
			res.NotReplayable = append(res.NotReplayable, Skipped{Entry: e, Reason: reason})
			continue
		}
		todo = append(todo, e)
	}
	if cfg.DryRun || len(todo) == 0 {
		res.Replayed = todo
		return res, nil
	}

	res.Replayed, err = produceReplays(ctx, cfg, todo)
	return res, err
}

// destination returns the topic that e is replayed to.
func (cfg ReplayConfig) destination(e *Entry) string {
	if cfg.To != "" {
		return cfg.To
	}
	return e.SourceTopic
}

// notReplayable decodes e and returns why it cannot be replayed, or "".
func notReplayable(ctx context.Context, e *Entry, cfg ReplayConfig) string {
	if err := e.Decode(ctx, cfg.Serde); err != nil {
		return err.Error()
	}
	dl := e.Letter
	raw := "no raw storage key was recorded, so the message must be fetched again from its sender or source"
	if dl.Raw != nil && dl.Raw.Key != "" {
		raw = fmt.Sprintf("its raw storage key is %s: run \"mailtriage import --tenant %s STORAGE/%s\", where STORAGE is the storage folder (download the object first from S3)",
			dl.Raw.Key, orDash(dl.Tenant), dl.Raw.Key)
	}
	switch {
	case !e.FromTopic():
		return fmt.Sprintf("it failed at ingress (source %s, stage %s) before reaching a topic, so it can only be replayed with \"mailtriage import\"; %s", e.SourceTopic, e.Stage, raw)
	case len(dl.Payload) == 0:
		return fmt.Sprintf("it has no payload, because at attempt %d the runner dropped the payload so that the dead letter would fit in Kafka; it can only be replayed with \"mailtriage import\"; %s", e.Attempts, raw)
	}
	return ""
}

// replayPartitioner keeps the partition set on records bound for a source
// topic, so that a replayed record meets the state of its first copy, and
// hashes the key of the others as the Java client does.
type replayPartitioner struct {
	keyedTopics map[string]bool
	manual      kgo.Partitioner
	keyed       kgo.Partitioner
}

// ForTopic returns the partitioner of topic.
func (p replayPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.keyedTopics[topic] {
		return p.keyed.ForTopic(topic)
	}
	return p.manual.ForTopic(topic)
}

// produceReplays sends todo in transactions of cfg.BatchSize and returns
// the dead letters whose transaction committed.
func produceReplays(ctx context.Context, cfg ReplayConfig, todo []*Entry) ([]*Entry, error) {
	if err := checkDestinations(ctx, cfg, todo); err != nil {
		return nil, err
	}

	opts := append(append([]kgo.Opt(nil), cfg.KafkaOpts...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.ProducerBatchMaxBytesFn(topics.MaxMessageBytes),
		kgo.RecordPartitioner(replayPartitioner{
			keyedTopics: map[string]bool{cfg.LedgerTopic: true, cfg.To: cfg.To != ""},
			manual:      kgo.ManualPartitioner(),
			keyed:       kgo.StickyKeyPartitioner(nil),
		}),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the transactional producer: %w", err)
	}
	defer client.Close()

	progress := cfg.Progress
	if progress == nil {
		progress = noProgress{}
	}
	progress.Start(len(todo))
	var done []*Entry
	for start := 0; start < len(todo); start += cfg.BatchSize {
		batch := todo[start:min(start+cfg.BatchSize, len(todo))]
		if err := replayBatch(ctx, client, cfg, batch); err != nil {
			progress.Finish(len(done))
			return done, fmt.Errorf("replaying dead letters %s to %s: %w; the %d before them were replayed, and running the replay again skips those",
				batch[0].Position, batch[len(batch)-1].Position, err, len(done))
		}
		done = append(done, batch...)
		progress.Update(len(done))
	}
	progress.Finish(len(done))
	return done, nil
}

// checkDestinations creates the ledger topic when missing and checks that
// every destination topic exists and has the partition to write to.
func checkDestinations(ctx context.Context, cfg ReplayConfig, todo []*Entry) error {
	client, err := kgo.NewClient(cfg.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)

	if err := ensureLedger(ctx, admin, cfg.LedgerTopic); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, e := range todo {
		names[cfg.destination(e)] = true
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	details, err := admin.ListTopics(ctx, list...)
	if err != nil {
		return fmt.Errorf("reading the metadata of %s: %w", strings.Join(list, ", "), err)
	}
	for _, name := range list {
		d, ok := details[name]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("destination topic %s does not exist: create it, or pass another topic with --to", name)
		}
		if d.Err != nil {
			return fmt.Errorf("reading the metadata of %s: %w", name, d.Err)
		}
	}
	if cfg.To != "" {
		return nil
	}
	for _, e := range todo {
		if n := len(details[e.SourceTopic].Partitions); int(e.SourcePartition) >= n {
			return fmt.Errorf("dead letter %s came from partition %d of %s, which has %d partitions: replay it with --to %s to partition it by key",
				e.Position, e.SourcePartition, e.SourceTopic, n, e.SourceTopic)
		}
	}
	return nil
}

// replayBatch sends batch and its ledger records in one transaction.
func replayBatch(ctx context.Context, client *kgo.Client, cfg ReplayConfig, batch []*Entry) error {
	if err := client.BeginTransaction(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	now := cfg.Now()
	var records []*kgo.Record
	for _, e := range batch {
		destination := cfg.destination(e)
		records = append(records, replayRecord(e, destination))
		ledger, err := ledgerRecord(cfg.LedgerTopic, cfg.Topic, e, destination, now)
		if err != nil {
			return abort(ctx, client, err)
		}
		records = append(records, ledger)
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return abort(ctx, client, fmt.Errorf("producing: %w", err))
	}
	if err := client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("committing the transaction: %w", err)
	}
	return nil
}

// replayRecord returns the record that replays e to destination.
func replayRecord(e *Entry, destination string) *kgo.Record {
	rec := &kgo.Record{
		Topic:     destination,
		Partition: e.SourcePartition,
		Key:       e.Letter.Key,
		Value:     e.Letter.Payload,
	}
	for _, h := range e.Record.Headers {
		if !strings.HasPrefix(h.Key, dlqHeaderPrefix) && h.Key != HeaderReplayOf {
			rec.Headers = append(rec.Headers, h)
		}
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderReplayOf, Value: []byte(e.Position.String())})
	return rec
}

// abort ends the open transaction without committing and returns cause.
func abort(ctx context.Context, client *kgo.Client, cause error) error {
	if err := client.AbortBufferedRecords(ctx); err != nil {
		return errors.Join(cause, fmt.Errorf("dropping the buffered records: %w", err))
	}
	if err := client.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return errors.Join(cause, fmt.Errorf("aborting the transaction: %w", err))
	}
	return cause
}

type noProgress struct{}

func (noProgress) Start(int)  {}
func (noProgress) Update(int) {}
func (noProgress) Finish(int) {}
