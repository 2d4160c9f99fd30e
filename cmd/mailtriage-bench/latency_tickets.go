package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// ticketWatcher reads the tickets topic with read_committed isolation and
// notes, for each email of a latency run, when its ticket command became
// visible. A read_committed fetch returns a record only after the
// processor's transaction committed, so this time bounds the processor's
// commit from above, as the row poller bounds the sink's.
type ticketWatcher struct {
	client *kgo.Client
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	seen map[string]map[int]commandSample // tag → email index → sample
}

// commandSample is one email's ticket command.
type commandSample struct {
	latency time.Duration // receivedAt to the fetch that returned the command
	seenAt  time.Time
}

// ticketFetchWait is the longest time the broker holds a fetch that has
// no committed record to return. It bounds how late a commit is noticed
// should the broker not respond to the waiting fetch as soon as the
// transaction's markers are written.
const ticketFetchWait = 50 * time.Millisecond

// newTicketWatcher starts reading the tickets topic from its current end.
func newTicketWatcher(ctx context.Context, brokers []string, adm *kadm.Client) (*ticketWatcher, error) {
	ends, err := adm.ListEndOffsets(ctx, topics.Tickets)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topics.Tickets, err)
	}
	start := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { start[o.Partition] = kgo.NewOffset().At(o.Offset) })
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topics.Tickets: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(ticketFetchWait),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the tickets consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &ticketWatcher{client: client, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		seen: map[string]map[int]commandSample{}}
	go w.run()
	return w, nil
}

func (w *ticketWatcher) run() {
	defer close(w.done)
	for {
		fetches := w.client.PollFetches(w.ctx)
		if w.ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		now := time.Now()
		fetches.EachRecord(func(rec *kgo.Record) { w.note(rec, now) })
	}
}

// note records the command in rec when it belongs to a latency run.
// Commands of other clients, and records in another encoding, are
// skipped.
func (w *ticketWatcher) note(rec *kgo.Record, now time.Time) {
	var cmd schemas.TicketCommand
	if err := schemas.Unmarshal(rec.Value, &cmd); err != nil {
		return
	}
	tag, i, ok := splitMessageID(cmd.MessageID)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[tag] == nil {
		w.seen[tag] = map[int]commandSample{}
	}
	if _, dup := w.seen[tag][i]; !dup {
		w.seen[tag][i] = commandSample{latency: now.Sub(cmd.ReceivedAt), seenAt: now}
	}
}

// samples returns the samples of every email of tag seen so far.
func (w *ticketWatcher) samples(tag string) []commandSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]commandSample, 0, len(w.seen[tag]))
	for _, c := range w.seen[tag] {
		out = append(out, c)
	}
	return out
}

func (w *ticketWatcher) close() {
	w.cancel()
	<-w.done
	w.client.Close()
}
