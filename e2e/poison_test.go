package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/dlq"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// poisonRules routes invoice questions to billing. Every other message
// matches no rule, so Classify consults the model.
const poisonRules = `
version: "poison-1"
rules:
  - id: invoices
    description: Invoice questions go to billing.
    when:
      subject_keywords: [invoice]
    then:
      queue: billing
`

// poisonCase is one record that fails at one stage of the processor.
type poisonCase struct {
	stage string
	// errorText is a part of the dead letter's error.
	errorText string
	// injected is true where a test processor replaces the stage,
	// because the real one never fails.
	injected bool
}

// poisonCases lists a poison record per stage, in the order of the chain.
// Decode, dedupe, classify and thread fail in the real code: a value that
// is not Avro, a corrupt dedupe entry in the state store, a model that
// returns an error, and a corrupt thread index entry. Redact, route and
// autoreply never fail, so a wrapper fails them for marked messages.
var poisonCases = []poisonCase{
	{stage: runner.StageDecode, errorText: "avro"},
	{stage: "dedupe", errorText: "reading dedupe entry"},
	{stage: "redact", errorText: "injected", injected: true},
	{stage: "classify", errorText: "model prediction"},
	{stage: "route", errorText: "injected", injected: true},
	{stage: "thread", errorText: "reading thread index entry"},
	{stage: "autoreply", errorText: "injected", injected: true},
}

// poisonMarker is the subject marker that makes the stage fail.
func poisonMarker(stage string) string { return "[poison-" + stage + "]" }

// failOnMarker runs the real processor, except for messages whose subject
// contains marker, where it fails as the stage would.
type failOnMarker struct {
	processors.Processor
	marker string
}

func (f failOnMarker) Process(ctx context.Context, m *processors.Message) (processors.Result, error) {
	if strings.Contains(m.Email.Subject, f.marker) {
		return processors.Continue, fmt.Errorf("failure injected by the test for subject marker %s", f.marker)
	}
	return f.Processor.Process(ctx, m)
}

// markerModel is a Model that predicts nothing with confidence and fails
// for messages whose subject contains marker (never, when marker is "").
type markerModel struct{ marker string }

func (m markerModel) Predict(_ context.Context, e *schemas.InboundEmail) (processors.ModelPrediction, bool, error) {
	if m.marker != "" && strings.Contains(e.Subject, m.marker) {
		return processors.ModelPrediction{}, false, errors.New("model backend returned status 500 (injected by the test)")
	}
	return processors.ModelPrediction{Reason: schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "test-model-1", Threshold: 0.5}}, false, nil
}

// poisonChain returns the default chain on poisonRules. With poisoned
// set, the model fails for the classify marker and the redact, route and
// autoreply stages fail for theirs.
func poisonChain(t *testing.T, poisoned bool) processors.Chain {
	t.Helper()
	rules, err := processors.ParseRules("poison-rules.yaml", []byte(poisonRules))
	if err != nil {
		t.Fatalf("parsing the test rules: %v", err)
	}
	cfg := processors.ChainConfig{Rules: rules}
	if poisoned {
		cfg.Model = markerModel{marker: poisonMarker("classify")}
	}
	chain, err := processors.DefaultChain(cfg)
	if err != nil {
		t.Fatalf("building the chain: %v", err)
	}
	if !poisoned {
		return chain
	}
	for i, p := range chain {
		for _, c := range poisonCases {
			if c.injected && p.Name() == c.stage {
				chain[i] = failOnMarker{Processor: p, marker: poisonMarker(c.stage)}
			}
		}
	}
	return chain
}

