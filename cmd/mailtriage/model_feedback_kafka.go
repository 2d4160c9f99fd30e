package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readTopicToEnd calls handle for every committed record of topic, from
// the earliest offset of each partition up to its last stable offset at
// the time of the call, and then returns. The last stable offset is the
// high watermark unless a transaction is open on the partition, whose
// records a read_committed consumer cannot pass yet.
func readTopicToEnd(ctx context.Context, opts []kgo.Opt, topic string, handle func(feedbackRecord)) error {
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the Kafka client: %w", err)
	}
	ends, err := kadm.NewClient(admin).ListCommittedOffsets(ctx, topic)
	admin.Close()
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %s does not exist: create it with mailtriage topics create, or pass --topic", topic)
	}
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}

	// end[p] is the offset after the last record to read of partition p.
	end := map[int32]int64{}
	start := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			end[o.Partition] = o.Offset
			start[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(end) == 0 {
		return nil
	}

	client, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Commit markers come back as records, so that a partition whose
		// last offset is a marker is seen to end.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("creating the Kafka consumer: %w", err)
	}
	defer client.Close()

	for len(end) > 0 {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s: %w with %d partitions not read to their end: raise --timeout, or check that the brokers are reachable", topic, ctx.Err(), len(end))
		}
		var fetchErr error
		fetches.EachError(func(_ string, partition int32, err error) {
			if fetchErr == nil && !kerr.IsRetriable(err) {
				fetchErr = fmt.Errorf("reading %s partition %d: %w", topic, partition, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}

		fetches.EachRecord(func(rec *kgo.Record) {
			last, reading := end[rec.Partition]
			if !reading || rec.Offset >= last {
				return
			}
			if rec.Offset+1 >= last {
				delete(end, rec.Partition)
			}
			if !rec.Attrs.IsControl() {
				handle(feedbackRecord{partition: rec.Partition, offset: rec.Offset, value: rec.Value})
			}
		})
	}
	return nil
}
