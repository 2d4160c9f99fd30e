package dlq

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// fixture is a dead-letter topic with known dead letters, a source topic
// to replay to, and a ledger topic name, all unique to one test.
type fixture struct {
	opts    []kgo.Opt
	admin   *kadm.Client
	dlq     string
	source  string
	ledger  string
	letters map[string]Position // event ID to position in the DLQ
	base    time.Time           // timestamp of the first dead letter
}

// seed describes one dead letter of the fixture.
type seed struct {
	eventID   string
	tenant    string
	stage     string
	err       string
	partition int32 // DLQ partition
	minute    int   // record timestamp: base plus this many minutes
	attempts  int32
	noPayload bool
	ingress   bool
}

var seeds = []seed{
	{eventID: "a1", tenant: "acme", stage: "classify", err: "rules: invalid pattern", partition: 0, minute: 0, attempts: 1},
	{eventID: "a2", tenant: "acme", stage: "route", err: "thread index: timeout", partition: 1, minute: 1, attempts: 1},
	{eventID: "g1", tenant: "globex", stage: "classify", err: "model: Timeout after 5s\nstack", partition: 0, minute: 2, attempts: 1},
	{eventID: "g2", tenant: "globex", stage: "produce", err: "record too large", partition: 1, minute: 3, attempts: 2, noPayload: true},
	{eventID: "i1", tenant: "acme", stage: "parse", err: "not an email message", partition: 0, minute: 4, attempts: 1, ingress: true},
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	f := &fixture{
		opts:    []kgo.Opt{kgo.SeedBrokers(brokers...)},
		dlq:     "dlqtest.dlq." + suffix,
		source:  "dlqtest.source." + suffix,
		ledger:  "dlqtest.ledger." + suffix,
		letters: make(map[string]Position),
		base:    time.Now().Add(-time.Hour).Truncate(time.Millisecond),
	}
	client, err := kgo.NewClient(f.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	f.admin = kadm.NewClient(client)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{f.dlq, f.source} {
		if _, err := f.admin.CreateTopic(ctx, 2, 1, nil, name); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = f.admin.DeleteTopics(ctx, f.dlq, f.source, f.ledger)
	})
	f.produceSeeds(t, ctx)
	return f
}

// produceSeeds writes the seeds in one transaction, as the runner does,
// with the runner's headers.
func (f *fixture) produceSeeds(t *testing.T, ctx context.Context) {
	t.Helper()
	producer, err := kgo.NewClient(append(f.opts,
		kgo.TransactionalID("dlqtest-"+f.dlq),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	serde := schemas.NewSingleObject()
	for i, s := range seeds {
		dl := schemas.DeadLetter{
			EventID: s.eventID, Tenant: s.tenant, Stage: s.stage, Error: s.err,
			SourceTopic: f.source, SourcePartition: int32(i % 2), SourceOffset: int64(100 + i),
			Attempts: s.attempts, FailedAt: f.base.Add(time.Duration(s.minute) * time.Minute),
			Raw: &schemas.BlobRef{Key: s.tenant + "/2026/01/05/" + s.eventID + "/raw.eml", SHA256: "00", Size: 10},
		}
		if !s.noPayload {
			dl.Key = []byte(s.tenant + "/" + s.eventID)
			dl.Payload = []byte("payload of " + s.eventID)
		}
		if s.ingress {
			dl.SourceTopic, dl.SourcePartition, dl.SourceOffset = "import", -1, -1
		}
		value, err := serde.Encode("", &dl)
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{
			Topic: f.dlq, Partition: s.partition, Key: dl.Key, Value: value,
			Headers:   append(runner.DeadLetterHeaders(&dl), kgo.RecordHeader{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}),
			Timestamp: dl.FailedAt,
		}
		r, err := producer.ProduceSync(ctx, rec).First()
		if err != nil {
			t.Fatal(err)
		}
		f.letters[s.eventID] = Position{Partition: r.Partition, Offset: r.Offset}
	}
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := waitStable(ctx, f.admin, f.dlq, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) src() Source { return Source{KafkaOpts: f.opts, Topic: f.dlq} }

func eventIDs(entries []*Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.EventID
	}
	return out
}

func TestListFilters(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cases := []struct {
		name   string
		filter Filter
		want   []string // event IDs, oldest first
	}{
		{"all", Filter{}, []string{"a1", "a2", "g1", "g2", "i1"}},
		{"tenant", Filter{Tenant: "globex"}, []string{"g1", "g2"}},
		{"stage", Filter{Stage: "classify"}, []string{"a1", "g1"}},
		{"error", Filter{ErrorContains: "timeout"}, []string{"a2", "g1"}},
		{"since", Filter{Since: f.base.Add(2 * time.Minute)}, []string{"g1", "g2", "i1"}},
		{"until", Filter{Until: f.base.Add(2 * time.Minute)}, []string{"a1", "a2"}},
		{"combined", Filter{Tenant: "acme", ErrorContains: "TIMEOUT", Since: f.base}, []string{"a2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries, err := List(ctx, f.src(), c.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(eventIDs(entries), ","); got != strings.Join(c.want, ",") {
				t.Errorf("selected %s, expected %s", got, strings.Join(c.want, ","))
			}
			for _, e := range entries {
				if e.Letter != nil {
					t.Errorf("dead letter %s was decoded, expected a filter by headers only", e.EventID)
				}
			}
		})
	}
}

func TestFindFields(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	pos := f.letters["g1"]
	byPos, err := FindAt(ctx, f.src(), pos)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := FindEventID(ctx, f.src(), "g1")
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*Entry{"by position": byPos, "by event ID": byID} {
		t.Run(name, func(t *testing.T) {
			if e.Position != pos {
				t.Errorf("position %s, expected %s", e.Position, pos)
			}
			if e.Tenant != "globex" || e.Stage != "classify" || e.Attempts != 1 {
				t.Errorf("tenant %q stage %q attempts %d, expected globex classify 1", e.Tenant, e.Stage, e.Attempts)
			}
			if want := f.source + "/0/102"; e.Source() != want {
				t.Errorf("source %q, expected %q", e.Source(), want)
			}
			if e.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace ID %q, expected the traceparent's", e.TraceID)
			}
			if e.Letter == nil || string(e.Letter.Payload) != "payload of g1" || e.Letter.Raw.Key != "globex/2026/01/05/g1/raw.eml" {
				t.Errorf("decoded value %+v, expected the payload and raw key of g1", e.Letter)
			}
		})
	}

	_, err = FindAt(ctx, f.src(), Position{Partition: 0, Offset: 999})
	if err == nil || !strings.Contains(err.Error(), "contains offsets") {
		t.Errorf("missing offset: error %v, expected ErrNotFound naming the range", err)
	}
	if _, err := FindEventID(ctx, f.src(), "nope"); err == nil {
		t.Error("unknown event ID: no error, expected ErrNotFound")
	}
}

