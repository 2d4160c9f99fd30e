package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func TestApplySchemaTwice(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for i := 1; i <= 2; i++ {
		if err := ApplySchema(ctx, db.conn, db.database, db.table); err != nil {
			t.Fatalf("ApplySchema, run %d: %v", i, err)
		}
	}

	rows, err := db.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db.database, db.table)
	if err != nil {
		t.Fatalf("listing columns: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("reading a column name: %v", err)
		}
		got = append(got, name)
	}
	if !slices.Equal(got, columns) {
		t.Errorf("columns of %s: got %v, expected %v", db.qualified(), got, columns)
	}

	var engine string
	if err := db.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", db.database, db.table).Scan(&engine); err != nil {
		t.Fatalf("reading the engine: %v", err)
	}
	if engine != "ReplacingMergeTree" {
		t.Errorf("engine of %s: got %q, expected ReplacingMergeTree", db.qualified(), engine)
	}
}

func TestSinkInsertsEachCommittedEvent(t *testing.T) {
	const n = 500
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	txn := newClient(t, brokers, kgo.TransactionalID("sink-test"))
	produceInTransaction(ctx, t, txn, eventRecords(t, "acme", 0, n), true)
	produceInTransaction(ctx, t, txn, eventRecords(t, "aborted", 0, 50), false)
	plain := newClient(t, brokers)
	garbage := []*kgo.Record{
		{Topic: topics.Analytics, Key: []byte("acme/garbage-1"), Value: []byte("not avro")},
		eventRecord(t, schemas.DecisionEvent{EventID: "no-tenant", ReceivedAt: baseTime, DecidedAt: baseTime}),
	}
	produce(ctx, t, plain, garbage)

	var logs logBuffer
	cfg := testConfig(db, brokers, "sink-inserts", logs.logger())
	cfg.BatchRows = 64
	cfg.BatchWait = 50 * time.Millisecond
	sink := startSink(t, cfg)

	waitForFinalCount(ctx, t, db, n)
	dlq := readDeadLetters(ctx, t, brokers, len(garbage))
	if err := sink.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := db.rawCount(ctx, t); got != n {
		t.Errorf("stored rows: got %d, expected %d (one insert per record)", got, n)
	}
	if got := db.queryUint(ctx, t, "SELECT count() FROM %s WHERE tenant = 'aborted'"); got != 0 {
		t.Errorf("rows of the aborted transaction: got %d, expected 0", got)
	}
	if st := sink.Stats(); st.Rows != n || st.DeadLetters != int64(len(garbage)) {
		t.Errorf("stats: got %d rows and %d dead letters, expected %d and %d", st.Rows, st.DeadLetters, n, len(garbage))
	}

	for i, rec := range dlq {
		var dl schemas.DeadLetter
		if err := schemas.Unmarshal(rec.Value, &dl); err != nil {
			t.Fatalf("dead letter %d does not decode: %v", i, err)
		}
		if dl.Stage != Stage || dl.SourceTopic != topics.Analytics || dl.Error == "" {
			t.Errorf("dead letter %d: stage %q, source topic %q, error %q; expected stage %q, topic %q and an error",
				i, dl.Stage, dl.SourceTopic, dl.Error, Stage, topics.Analytics)
		}
		if header(rec, runner.HeaderStage) != Stage {
			t.Errorf("dead letter %d: stage header %q, expected %q", i, header(rec, runner.HeaderStage), Stage)
		}
		if !slices.ContainsFunc(garbage, func(g *kgo.Record) bool { return string(g.Value) == string(dl.Payload) }) {
			t.Errorf("dead letter %d: payload %q is not one of the undecodable records", i, dl.Payload)
		}
	}
}

