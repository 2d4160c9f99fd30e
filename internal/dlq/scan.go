package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrTopicNotFound is wrapped by ScanTopic when the topic does not exist.
var ErrTopicNotFound = errors.New("topic not found")

// nilTime is the zero time, for "no lower time bound".
var nilTime time.Time

// scanIdleTimeout is how long ScanTopic waits for more records before it
// takes a partition as read to its end. It matters only when the last
// offsets before the end belong to an aborted transaction whose marker
// lies beyond the end, because read_committed never returns them.
const scanIdleTimeout = 5 * time.Second

// partitionRange is the offsets [start, end) of one partition to read.
type partitionRange struct{ start, end int64 }

// ScanTopic reads topic with read_committed and calls fn for each record,
// in offset order within a partition. It starts at the log start offset,
// or at the first offset at or after since when since is set. It stops at
// the last stable offset that each partition had when ScanTopic started. Records
// that arrive later are left for the next scan. Transaction markers are
// skipped. An error from fn stops the scan and is returned.
func ScanTopic(ctx context.Context, kafkaOpts []kgo.Opt, topic string, since time.Time, fn func(*kgo.Record) error) error {
	admin, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	ranges, err := scanRanges(ctx, kadm.NewClient(admin), topic, since)
	admin.Close()
	if err != nil {
		return err
	}
	return scanPartitions(ctx, kafkaOpts, topic, ranges, fn)
}

// scanPartitions reads ranges of topic with read_committed, calling fn
// for each data record.
func scanPartitions(ctx context.Context, kafkaOpts []kgo.Opt, topic string, ranges map[int32]partitionRange, fn func(*kgo.Record) error) error {
	if len(ranges) == 0 {
		return nil
	}
	starts := make(map[int32]kgo.Offset, len(ranges))
	for p, r := range ranges {
		starts[p] = kgo.NewOffset().At(r.start)
	}
	opts := append(append([]kgo.Opt(nil), kafkaOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers come back as records, so a partition whose last offset
		// before the end is a commit marker still shows that it is done.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(time.Second),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka consumer: %w", err)
	}
	defer client.Close()

	return consumeRanges(ctx, client, ranges, fn)
}

// scanRanges lists the offsets to read in each partition of topic,
// leaving out the partitions with nothing to read.
func scanRanges(ctx context.Context, admin *kadm.Client, topic string, since time.Time) (map[int32]partitionRange, error) {
	starts, err := admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %s: %w", topic, err)
	}
	ends, err := admin.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	var after kadm.ListedOffsets
	if !since.IsZero() {
		after, err = admin.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
		if err != nil {
			return nil, fmt.Errorf("listing the offsets of %s after %s: %w", topic, since.Format(time.RFC3339), err)
		}
	}

	ranges := make(map[int32]partitionRange)
	var listErr error
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				listErr = fmt.Errorf("%w: %s: create the topics with \"mailtriage topics create\"", ErrTopicNotFound, topic)
			} else if listErr == nil {
				listErr = fmt.Errorf("listing the start offset of %s/%d: %w", topic, o.Partition, o.Err)
			}
			return
		}
		end, ok := ends.Lookup(topic, o.Partition)
		if !ok || end.Err != nil {
			listErr = fmt.Errorf("listing the end offset of %s/%d failed: %v", topic, o.Partition, end.Err)
			return
		}
		start := o.Offset
		if a, ok := after.Lookup(topic, o.Partition); ok && a.Err == nil && a.Offset > start {
			start = a.Offset
		}
		if start < end.Offset {
			ranges[o.Partition] = partitionRange{start: start, end: end.Offset}
		}
	})
	if listErr != nil {
		return nil, listErr
	}
	return ranges, nil
}

// consumeRanges polls client until every partition of ranges is read to
// its end, calling fn for each data record below the end.
func consumeRanges(ctx context.Context, client *kgo.Client, ranges map[int32]partitionRange, fn func(*kgo.Record) error) error {
	pending := len(ranges)
	done := make(map[int32]bool, len(ranges))

	for pending > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, scanIdleTimeout)
		fetches := client.PollFetches(pollCtx)
		idle := pollCtx.Err() != nil
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if idle && fetches.NumRecords() == 0 {
			// NOTE: the offsets left unseen belong to aborted
			// transactions, which read_committed never returns.
			return nil
		}

		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("reading %s/%d: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}

		var fnErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			r, ok := ranges[rec.Partition]
			if fnErr != nil || !ok || done[rec.Partition] || rec.Offset >= r.end {
				return
			}
			if !rec.Attrs.IsControl() {
				fnErr = fn(rec)
			}
			if rec.Offset >= r.end-1 {
				done[rec.Partition] = true
				pending--
			}
		})
		if fnErr != nil {
			return fnErr
		}
	}
	return nil
}

// errNotStable is returned by waitStable when the wait timed out.
var errNotStable = errors.New("topic has open transactions")

// waitStable waits up to timeout until the last stable offset of every
// partition of topic reaches its high watermark. The transaction
// coordinator writes commit markers after EndTransaction returns, so a
// read right after a commit may not see that transaction yet. A missing
// topic counts as stable.
func waitStable(ctx context.Context, admin *kadm.Client, topic string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		stable, err := admin.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("listing the end offsets of %s: %w", topic, err)
		}
		ends, err := admin.ListEndOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("listing the end offsets of %s: %w", topic, err)
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := stable.Lookup(topic, o.Partition); o.Err == nil && (!ok || s.Offset != o.Offset) {
				done = false
			}
		})
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s after %v", errNotStable, topic, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