// readAll returns every committed record of topic.
func readAll(t *testing.T, f *fixture, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	err := ScanTopic(ctx, f.opts, topic, time.Time{}, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].Key) < string(out[j].Key) })
	return out
}

func headerValue(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestReplayOnce(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := ReplayConfig{
		Source: f.src(), Filter: Filter{Tenant: "acme"},
		LedgerTopic: f.ledger, TransactionalID: "dlqtest-replay-" + f.dlq, BatchSize: 1,
	}

	dry := cfg
	dry.DryRun = true
	res, err := Replay(ctx, dry)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(res.Replayed), ","); got != "a1,a2" {
		t.Errorf("dry run would replay %s, expected a1,a2", got)
	}
	if n := len(readAll(t, f, f.source)); n != 0 {
		t.Fatalf("dry run produced %d records, expected none", n)
	}

	res, err = Replay(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(eventIDs(res.Replayed), ","); got != "a1,a2" {
		t.Errorf("replayed %s, expected a1,a2", got)
	}
	if len(res.NotReplayable) != 1 || res.NotReplayable[0].Entry.EventID != "i1" ||
		!strings.Contains(res.NotReplayable[0].Reason, "acme/2026/01/05/i1/raw.eml") {
		t.Errorf("not replayable %+v, expected i1 with its raw storage key", res.NotReplayable)
	}

	records := readAll(t, f, f.source)
	if len(records) != 2 {
		t.Fatalf("source topic has %d records, expected 2", len(records))
	}
	wantPartition := map[string]int32{"acme/a1": 0, "acme/a2": 1}
	for _, r := range records {
		id := strings.TrimPrefix(string(r.Key), "acme/")
		if string(r.Value) != "payload of "+id {
			t.Errorf("record %s has value %q, expected the dead letter's payload", r.Key, r.Value)
		}
		if r.Partition != wantPartition[string(r.Key)] {
			t.Errorf("record %s on partition %d, expected the source partition %d", r.Key, r.Partition, wantPartition[string(r.Key)])
		}
		marker, ok := headerValue(r, HeaderReplayOf)
		if !ok || marker != f.letters[id].String() {
			t.Errorf("record %s has marker %q, expected %s", r.Key, marker, f.letters[id])
		}
		if _, ok := headerValue(r, runner.HeaderStage); ok {
			t.Errorf("record %s kept the failure header %s", r.Key, runner.HeaderStage)
		}
		if _, ok := headerValue(r, HeaderTraceParent); !ok {
			t.Errorf("record %s lost the traceparent header", r.Key)
		}
	}

	again, err := Replay(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Replayed) != 0 || len(again.AlreadyReplayed) != 2 {
		t.Errorf("second replay sent %d and skipped %d, expected 0 and 2", len(again.Replayed), len(again.AlreadyReplayed))
	}
	if n := len(readAll(t, f, f.source)); n != 2 {
		t.Errorf("source topic has %d records after the second replay, expected still 2", n)
	}
}

func TestReplayWithoutPayload(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Replay(ctx, ReplayConfig{
		Source: f.src(), Filter: Filter{Stage: "produce"},
		LedgerTopic: f.ledger, TransactionalID: "dlqtest-replay-" + f.dlq,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replayed) != 0 || len(res.NotReplayable) != 1 {
		t.Fatalf("replayed %d, not replayable %d, expected 0 and 1", len(res.Replayed), len(res.NotReplayable))
	}
	reason := res.NotReplayable[0].Reason
	for _, want := range []string{"no payload", "attempt 2", "mailtriage import", "globex/2026/01/05/g2/raw.eml"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q lacks %q", reason, want)
		}
	}
}