func TestSinkRowMatchesEvent(t *testing.T) {
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ev := testEvent("acme", 2) // a model decision with PII counts
	produce(ctx, t, newClient(t, brokers), []*kgo.Record{eventRecord(t, ev)})
	sink := startSink(t, testConfig(db, brokers, "sink-row", nil))
	waitForFinalCount(ctx, t, db, 1)
	sink.stop(t)

	var (
		eventID, tenant, queue, reasonKind, modelVersion, topLabel string
		tags, piiKinds                                             []string
		piiCounts                                                  []uint32
		piiTotal, version                                          uint64
		topProbability, threshold                                  float64
		duplicate, followUp                                        uint8
		attachments, warnings                                      uint32
		receivedAt, decidedAt, insertedAt                          time.Time
		decidedMs, sinkMs                                          int64
	)
	err := db.conn.QueryRow(ctx, fmt.Sprintf(`SELECT event_id, tenant, queue, reason_kind, model_version, top_label,
		tags, pii_kinds, pii_counts, pii_total, version, top_probability, threshold, duplicate, follow_up,
		attachments, warnings, received_at, decided_at, inserted_at, decided_ms, sink_ms FROM %s`, db.qualified())).
		Scan(&eventID, &tenant, &queue, &reasonKind, &modelVersion, &topLabel, &tags, &piiKinds, &piiCounts, &piiTotal,
			&version, &topProbability, &threshold, &duplicate, &followUp, &attachments, &warnings,
			&receivedAt, &decidedAt, &insertedAt, &decidedMs, &sinkMs)
	if err != nil {
		t.Fatalf("reading the row: %v", err)
	}

	checks := []struct {
		name     string
		got, exp any
	}{
		{"event_id", eventID, ev.EventID},
		{"tenant", tenant, "acme"},
		{"queue", queue, "sales"},
		{"reason_kind", reasonKind, schemas.ReasonModel},
		{"model_version", modelVersion, "m1"},
		{"top_label", topLabel, "billing"},
		{"top_probability", topProbability, 0.7},
		{"threshold", threshold, 0.6},
		{"tags", fmt.Sprint(tags), "[tag2]"},
		{"pii_kinds", fmt.Sprint(piiKinds), "[email phone]"},
		{"pii_counts", fmt.Sprint(piiCounts), "[1 2]"},
		{"pii_total", piiTotal, uint64(3)},
		{"version", version, uint64(ev.DecidedAt.UnixMilli())},
		{"duplicate", duplicate, uint8(0)},
		{"follow_up", followUp, uint8(0)},
		{"attachments", attachments, uint32(2)},
		{"warnings", warnings, uint32(0)},
		{"received_at", receivedAt.Unix(), ev.ReceivedAt.Unix()},
		{"decided_at", decidedAt.Unix(), ev.DecidedAt.Unix()},
		{"decided_ms", decidedMs, int64(3)},
	}
	for _, c := range checks {
		if c.got != c.exp {
			t.Errorf("%s: got %v, expected %v", c.name, c.got, c.exp)
		}
	}
	// The event was received in 2025 and inserted now, so sink_ms is the
	// age of the event at insert time.
	if expected := insertedAt.Sub(ev.ReceivedAt).Milliseconds(); sinkMs < expected-1000 || sinkMs > expected+1000 {
		t.Errorf("sink_ms: got %d, expected inserted_at - received_at = %d within the 1s precision of inserted_at", sinkMs, expected)
	}
}