// TestPoisonRecordsReachDLQAndReplayOnce feeds one partition a stream in
// which a record fails at each stage, between good records. Every poison
// record must reach the DLQ with its context while the good records after
// it become tickets. Then the failures are fixed, the dead letters are
// replayed with the dlq package, and each must yield exactly one ticket:
// replaying again, or again without the replay ledger, adds none.
func TestPoisonRecordsReachDLQAndReplayOnce(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn, _ := testSchemaDSN(t)
	pool := newPool(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	tenant := "poison-" + suffix
	group := "mailtriage-e2e-poison-" + suffix
	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)
	tt := createRunTopics(ctx, t, adm, "e2e.poison."+suffix)
	ticketsStart := endOffsets(ctx, t, adm, topics.Tickets)
	startTicketSink(ctx, t, adm, brokers, dsn, pool, group+"-postgres")

	// The stream: a good message, then a poison record and a good message
	// for each stage, all on partition 0.
	received := time.Now().UTC().Truncate(time.Second)
	email := func(id, subject string) *schemas.InboundEmail {
		return &schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  id + "@" + tenant + ".example.test",
			Source:     schemas.SourceImport,
			ReceivedAt: received,
			From:       &schemas.Address{Name: "Customer", Address: "customer-" + id + "@example.org"},
			To:         []schemas.Address{{Address: "support@example.com"}},
			Subject:    subject,
			Text:       "Hello, this is message " + id + " of the poison test.",
			Raw:        &schemas.BlobRef{Key: "raw/" + tenant + "/" + id + ".eml", SHA256: strings.Repeat("ab", 32), Size: 512},
		}
	}
	var values [][]byte
	var keys []string
	var good []*schemas.InboundEmail
	poison := map[string]*schemas.InboundEmail{} // stage → message; nil for decode
	addGood := func() {
		e := email(fmt.Sprintf("good-%02d", len(good)), fmt.Sprintf("Invoice question %d", len(good)))
		good = append(good, e)
		values, keys = append(values, encodeEmail(t, e)), append(keys, e.Key())
	}
	addGood()
	for _, c := range poisonCases {
		if c.stage == runner.StageDecode {
			values = append(values, []byte("this value is not an Avro record"))
			keys = append(keys, tenant+"/undecodable@example.test")
		} else {
			e := email("poison-"+c.stage, "Account question "+poisonMarker(c.stage))
			poison[c.stage] = e
			values, keys = append(values, encodeEmail(t, e)), append(keys, e.Key())
		}
		addGood()
	}
	poison["thread"].InReplyTo = []string{"<parent-" + suffix + "@example.test>"}
	values[indexOfKey(keys, poison["thread"].Key())] = encodeEmail(t, poison["thread"])

	// Corrupt state makes dedupe and thread fail for real: a dedupe entry
	// for the dedupe poison's fingerprint, and a thread index entry for the
	// message the thread poison replies to.
	dedupeKey := "dedupe/" + tenant + "/" + processors.Fingerprint(poison["dedupe"].MessageID, poison["dedupe"].Text, poison["dedupe"].HTML)
	threadKey := "thread/msg/" + tenant + "/parent-" + suffix + "@example.test"
	writeState(ctx, t, brokers, tt.changelog, dedupeKey, []byte{0xff})
	writeState(ctx, t, brokers, tt.threads, threadKey, []byte{1, 2})

	dlqStart := endOffsets(ctx, t, adm, topics.DLQ)
	since := time.Now().Add(-time.Minute)
	offsets := produceToPartition(ctx, t, brokers, tt.inbound, 0, values, keys)
	positions := map[string]int64{} // stage → offset of its poison record
	for i, c := range poisonCases {
		positions[c.stage] = offsets[2*i+1]
	}

	started := time.Now()
	stop := startChainRunner(t, brokers, tt, group, poisonChain(t, true))
	waitGroupAt(ctx, t, adm, group, tt.inbound, endOffsets(ctx, t, adm, tt.inbound))
	beforeReplay := endOffsets(ctx, t, adm, tt.inbound)
	stop()
	t.Logf("first run: %d records processed in %v", len(values), time.Since(started).Round(time.Millisecond))

	t.Run("partition keeps flowing", func(t *testing.T) {
		waitFor(ctx, t, "the good messages' tickets", func() (bool, string) {
			n := ticketCount(ctx, t, pool, tenant)
			return n >= len(good), fmt.Sprintf("%d of %d tickets", n, len(good))
		})
		if n := ticketCount(ctx, t, pool, tenant); n != len(good) {
			t.Errorf("%d tickets, expected %d (one per good message, none for a poison record)", n, len(good))
		}
		for _, e := range good {
			if n := ticketsOf(ctx, t, pool, tenant, e.MessageID); n != 1 {
				t.Errorf("good message %s has %d tickets, expected 1", e.MessageID, n)
			}
		}
	})

	t.Run("dead letters", func(t *testing.T) {
		end := stableOffsets(ctx, t, adm, topics.DLQ)
		letters := map[int64]*kgo.Record{} // source offset → dead letter
		for _, rec := range tenantRecords(readRange(ctx, t, brokers, topics.DLQ, dlqStart, end), tenant) {
			if header(rec, runner.HeaderSourceTopic) != tt.inbound {
				continue
			}
			offset, err := strconv.ParseInt(header(rec, runner.HeaderSourceOffset), 10, 64)
			if err != nil {
				t.Fatalf("dead letter at %d/%d has source offset %q: %v", rec.Partition, rec.Offset, header(rec, runner.HeaderSourceOffset), err)
			}
			letters[offset] = rec
		}
		if len(letters) != len(poisonCases) {
			t.Errorf("%d dead letters of the run, expected %d (one per poison record)", len(letters), len(poisonCases))
		}
		for _, c := range poisonCases {
			rec, ok := letters[positions[c.stage]]
			if !ok {
				t.Errorf("stage %s: no dead letter for source offset %d", c.stage, positions[c.stage])
				continue
			}
			checkDeadLetter(t, rec, c, tt.inbound, positions[c.stage], poison[c.stage], tenant)
		}
	})

	// The fix: the corrupt state entries are deleted, and the processor
	// runs the real chain.
	writeState(ctx, t, brokers, tt.changelog, dedupeKey, nil)
	writeState(ctx, t, brokers, tt.threads, threadKey, nil)
	startChainRunner(t, brokers, tt, group, poisonChain(t, false))

	source := dlq.Source{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}}
	replay := func(ledger string) dlq.ReplayResult {
		t.Helper()
		res, err := dlq.Replay(ctx, dlq.ReplayConfig{
			Source:          source,
			Filter:          dlq.Filter{Tenant: tenant, Since: since},
			LedgerTopic:     ledger,
			TransactionalID: "mailtriage-e2e-dlq-replay-" + suffix,
		})
		if err != nil {
			t.Fatalf("dlq replay: %v", err)
		}
		return res
	}
	replayable := len(poisonCases) - 1 // the undecodable record has no tenant and would fail again
	ledger := "e2e.poison." + suffix + ".replayed"
	deleteTopicsAtCleanup(t, adm, ledger, ledger+"2")

	started = time.Now()
	res := replay(ledger)
	if len(res.Replayed) != replayable || len(res.AlreadyReplayed) != 0 || len(res.NotReplayable) != 0 {
		t.Fatalf("first replay: %d replayed, %d already replayed, %d not replayable; expected %d, 0, 0",
			len(res.Replayed), len(res.AlreadyReplayed), len(res.NotReplayable), replayable)
	}
	wantTickets := len(good) + replayable
	waitCommitted(ctx, t, adm, group, tt.inbound, dataEnds(ctx, t, brokers, tt.inbound, beforeReplay, stableOffsets(ctx, t, adm, tt.inbound)))
	waitFor(ctx, t, "the replayed messages' tickets", func() (bool, string) {
		n := ticketCount(ctx, t, pool, tenant)
		return n >= wantTickets, fmt.Sprintf("%d of %d tickets", n, wantTickets)
	})
	t.Logf("replay of %d dead letters to tickets in %v", replayable, time.Since(started).Round(time.Millisecond))

	t.Run("replay yields each ticket once", func(t *testing.T) {
		for _, c := range poisonCases {
			if e := poison[c.stage]; e != nil {
				if n := ticketsOf(ctx, t, pool, tenant, e.MessageID); n != 1 {
					t.Errorf("replayed %s poison has %d tickets, expected 1", c.stage, n)
				}
			}
		}
	})

	t.Run("second replay sends nothing", func(t *testing.T) {
		before := endOffsets(ctx, t, adm, tt.inbound)
		res := replay(ledger)
		if len(res.Replayed) != 0 || len(res.AlreadyReplayed) != replayable {
			t.Errorf("second replay: %d replayed, %d already replayed; expected 0 and %d", len(res.Replayed), len(res.AlreadyReplayed), replayable)
		}
		after := endOffsets(ctx, t, adm, tt.inbound)
		if sum(after) != sum(before) {
			t.Errorf("the inbound topic grew from %d to %d records, expected no new record", sum(before), sum(after))
		}
	})

	t.Run("replay without ledger adds no ticket", func(t *testing.T) {
		// With a fresh ledger the dead letters go out again, at new
		// offsets, and dedupe must drop them as duplicates.
		before := stableOffsets(ctx, t, adm, tt.inbound)
		res := replay(ledger + "2")
		if len(res.Replayed) != replayable {
			t.Fatalf("replay with a fresh ledger: %d replayed, expected %d", len(res.Replayed), replayable)
		}
		waitCommitted(ctx, t, adm, group, tt.inbound, dataEnds(ctx, t, brokers, tt.inbound, before, stableOffsets(ctx, t, adm, tt.inbound)))
		target := dataEnds(ctx, t, brokers, topics.Tickets, ticketsStart, stableOffsets(ctx, t, adm, topics.Tickets))
		waitFor(ctx, t, "the PostgreSQL sink to reach the end of the tickets topic", func() (bool, string) {
			return sinkCaughtUp(ctx, t, pool, group+"-postgres", target)
		})
		if n := ticketCount(ctx, t, pool, tenant); n != wantTickets {
			t.Errorf("%d tickets, expected %d unchanged", n, wantTickets)
		}
		var messages int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.tenant = $1`, tenant).Scan(&messages); err != nil {
			t.Fatal(err)
		}
		if messages != wantTickets {
			t.Errorf("%d ticket messages, expected %d (one per ticket)", messages, wantTickets)
		}
	})
}

// checkDeadLetter checks the headers and value of the dead letter of one
// poison record. e is the poison message, nil for the undecodable one.
func checkDeadLetter(t *testing.T, rec *kgo.Record, c poisonCase, sourceTopic string, sourceOffset int64, e *schemas.InboundEmail, tenant string) {
	t.Helper()
	wantHeaders := map[string]string{
		runner.HeaderStage:           c.stage,
		runner.HeaderSourceTopic:     sourceTopic,
		runner.HeaderSourcePartition: "0",
		runner.HeaderSourceOffset:    strconv.FormatInt(sourceOffset, 10),
		runner.HeaderAttempts:        "1",
	}
	if e != nil {
		wantHeaders[runner.HeaderTenant] = tenant
	}
	for key, want := range wantHeaders {
		if got := header(rec, key); got != want {
			t.Errorf("stage %s: header %s = %q, expected %q", c.stage, key, got, want)
		}
	}
	if got := header(rec, runner.HeaderError); !strings.Contains(strings.ToLower(got), c.errorText) {
		t.Errorf("stage %s: error header %q, expected it to contain %q", c.stage, got, c.errorText)
	}
	if header(rec, runner.HeaderEventID) == "" {
		t.Errorf("stage %s: no %s header", c.stage, runner.HeaderEventID)
	}

	var dl schemas.DeadLetter
	if err := schemas.NewSingleObject().Decode(rec.Value, &dl); err != nil {
		t.Fatalf("stage %s: decoding the dead letter: %v", c.stage, err)
	}
	if len(dl.Payload) == 0 || len(dl.Key) == 0 {
		t.Errorf("stage %s: dead letter has a %d-byte key and a %d-byte payload, expected the source record's", c.stage, len(dl.Key), len(dl.Payload))
	}
	if e == nil {
		return
	}
	if dl.Raw == nil || dl.Raw.Key != e.Raw.Key {
		t.Errorf("stage %s: raw reference %+v, expected key %s", c.stage, dl.Raw, e.Raw.Key)
	}
	if string(dl.Key) != e.Key() {
		t.Errorf("stage %s: dead letter key does not match the source record's", c.stage)
	}
}

// writeState writes one record to partition 0 of a state topic, a
// tombstone when value is nil.
func writeState(ctx context.Context, t *testing.T, brokers []string, topic, key string, value []byte) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	rec := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(key), Value: value}
	if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("writing state key to %s: %v", topic, err)
	}
}

func header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func indexOfKey(keys []string, key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	return -1
}
