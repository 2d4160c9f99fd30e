package clickhouse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const testPartitions = 3

// baseTime is the receivedAt of event 0 in testEvent.
var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testDB is a ClickHouse connection and a table name that no other test
// uses.
type testDB struct {
	addr     string
	conn     driver.Conn
	database string
	table    string
}

// newTestDB connects to the ClickHouse of the local stack and picks a table
// named after the test in the stack's test database. The table is dropped
// when the test ends.
func newTestDB(t *testing.T) *testDB {
	t.Helper()
	addr := testenv.ClickHouseAddr(t)
	database := testenv.Get(t, testenv.EnvClickHouseDB)

	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second, ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("opening ClickHouse at %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })

	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	db := &testDB{addr: addr, conn: conn, database: database, table: fmt.Sprintf("t_%s_%06d", name, rand.N(1_000_000))}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tables := db.tables()
		for _, table := range []string{tables.Decisions, tables.Feedback, tables.TicketEvents, tables.DeadLetters} {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+qualifiedName(db.database, table)); err != nil {
				t.Logf("dropping %s: %v", qualifiedName(db.database, table), err)
			}
		}
	})
	return db
}

func (db *testDB) qualified() string { return qualifiedName(db.database, db.table) }

// tables returns the four tables of the test: the decisions table and the
// others named after it.
func (db *testDB) tables() Tables { return eventTablesOf(db.table) }

// eventTablesOf returns decisions and the names of the other three tables
// of a test that uses decisions as its decisions table.
func eventTablesOf(decisions string) Tables {
	return Tables{Decisions: decisions, Feedback: decisions + "_fb", TicketEvents: decisions + "_te", DeadLetters: decisions + "_dl"}
}

func (db *testDB) queries(t *testing.T) *Queries {
	t.Helper()
	q, err := NewQueries(db.conn, db.database, db.table)
	if err != nil {
		t.Fatalf("NewQueries: %v", err)
	}
	return q
}

// queryUint runs a query that returns one UInt64 value.
func (db *testDB) queryUint(ctx context.Context, t *testing.T, query string) uint64 {
	t.Helper()
	var n uint64
	if err := db.conn.QueryRow(ctx, fmt.Sprintf(query, db.qualified())).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// finalCount counts the rows of the table after collapsing copies.
func (db *testDB) finalCount(ctx context.Context, t *testing.T) uint64 {
	t.Helper()
	return db.queryUint(ctx, t, "SELECT count() FROM %s FINAL")
}

// argMaxCount counts the events of the table by grouping on the key, as
// argMax queries do.
func (db *testDB) argMaxCount(ctx context.Context, t *testing.T) uint64 {
	t.Helper()
	return db.queryUint(ctx, t, "SELECT count() FROM (SELECT tenant, event_id, argMax(version, version) AS v FROM %s GROUP BY tenant, event_id)")
}

// rawCount counts the stored rows, copies included.
func (db *testDB) rawCount(ctx context.Context, t *testing.T) uint64 {
	t.Helper()
	return db.queryUint(ctx, t, "SELECT count() FROM %s")
}

// tableExists reports whether the test table exists yet.
func (db *testDB) tableExists(ctx context.Context, t *testing.T) bool {
	t.Helper()
	var n uint64
	err := db.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db.database, db.table).Scan(&n)
	if err != nil {
		t.Fatalf("looking up %s in system.tables: %v", db.qualified(), err)
	}
	return n == 1
}

// waitFor polls cond every 20ms until it returns true, and fails the test
// with what cond last described when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; last state: %s", what, state)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitForFinalCount waits until the table holds want events after
// collapsing copies. Query errors count as not yet, because the table may
// not exist yet or the server may be restarting.
func waitForFinalCount(ctx context.Context, t *testing.T, db *testDB, want uint64) {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("%d rows in %s FINAL", want, db.qualified()), func() (bool, string) {
		got, err := countRows(ctx, db, "SELECT count() FROM %s FINAL")
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("%d rows", got)
	})
}