func TestSinkReplayKeepsOneRowPerEvent(t *testing.T) {
	const n = 300
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	produce(ctx, t, newClient(t, brokers), eventRecords(t, "acme", 0, n))

	first := startSink(t, testConfig(db, brokers, "replay-first", nil))
	waitForFinalCount(ctx, t, db, n)
	first.stop(t)

	// A second group reads the topic from the start, as an operator's
	// replay does.
	second := startSink(t, testConfig(db, brokers, "replay-second", nil))
	waitFor(ctx, t, "the replay to insert every row again", func() (bool, string) {
		st := second.Stats()
		return st.Rows == n, fmt.Sprintf("%d rows inserted", st.Rows)
	})
	second.stop(t)

	if got := db.finalCount(ctx, t); got != n {
		t.Errorf("count with FINAL after the replay: got %d, expected %d", got, n)
	}
	if got := db.argMaxCount(ctx, t); got != n {
		t.Errorf("count of argMax groups after the replay: got %d, expected %d", got, n)
	}
	perQueue, err := db.queries(t).DecisionsPerQueue(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, q := range perQueue {
		total += q.Decisions
	}
	if expected := uint64(n - n/10); total != expected {
		t.Errorf("decisions per queue after the replay sum to %d, expected the %d non-duplicates", total, expected)
	}
}

func TestSinkInsertedThenCrashed(t *testing.T) {
	const n = 200
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	produce(ctx, t, newClient(t, brokers), eventRecords(t, "acme", 0, n))

	// The first sink inserts one batch of everything, then fails before it
	// commits, as a crash at that point would.
	crash := errors.New("simulated crash after the insert")
	cfg := testConfig(db, brokers, "crash-after-insert", nil)
	cfg.BatchRows = n
	cfg.BatchWait = time.Minute
	first := startSink(t, cfg, func(s *Sink) { s.afterInsert = func() error { return crash } })
	select {
	case err := <-first.done:
		if !errors.Is(err, crash) {
			t.Fatalf("Run: got %v, expected the simulated crash", err)
		}
		first.done <- err
	case <-ctx.Done():
		t.Fatal("timed out waiting for the simulated crash")
	}
	first.Close()
	if got := db.finalCount(ctx, t); got != n {
		t.Fatalf("rows after the first insert: got %d, expected %d", got, n)
	}

	adm := kadm.NewClient(newClient(t, brokers))
	if ok, state := committedAll(ctx, t, adm, cfg.Group, topics.Analytics); ok {
		t.Fatalf("offsets were committed before the crash: %s", state)
	}

	// The restarted sink reads the same records, inserts them again, and
	// the table still counts each event once.
	second := startSink(t, testConfig(db, brokers, cfg.Group, nil))
	waitFor(ctx, t, "the restarted sink to commit", func() (bool, string) {
		return committedAll(ctx, t, adm, cfg.Group, topics.Analytics)
	})
	second.stop(t)

	if st := second.Stats(); st.Rows != n {
		t.Errorf("rows inserted after the restart: got %d, expected the %d of the uncommitted batch", st.Rows, n)
	}
	if got := db.finalCount(ctx, t); got != n {
		t.Errorf("count with FINAL: got %d, expected %d", got, n)
	}
	if got := db.argMaxCount(ctx, t); got != n {
		t.Errorf("count of argMax groups: got %d, expected %d", got, n)
	}
}

func TestSinkFlushesBySize(t *testing.T) {
	const batchRows = 100
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	producer := newClient(t, brokers)

	// BatchWait is far longer than the test, so only the size rule flushes.
	cfg := testConfig(db, brokers, "flush-size", nil)
	cfg.BatchRows = batchRows
	cfg.BatchWait = 10 * time.Minute
	sink := startSink(t, cfg)

	// The rows reach ClickHouse before the sink counts the batch, so the
	// statistics are waited for too.
	produce(ctx, t, producer, eventRecords(t, "acme", 0, 250))
	waitForFinalCount(ctx, t, db, 200)
	waitForStats(ctx, t, sink, 200)
	if st := sink.Stats(); st.Batches != 2 || st.Rows != 200 {
		t.Errorf("after 250 records: %d batches of %d rows, expected 2 batches of 200 rows", st.Batches, st.Rows)
	}

	produce(ctx, t, producer, eventRecords(t, "acme", 250, 300))
	waitForFinalCount(ctx, t, db, 300)
	waitForStats(ctx, t, sink, 300)
	if st := sink.Stats(); st.Batches != 3 || st.Rows != 300 {
		t.Errorf("after 300 records: %d batches of %d rows, expected 3 batches of 300 rows", st.Batches, st.Rows)
	}
}

func TestSinkFlushesByTime(t *testing.T) {
	const n = 37
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// BatchRows is far above what the test produces, so only the time rule
	// flushes.
	cfg := testConfig(db, brokers, "flush-time", nil)
	cfg.BatchRows = 100_000
	cfg.BatchWait = 200 * time.Millisecond
	sink := startSink(t, cfg)

	produce(ctx, t, newClient(t, brokers), eventRecords(t, "acme", 0, n))
	waitForFinalCount(ctx, t, db, n)
	if st := sink.Stats(); st.Rows != n || st.Batches < 1 {
		t.Errorf("stats: %d rows in %d batches, expected %d rows in at least one batch", st.Rows, st.Batches, n)
	}
}

func TestSinkFlushesOnStop(t *testing.T) {
	const n = 40
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produce(ctx, t, newClient(t, brokers), eventRecords(t, "acme", 0, n))

	// Neither rule flushes during the test, so only the drain on stop does.
	cfg := testConfig(db, brokers, "flush-stop", nil)
	cfg.BatchRows = 100_000
	cfg.BatchWait = 10 * time.Minute
	sink := startSink(t, cfg)
	waitFor(ctx, t, "the sink to poll every record", func() (bool, string) {
		st := sink.Stats()
		return st.Records == n, fmt.Sprintf("%d records polled", st.Records)
	})
	if got := sink.Stats().Rows; got != 0 {
		t.Fatalf("rows inserted before stop: got %d, expected 0 because no flush rule applies", got)
	}

	if err := sink.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := db.finalCount(ctx, t); got != n {
		t.Errorf("rows after stop: got %d, expected %d", got, n)
	}
	adm := kadm.NewClient(newClient(t, brokers))
	if ok, state := committedAll(ctx, t, adm, cfg.Group, topics.Analytics); !ok {
		t.Errorf("offsets after stop: %s; expected all committed", state)
	}
}

// readDeadLetters consumes n records from the dead-letter topic.
func readDeadLetters(ctx context.Context, t *testing.T, brokers []string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, brokers, kgo.ConsumeTopics(topics.DLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d dead letters before the timeout", len(out), n)
		}
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// waitForStats waits until the sink has counted rows inserted rows.
func waitForStats(ctx context.Context, t *testing.T, sink *runningSink, rows int64) {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("the sink to count %d rows", rows), func() (bool, string) {
		st := sink.Stats()
		return st.Rows >= rows, fmt.Sprintf("%d rows in %d batches", st.Rows, st.Batches)
	})
}
