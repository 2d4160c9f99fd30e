package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// ErrNotFound is wrapped by Find when no dead letter has the requested
// position or event ID.
var ErrNotFound = errors.New("dead letter not found")

// Source is the dead-letter topic to read and the client settings that reach it.
type Source struct {
	// KafkaOpts are the franz-go options that reach the cluster, as
	// kafkaconfig.Config.Opts returns them. Required.
	KafkaOpts []kgo.Opt
	// Topic is the dead-letter topic. Default topics.DLQ.
	Topic string
	// Serde decodes dead-letter values. Default schemas.NewSingleObject().
	Serde *schemas.Serde
}

func (s Source) withDefaults() (Source, error) {
	if len(s.KafkaOpts) == 0 {
		return s, errors.New("dlq: KafkaOpts is empty: pass at least kgo.SeedBrokers")
	}
	if s.Topic == "" {
		s.Topic = topics.DLQ
	}
	if s.Serde == nil {
		s.Serde = schemas.NewSingleObject()
	}
	return s, nil
}

// List reads the dead-letter topic from its start to its last stable
// offset at the time of the call and returns the dead letters that f
// selects, oldest first. It decodes a value only when the dead letter's
// headers are incomplete.
func List(ctx context.Context, src Source, f Filter) ([]*Entry, error) {
	src, err := src.withDefaults()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	err = ScanTopic(ctx, src.KafkaOpts, src.Topic, f.Since, func(rec *kgo.Record) error {
		e := newEntry(ctx, rec, src.Serde)
		if f.Match(e) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortEntries(out)
	return out, nil
}

// sortEntries orders entries by record time, then partition and offset.
func sortEntries(entries []*Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
}

// FindAt reads the dead letter at pos and decodes it.
func FindAt(ctx context.Context, src Source, pos Position) (*Entry, error) {
	src, err := src.withDefaults()
	if err != nil {
		return nil, err
	}
	admin, err := kgo.NewClient(src.KafkaOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client: %w", err)
	}
	ranges, err := scanRanges(ctx, kadm.NewClient(admin), src.Topic, nilTime)
	admin.Close()
	if err != nil {
		return nil, err
	}
	r, ok := ranges[pos.Partition]
	if !ok || pos.Offset < r.start || pos.Offset >= r.end {
		return nil, fmt.Errorf("%w at %s in %s: the partition contains offsets %s; list the dead letters with \"mailtriage dlq list\"",
			ErrNotFound, pos, src.Topic, describeRange(r, ok))
	}

	var found *Entry
	only := map[int32]partitionRange{pos.Partition: {start: pos.Offset, end: pos.Offset + 1}}
	err = scanPartitions(ctx, src.KafkaOpts, src.Topic, only, func(rec *kgo.Record) error {
		if rec.Offset == pos.Offset {
			found = newEntry(ctx, rec, src.Serde)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w at %s in %s: that offset belongs to an aborted transaction or a transaction marker",
			ErrNotFound, pos, src.Topic)
	}
	return found, decodeForShow(ctx, found, src.Serde)
}

// FindEventID reads the whole dead-letter topic for the dead letter with
// event ID id and decodes it. When several have that ID, as after the
// same record failed twice, it returns the newest.
func FindEventID(ctx context.Context, src Source, id string) (*Entry, error) {
	src, err := src.withDefaults()
	if err != nil {
		return nil, err
	}
	var found *Entry
	err = ScanTopic(ctx, src.KafkaOpts, src.Topic, nilTime, func(rec *kgo.Record) error {
		e := newEntry(ctx, rec, src.Serde)
		if e.EventID == id && (found == nil || !e.Time.Before(found.Time)) {
			found = e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no dead letter in %s has event ID %q; list them with \"mailtriage dlq list\"", ErrNotFound, src.Topic, id)
	}
	return found, decodeForShow(ctx, found, src.Serde)
}

// decodeForShow decodes e. A value that cannot be decoded is kept in
// e.DecodeErr rather than returned, because the headers still describe
// the dead letter.
func decodeForShow(ctx context.Context, e *Entry, serde *schemas.Serde) error {
	if err := e.Decode(ctx, serde); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.DecodeErr = err
	}
	return nil
}

func describeRange(r partitionRange, ok bool) string {
	if !ok {
		return "none (the partition is empty or does not exist)"
	}
	return fmt.Sprintf("%d to %d", r.start, r.end-1)
}
