package offsets

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Positions maps topic and partition to the offset of the next record to
// read.
type Positions map[string]map[int32]int64

// set stores offset for topic and partition.
func (p Positions) set(topic string, partition int32, offset int64) {
	if p[topic] == nil {
		p[topic] = make(map[int32]int64)
	}
	p[topic][partition] = offset
}

// Topics returns the topics of p, sorted.
func (p Positions) Topics() []string {
	out := make([]string, 0, len(p))
	for t := range p {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Store is the storage of a group's positions: Kafka or a sink's database.
type Store interface {
	// Name describes the store in messages, such as "Kafka".
	Name() string
	// Fetch returns the stored positions of group, of topic only when
	// topic is not empty.
	Fetch(ctx context.Context, group, topic string) (Positions, error)
	// Commit stores positions for group, all or none of them.
	Commit(ctx context.Context, group string, positions Positions) error
}

// KafkaStore keeps positions as the group's committed offsets in Kafka.
type KafkaStore struct {
	Admin *kadm.Client
}

// Name returns "Kafka".
func (KafkaStore) Name() string { return "Kafka" }

// Fetch reads the committed offsets of group.
func (s KafkaStore) Fetch(ctx context.Context, group, topic string) (Positions, error) {
	var resp kadm.OffsetResponses
	var err error
	if topic == "" {
		resp, err = s.Admin.FetchOffsets(ctx, group)
	} else {
		resp, err = s.Admin.FetchOffsetsForTopics(ctx, group, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %s: %w", group, err)
	}
	if err := resp.Error(); err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %s: %w", group, err)
	}
	out := make(Positions)
	resp.Each(func(o kadm.OffsetResponse) {
		// FetchOffsetsForTopics lists every partition of the topic, with
		// offset -1 where the group has committed nothing.
		if o.At >= 0 {
			out.set(o.Topic, o.Partition, o.At)
		}
	})
	return out, nil
}

// Commit commits positions as the group's offsets. The broker accepts
// the commit only while the group has no members.
func (s KafkaStore) Commit(ctx context.Context, group string, positions Positions) error {
	offsets := make(kadm.Offsets)
	for topic, parts := range positions {
		for p, at := range parts {
			offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	resp, err := s.Admin.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return fmt.Errorf("committing the offsets of group %s: %w", group, err)
	}
	if err := resp.Error(); err != nil {
		return fmt.Errorf("committing the offsets of group %s: %w; check that no member joined since the check", group, err)
	}
	return nil
}
