package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const (
	testPartitions = 3
	testGroup      = "runner-test"
	testTxnID      = "runner-test-txn"
)

// startCluster starts an in-process kfake broker and creates the topology's
// topics on it with topics.Ensure.
func startCluster(ctx context.Context, t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	adm := newAdmin(t, brokers)
	if err := topics.Ensure(ctx, adm, topics.Specs(testPartitions, 1)); err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	return brokers
}

func newAdmin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the admin client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// testEmail returns a message whose key and fingerprint follow from id.
func testEmail(tenant, id, subject string) schemas.InboundEmail {
	return schemas.InboundEmail{
		Tenant:     tenant,
		MessageID:  id + "@example.test",
		Source:     schemas.SourceImport,
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Subject:    subject,
		Text:       "body of " + id,
	}
}

// inbound is one record to produce to the input topic: an email, or raw
// bytes when raw is set. partition < 0 lets the key decide.
type inbound struct {
	email     schemas.InboundEmail
	raw       []byte
	key       string
	partition int32
}

func emailRecord(t *testing.T, e schemas.InboundEmail, partition int32) inbound {
	t.Helper()
	value, err := schemas.Marshal(&e)
	if err != nil {
		t.Fatalf("encoding %s: %v", e.MessageID, err)
	}
	return inbound{email: e, raw: value, key: e.Key(), partition: partition}
}

// produceInbound writes records to the input topic, each to its partition
// or by key, and returns the input partitions' end offsets afterwards.
func produceInbound(ctx context.Context, t *testing.T, brokers []string, records ...inbound) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(newTestPartitioner()))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	for _, in := range records {
		rec := &kgo.Record{Topic: topics.Inbound, Key: []byte(in.key), Value: in.raw, Partition: in.partition}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", in.key, err)
		}
	}
	return endOffsets(ctx, t, newAdmin(t, brokers), topics.Inbound)
}

// newTestPartitioner keeps Record.Partition when it is set (>= 0) and
// hashes the key otherwise.
func newTestPartitioner() kgo.Partitioner {
	return testPartitioner{manual: kgo.ManualPartitioner(), keyed: kgo.StickyKeyPartitioner(nil)}
}

type testPartitioner struct{ manual, keyed kgo.Partitioner }

func (p testPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return testTopicPartitioner{manual: p.manual.ForTopic(topic), keyed: p.keyed.ForTopic(topic)}
}

type testTopicPartitioner struct{ manual, keyed kgo.TopicPartitioner }

func (p testTopicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (p testTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return p.manual.Partition(r, n)
	}
	return p.keyed.Partition(r, n)
}

func endOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	out := make(map[int32]int64)
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// testChain is the real dedupe followed by a stand-in classifier.
func testChain(t *testing.T) processors.Chain {
	t.Helper()
	dedupe, err := processors.NewDedupe(processors.DedupeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return processors.Chain{dedupe, classifier{}}
}

// classifier routes every message to the "support" queue. It fails on a
// subject containing "boom" when the message carries the header X-Fail.
type classifier struct{}

func (classifier) Name() string { return "classify" }

func (classifier) Process(_ context.Context, m *processors.Message) (processors.Result, error) {
	if strings.Contains(m.Email.Subject, "boom") {
		for _, h := range m.Email.Headers {
			if h.Name == "X-Fail" {
				return processors.Continue, errors.New("classifier rejected the message")
			}
		}
	}
	m.Decision.Queue = "support"
	m.Decision.TicketRef = "T-" + m.Email.MessageID
	m.Decision.Reason = schemas.Reason{Kind: schemas.ReasonRule, RuleID: "test"}
	return processors.Continue, nil
}

// testOutputs replaces processors.Outputs with a smaller set: a ticket command and a
// decision event per new message, only the decision event for a duplicate.
// Ticket event IDs derive from the message, and decision event IDs from the
// input position, so a replay repeats them and a duplicate gets its own.
func testOutputs(m *processors.Message, now time.Time) []processors.Output {
	e := &m.Email
	decision := &schemas.DecisionEvent{
		EventID:   fmt.Sprintf("decision/%s/%d/%d", m.Position.Topic, m.Position.Partition, m.Position.Offset),
		Tenant:    e.Tenant,
		MessageID: e.MessageID,
		TicketRef: m.Decision.TicketRef,
		Queue:     m.Decision.Queue,
		Duplicate: m.Duplicate,
		Subject:   e.Subject,
		DecidedAt: now,
	}
	outs := []processors.Output{{Topic: topics.Analytics, Key: e.Key(), Value: decision}}
	if m.Duplicate {
		return outs
	}
	ticket := &schemas.TicketCommand{
		EventID:   "ticket/" + e.Key(),
		Tenant:    e.Tenant,
		Action:    "create",
		TicketRef: m.Decision.TicketRef,
		MessageID: e.MessageID,
		Queue:     m.Decision.Queue,
		Priority:  "normal",
		Subject:   e.Subject,
	}
	return append(outs, processors.Output{Topic: topics.Tickets, Key: e.Tenant + "/" + ticket.TicketRef, Value: ticket})
}

func testConfig(brokers []string) Config {
	return Config{
		Brokers:         brokers,
		Group:           testGroup,
		TransactionalID: testTxnID,
		InputTopic:      topics.Inbound,
		Chain:           nil, // set by the test
		Outputs:         testOutputs,
		MaxPollRecords:  7,
		Now:             func() time.Time { return time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC) },
		ClientOpts:      []kgo.Opt{kgo.FetchMaxWait(200 * time.Millisecond)},
	}
}

