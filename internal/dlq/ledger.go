package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The replay ledger is a compacted topic with one record per replayed
// dead letter and destination. Its key is
// "DLQ-TOPIC/PARTITION/OFFSET>DESTINATION", so replaying a dead letter to
// a test topic with --to does not stop its replay to the source topic.
// A consumer group offset was not used: a group keeps one position per
// partition, but filters select scattered dead letters, so a position
// cannot tell a skipped dead letter from a replayed one.

// ledgerStableTimeout bounds the wait for the commit markers of a replay
// that has just ended, so that a replay started right after it reads its
// ledger records. After the timeout, the ledger is read as it is.
const ledgerStableTimeout = 10 * time.Second

// ledgerValue is the JSON value of a ledger record.
type ledgerValue struct {
	EventID    string    `json:"eventId"`
	To         string    `json:"to"`
	ReplayedAt time.Time `json:"replayedAt"`
}

// ledgerKey returns the ledger key of the dead letter at pos of dlqTopic
// replayed to destination.
func ledgerKey(dlqTopic string, pos Position, destination string) string {
	return dlqTopic + "/" + strconv.FormatInt(int64(pos.Partition), 10) + "/" +
		strconv.FormatInt(pos.Offset, 10) + ">" + destination
}

// ledgerRecord returns the ledger record of a replayed dead letter.
func ledgerRecord(ledgerTopic, dlqTopic string, e *Entry, destination string, now time.Time) (*kgo.Record, error) {
	value, err := json.Marshal(ledgerValue{EventID: e.EventID, To: destination, ReplayedAt: now.UTC()})
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: ledgerTopic, Key: []byte(ledgerKey(dlqTopic, e.Position, destination)), Value: value}, nil
}

// readLedger returns the keys in the ledger topic. A missing topic is an
// empty ledger. A key whose latest record has no value (a tombstone) is
// not replayed, so deleting a key allows one more replay.
func readLedger(ctx context.Context, kafkaOpts []kgo.Opt, ledgerTopic string) (map[string]bool, error) {
	client, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client: %w", err)
	}
	err = waitStable(ctx, kadm.NewClient(client), ledgerTopic, ledgerStableTimeout)
	client.Close()
	if err != nil && !errors.Is(err, errNotStable) {
		return nil, err
	}

	keys := make(map[string]bool)
	err = ScanTopic(ctx, kafkaOpts, ledgerTopic, nilTime, func(rec *kgo.Record) error {
		keys[string(rec.Key)] = rec.Value != nil
		return nil
	})
	if errors.Is(err, ErrTopicNotFound) {
		return keys, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the replay ledger %s: %w", ledgerTopic, err)
	}
	return keys, nil
}

// ensureLedger creates the compacted ledger topic when it is missing,
// with one partition and the broker's default replication factor.
func ensureLedger(ctx context.Context, admin *kadm.Client, ledgerTopic string) error {
	compact := "compact"
	resp, err := admin.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, ledgerTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating the replay ledger topic %s: %w", ledgerTopic, err)
	}
	return nil
}
