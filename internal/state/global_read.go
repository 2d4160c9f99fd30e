package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Restore reads every partition of the table's topic up to the last
// stable offset it has when Restore starts, so that the table holds every
// write committed before then. ctx bounds the read.
//
// Unlike a partition's Changelog, Restore does not wait until no
// transaction is open: other instances write to the topic all the time,
// and their transactions that commit later reach the table through
// Follow. An earlier run of this instance cannot hold back the read,
// because the runner initializes its transactional producer, which aborts
// that run's open transaction, before it restores the table.
func (g *GlobalTable) Restore(ctx context.Context) error {
	targets, err := g.stableOffsets(ctx)
	if err != nil {
		return err
	}
	for !g.reached(targets) {
		if err := g.poll(ctx); err != nil {
			return fmt.Errorf("restoring %s: read %s of the target offsets %v: %w", g.topic, g.positions(), targets, err)
		}
	}
	return nil
}

// Follow applies the records that later transactions commit until ctx
// ends or Close is called, and drops expired entries every few minutes.
// It returns nil then. Fetch errors are logged and retried by the client.
func (g *GlobalTable) Follow(ctx context.Context) error {
	lastSweep := time.Now()
	for {
		if err := g.poll(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, kgo.ErrClientClosed) {
				return nil
			}
			return err
		}
		if time.Since(lastSweep) >= sweepInterval {
			if n := g.sweep(); n > 0 {
				g.log.Info("expired entries dropped", "entries", n)
			}
			lastSweep = time.Now()
		}
	}
}

// poll fetches once and applies what it got.
func (g *GlobalTable) poll(ctx context.Context) error {
	fetches := g.client.PollFetches(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	if fetches.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	fetches.EachError(func(topic string, partition int32, err error) {
		g.log.Warn("fetching the table failed; retrying", "partition", partition, "error", err)
	})
	fetches.EachRecord(func(rec *kgo.Record) {
		if rec.Topic == g.topic {
			g.apply(rec)
		}
	})
	return nil
}

// stableOffsets returns, for each partition that holds records, the last
// stable offset the reader must reach.
func (g *GlobalTable) stableOffsets(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(g.client)
	starts, err := adm.ListStartOffsets(ctx, g.topic)
	if err != nil {
		return nil, fmt.Errorf("restoring %s: listing start offsets: %w", g.topic, err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, g.topic)
	if err != nil {
		return nil, fmt.Errorf("restoring %s: listing the last stable offsets: %w", g.topic, err)
	}
	missing := len(stable[g.topic]) == 0
	stable.Each(func(o kadm.ListedOffset) {
		missing = missing || errors.Is(o.Err, kerr.UnknownTopicOrPartition)
	})
	if missing {
		return nil, fmt.Errorf("restoring %s: the topic does not exist: create it with \"mailtriage topics create\"", g.topic)
	}

	targets := make(map[int32]int64)
	var problems []error
	stable.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			problems = append(problems, fmt.Errorf("partition %d: %w", o.Partition, o.Err))
			return
		}
		start, ok := starts.Lookup(g.topic, o.Partition)
		if ok && start.Err == nil && start.Offset >= o.Offset {
			return // empty: nothing to read
		}
		targets[o.Partition] = o.Offset
	})
	if len(problems) > 0 {
		return nil, fmt.Errorf("restoring %s: listing the last stable offsets: %w", g.topic, errors.Join(problems...))
	}
	return targets, nil
}

// reached reports whether the reader has passed every target offset.
func (g *GlobalTable) reached(targets map[int32]int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, target := range targets {
		if g.next[p] < target {
			return false
		}
	}
	return true
}

// positions describes the reader's next offset per partition, for errors.
func (g *GlobalTable) positions() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	parts := make([]int32, 0, len(g.next))
	for p := range g.next {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	out := "up to"
	for _, p := range parts {
		out += fmt.Sprintf(" %d:%d", p, g.next[p])
	}
	if len(parts) == 0 {
		out = "nothing"
	}
	return out
}