// startKafka starts an in-process kfake broker with the topics that the
// sink consumes.
func startKafka(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, topics.Analytics, topics.DLQ, topics.Feedback, topics.TicketEvents))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func newClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("creating a Kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testEvent returns decision number i of tenant. Every field follows from
// tenant and i: the queue cycles over three names, the reason over rule,
// rule, model and fallback, and every tenth event is a duplicate.
func testEvent(tenant string, i int) schemas.DecisionEvent {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", tenant, i)))
	received := baseTime.Add(time.Duration(i) * time.Second)
	ev := schemas.DecisionEvent{
		EventID:      hex.EncodeToString(sum[:]),
		Tenant:       tenant,
		MessageID:    fmt.Sprintf("m%05d@example.test", i),
		TicketRef:    fmt.Sprintf("T-%05d", i),
		Queue:        []string{"billing", "support", "sales"}[i%3],
		Priority:     "normal",
		Tags:         []string{"tag" + fmt.Sprint(i%5)},
		Source:       schemas.SourceImport,
		SenderDomain: "example.test",
		Subject:      "subject " + fmt.Sprint(i),
		Attachments:  int32(i % 4),
		Warnings:     int32(i % 2),
		PII:          map[string]int32{"phone": int32(i % 3), "email": 1},
		ReceivedAt:   received,
		DecidedAt:    received.Add(time.Duration(i%100+1) * time.Millisecond),
	}
	switch i % 4 {
	case 0, 1:
		ev.Reason = schemas.Reason{Kind: schemas.ReasonRule, RuleID: "r" + fmt.Sprint(i%7), RulesetVersion: "v3"}
	case 2:
		ev.Reason = schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "m1", Threshold: 0.6,
			TopLabels: []schemas.LabelScore{{Label: "billing", Probability: 0.7}, {Label: "sales", Probability: 0.2}}}
	default:
		ev.Reason = schemas.Reason{Kind: schemas.ReasonFallback, RulesetVersion: "v3"}
	}
	if i%10 == 9 {
		ev.Duplicate = true
		ev.Queue = ""
		ev.Reason = schemas.Reason{}
	}
	return ev
}

// eventRecord encodes ev as a record of the analytics topic.
func eventRecord(t *testing.T, ev schemas.DecisionEvent) *kgo.Record {
	t.Helper()
	value, err := schemas.Marshal(&ev)
	if err != nil {
		t.Fatalf("encoding event %s: %v", ev.EventID, err)
	}
	return &kgo.Record{Topic: topics.Analytics, Key: []byte(ev.Tenant + "/" + ev.MessageID), Value: value}
}

// eventRecords returns the records of events from..to-1 of tenant.
func eventRecords(t *testing.T, tenant string, from, to int) []*kgo.Record {
	t.Helper()
	out := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, eventRecord(t, testEvent(tenant, i)))
	}
	return out
}

// produce writes records without a transaction and fails the test on the
// first error.
func produce(ctx context.Context, t *testing.T, cl *kgo.Client, records []*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(records), err)
	}
}

// produceInTransaction writes records in one transaction that commits when
// commit is true and aborts otherwise.
func produceInTransaction(ctx context.Context, t *testing.T, cl *kgo.Client, records []*kgo.Record, commit bool) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("beginning a transaction: %v", err)
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d records in a transaction: %v", len(records), err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("ending the transaction (commit %v): %v", commit, err)
	}
}

// committedAll reports whether group has committed the end offset of every
// partition of topic. It only holds for topics written without
// transactions, whose end offsets follow the last record.
func committedAll(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) (bool, string) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetching the offsets of group %s: %v", group, err)
	}
	var state []string
	ok := true
	ends.Each(func(end kadm.ListedOffset) {
		c, found := committed.Lookup(topic, end.Partition)
		at := int64(-1)
		if found {
			at = c.At
		}
		if at != end.Offset {
			ok = false
		}
		state = append(state, fmt.Sprintf("p%d committed %d of %d", end.Partition, at, end.Offset))
	})
	return ok, strings.Join(state, ", ")
}

// testConfig returns a sink configuration for db and brokers with short
// retry delays.
func testConfig(db *testDB, brokers []string, group string, logger *slog.Logger) Config {
	return Config{
		Addr:              db.addr,
		Database:          db.database,
		Table:             db.table,
		KafkaOpts:         []kgo.Opt{kgo.SeedBrokers(brokers...)},
		FeedbackTable:     db.tables().Feedback,
		TicketEventsTable: db.tables().TicketEvents,
		DeadLettersTable:  db.tables().DeadLetters,
		Group:             group,
		RetryMin:          20 * time.Millisecond,
		RetryMax:          300 * time.Millisecond,
		DialTimeout:       time.Second,
		QueryTimeout:      10 * time.Second,
		Logger:            logger,
	}
}

// runningSink is a Sink whose Run runs in a goroutine of the test.
type runningSink struct {
	*Sink
	cancel context.CancelFunc
	done   chan error
}

// startSink creates a sink from cfg and runs it until stop or the end of
// the test.
func startSink(t *testing.T, cfg Config, configure ...func(*Sink)) *runningSink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, f := range configure {
		f(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningSink{Sink: s, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- s.Run(ctx) }()
	t.Cleanup(func() { rs.stop(t) })
	return rs
}

// stop cancels Run, waits up to 30s for it to return, closes the sink and
// returns the error of Run.
func (rs *runningSink) stop(t *testing.T) error {
	t.Helper()
	rs.cancel()
	var err error
	select {
	case err = <-rs.done:
		rs.done <- err // a second stop returns the same error
	case <-time.After(30 * time.Second):
		t.Fatalf("sink did not stop within 30s of cancellation")
	}
	rs.Close()
	return err
}

// logBuffer collects the JSON lines of a slog logger; it is safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// entries returns the decoded log lines whose msg is msg.
func (b *logBuffer) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal(line, &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if entry["msg"] == msg {
			out = append(out, entry)
		}
	}
	return out
}
