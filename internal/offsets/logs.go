package offsets

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrTopicNotFound is wrapped when a topic does not exist.
var ErrTopicNotFound = errors.New("topic not found")

// Bounds are the log start and end offsets of one partition.
type Bounds struct {
	Start int64
	End   int64 // the high watermark: the offset the next record gets
}

// listBounds returns the bounds of every partition of topic.
func listBounds(ctx context.Context, admin *kadm.Client, topic string) (map[int32]Bounds, error) {
	starts, err := admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %s: %w", topic, err)
	}
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}

	out := make(map[int32]Bounds)
	var listErr error
	starts.Each(func(o kadm.ListedOffset) {
		if listErr != nil {
			return
		}
		if o.Err != nil {
			listErr = topicError(topic, o.Partition, o.Err)
			return
		}
		end, ok := ends.Lookup(topic, o.Partition)
		if !ok || end.Err != nil {
			listErr = fmt.Errorf("listing the end offset of %s/%d failed: %v", topic, o.Partition, end.Err)
			return
		}
		out[o.Partition] = Bounds{Start: o.Offset, End: end.Offset}
	})
	if listErr != nil {
		return nil, listErr
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: check the name, or create the topics with \"mailtriage topics create\"", ErrTopicNotFound, topic)
	}
	return out, nil
}

func topicError(topic string, partition int32, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("%w: %s: check the name, or create the topics with \"mailtriage topics create\"", ErrTopicNotFound, topic)
	}
	return fmt.Errorf("listing the offsets of %s/%d: %w", topic, partition, err)
}

func sortedPartitions(b map[int32]Bounds) []int32 {
	out := make([]int32, 0, len(b))
	for p := range b {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