// running is a Runner started in the background.
type running struct {
	*Runner
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func startRunner(ctx context.Context, t *testing.T, r *Runner) *running {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	rr := &running{Runner: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(runCtx) }()
	t.Cleanup(func() { rr.stop() })
	return rr
}

// stop cancels Run, waits for it and closes the runner. It returns Run's
// result.
func (rr *running) stop() error {
	rr.once.Do(func() {
		rr.cancel()
		rr.err = <-rr.done
		rr.Close()
	})
	return rr.err
}

// waitCaughtUp waits until the group's committed offsets reach ends,
// failing the test when Run stops or ctx ends first.
func waitCaughtUp(ctx context.Context, t *testing.T, rr *running, ends map[int32]int64) {
	t.Helper()
	adm := newAdmin(t, rr.cfg.Brokers)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var committed kadm.OffsetResponses
	for {
		var err error
		committed, err = adm.FetchOffsets(ctx, rr.cfg.Group)
		if err == nil && caughtUp(committed, rr.cfg.InputTopic, ends) {
			return
		}
		select {
		case err := <-rr.done:
			rr.done <- err
			t.Fatalf("Run returned %v before catching up", err)
		case <-ctx.Done():
			t.Fatalf("runner did not catch up with %v: committed %v, stats %+v", ends, committed, rr.Stats())
		case <-tick.C:
		}
	}
}

func caughtUp(committed kadm.OffsetResponses, topic string, ends map[int32]int64) bool {
	for p, end := range ends {
		if end == 0 {
			continue
		}
		o, ok := committed.Lookup(topic, p)
		if !ok || o.Err != nil || o.At < end {
			return false
		}
	}
	return true
}

// readTopic returns every record of topic visible at the isolation level,
// reading each partition to its high watermark.
func readTopic(ctx context.Context, t *testing.T, brokers []string, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ends := endOffsets(ctx, t, newAdmin(t, brokers), topic)
	parts := make(map[int32]kgo.Offset)
	for p, end := range ends {
		if end > 0 {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(parts) == 0 {
		return nil
	}
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(level), kgo.KeepControlRecords())
	if err != nil {
		t.Fatalf("creating the reader: %v", err)
	}
	defer cl.Close()

	last := make(map[int32]int64)
	for p := range parts {
		last[p] = -1
	}
	var out []*kgo.Record
	for !readAll(last, ends) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: read up to %v of %v: %v", topic, last, ends, ctx.Err())
		}
		fetches.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s partition %d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = max(last[r.Partition], r.Offset)
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

func readAll(last, ends map[int32]int64) bool {
	for p, l := range last {
		if l < ends[p]-1 {
			return false
		}
	}
	return true
}

func decodeTickets(t *testing.T, recs []*kgo.Record) []schemas.TicketCommand {
	t.Helper()
	out := make([]schemas.TicketCommand, len(recs))
	for i, r := range recs {
		if err := schemas.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatalf("decoding ticket at %d/%d: %v", r.Partition, r.Offset, err)
		}
	}
	return out
}

func decodeDecisions(t *testing.T, recs []*kgo.Record) []schemas.DecisionEvent {
	t.Helper()
	out := make([]schemas.DecisionEvent, len(recs))
	for i, r := range recs {
		if err := schemas.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatalf("decoding decision at %d/%d: %v", r.Partition, r.Offset, err)
		}
	}
	return out
}

// countIDs counts how often each event ID occurs.
func countIDs[T any](items []T, id func(T) string) map[string]int {
	out := make(map[string]int)
	for _, it := range items {
		out[id(it)]++
	}
	return out
}

func newRunner(t *testing.T, cfg Config) *Runner {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}
