package demo

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// outcome is the fate of one inbound record: a decision or a dead letter.
type outcome struct {
	decision   *schemas.DecisionEvent
	deadLetter *schemas.DeadLetter
}

// collect reads the analytics and dead-letter topics from start until every
// imported message has an outcome, then builds the report in import order.
// Messages that failed to parse at import count too: their dead letters
// are on the dead-letter topic like those of the processor.
func collect(ctx context.Context, brokers []string, start kadm.ListedOffsets, items []imported) (*Report, error) {
	want := len(items)

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(startOffsets(start)),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the output consumer: %w", err)
	}
	defer consumer.Close()

	// Records of other runs or tenants can follow start on a shared
	// cluster, so only the keys of this run count.
	keys := make(map[string]bool, len(items))
	for _, it := range items {
		keys[it.key] = true
	}
	byKey := make(map[string][]outcome)
	got := 0
	for got < want {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%d of %d messages processed: %w", got, want, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("reading %s: %w", errs[0].Topic, errs[0].Err)
		}
		var decodeErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			if !keys[string(rec.Key)] {
				return
			}
			o, err := decodeOutcome(rec)
			if err != nil {
				decodeErr = err
				return
			}
			byKey[string(rec.Key)] = append(byKey[string(rec.Key)], o)
			got++
		})
		if decodeErr != nil {
			return nil, decodeErr
		}
	}
	return buildReport(items, byKey), nil
}

func startOffsets(start kadm.ListedOffsets) map[string]map[int32]kgo.Offset {
	out := make(map[string]map[int32]kgo.Offset)
	start.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]kgo.Offset)
		}
		out[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	return out
}

func decodeOutcome(rec *kgo.Record) (outcome, error) {
	switch rec.Topic {
	case topics.Analytics:
		var d schemas.DecisionEvent
		if err := schemas.Unmarshal(rec.Value, &d); err != nil {
			return outcome{}, fmt.Errorf("decoding %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		return outcome{decision: &d}, nil
	default:
		var dl schemas.DeadLetter
		if err := schemas.Unmarshal(rec.Value, &dl); err != nil {
			return outcome{}, fmt.Errorf("decoding %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		return outcome{deadLetter: &dl}, nil
	}
}
