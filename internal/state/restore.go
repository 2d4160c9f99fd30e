package state

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restorePollInterval is how often Restore checks whether an open
// transaction on the changelog partition has ended.
const restorePollInterval = 50 * time.Millisecond

// Restore rebuilds the store of one input partition by reading partition
// partition of the changelog topic from its start to its end.
//
// client must be a consumer without a group, created with
// kgo.FetchIsolationLevel(kgo.ReadCommitted()) and kgo.KeepControlRecords(),
// and used by one Restore at a time. Restore adds the partition to it and
// removes it again before returning.
//
// Before reading, Restore waits until the partition has no open
// transaction, that is until its last stable offset equals its high
// watermark. An open transaction there belongs to an earlier owner of the
// input partition. It ends when it times out, or when a producer with the
// same transactional ID initializes and so aborts it. Reading only to
// the last stable offset instead would miss the writes of a transaction
// that commits later together with input offsets, and the store would then
// lag behind the offsets it resumes from. ctx bounds the wait and the read.
func Restore(ctx context.Context, client *kgo.Client, topic string, partition int32) (*Changelog, error) {
	if err := checkRestoreClient(client); err != nil {
		return nil, err
	}

	start, end, err := stableBounds(ctx, kadm.NewClient(client), topic, partition)
	if err != nil {
		return nil, err
	}
	store := NewChangelog(topic, partition)
	if end <= start {
		return store, nil
	}

	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().At(start)},
	})
	defer client.RemoveConsumePartitions(map[string][]int32{topic: {partition}})

	// The last offset before end is either a committed record or a
	// transaction marker, and KeepControlRecords makes markers visible, so
	// seeing offset end-1 means everything before end has been read.
	for last := start - 1; last < end-1; {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("restoring %s partition %d: read to offset %d of %d: %w", topic, partition, last+1, end, err)
		}
		if fetches.IsClientClosed() {
			return nil, fmt.Errorf("restoring %s partition %d: %w", topic, partition, kgo.ErrClientClosed)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if t == topic && p == partition && fetchErr == nil {
				fetchErr = err
			}
		})
		if fetchErr != nil {
			return nil, fmt.Errorf("restoring %s partition %d: %w", topic, partition, fetchErr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic != topic || r.Partition != partition || r.Offset >= end {
				return
			}
			last = max(last, r.Offset)
			if !r.Attrs.IsControl() {
				store.apply(string(r.Key), r.Value)
			}
		})
	}
	return store, nil
}

// stableBounds returns the log start offset and the end offset of the
// partition once the partition has no open transaction.
func stableBounds(ctx context.Context, adm *kadm.Client, topic string, partition int32) (start, end int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("restoring %s partition %d: listing start offsets: %w", topic, partition, err)
	}
	startOffset, ok := starts.Lookup(topic, partition)
	if !ok {
		return 0, 0, fmt.Errorf("restoring %s partition %d: the partition does not exist: create the changelog topic with as many partitions as the input topic", topic, partition)
	}
	if startOffset.Err != nil {
		return 0, 0, fmt.Errorf("restoring %s partition %d: listing start offsets: %w", topic, partition, startOffset.Err)
	}

	ticker := time.NewTicker(restorePollInterval)
	defer ticker.Stop()
	for {
		high, err := listOffset(ctx, adm.ListEndOffsets, topic, partition)
		if err != nil {
			return 0, 0, fmt.Errorf("restoring %s partition %d: listing the high watermark: %w", topic, partition, err)
		}
		stable, err := listOffset(ctx, adm.ListCommittedOffsets, topic, partition)
		if err != nil {
			return 0, 0, fmt.Errorf("restoring %s partition %d: listing the last stable offset: %w", topic, partition, err)
		}
		if stable >= high {
			return startOffset.Offset, high, nil
		}

		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("restoring %s partition %d: timed out waiting for an open transaction to end (last stable offset %d, high watermark %d): %w",
				topic, partition, stable, high, ctx.Err())
		case <-ticker.C:
		}
	}
}

func listOffset(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), topic string, partition int32) (int64, error) {
	listed, err := list(ctx, topic)
	if err != nil {
		return 0, err
	}
	o, ok := listed.Lookup(topic, partition)
	if !ok {
		return 0, errors.New("the partition is missing from the response")
	}
	if o.Err != nil {
		return 0, o.Err
	}
	return o.Offset, nil
}

// checkRestoreClient rejects a client that would read aborted writes or
// could not tell when the partition is read to the end.
func checkRestoreClient(client *kgo.Client) error {
	if group, _ := client.OptValue(kgo.ConsumerGroup).(string); group != "" {
		return fmt.Errorf("restore client is in consumer group %q: use a client without a group", group)
	}
	// OptValue reports the isolation level as an int8: 1 is read_committed.
	if level, _ := client.OptValue(kgo.FetchIsolationLevel).(int8); level != 1 {
		return errors.New("restore client reads uncommitted records: create it with kgo.FetchIsolationLevel(kgo.ReadCommitted())")
	}
	if keep, _ := client.OptValue(kgo.KeepControlRecords).(bool); !keep {
		return errors.New("restore client drops transaction markers: create it with kgo.KeepControlRecords()")
	}
	return nil
}
