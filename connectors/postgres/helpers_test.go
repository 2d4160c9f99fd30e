package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const testPartitions = 3

// randomSuffix returns 8 random hex digits for names of test schemas,
// databases and topics.
func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// withParam returns dsn with the connection parameter name set to value,
// for both URL and key=value DSNs.
func withParam(t testing.TB, dsn, name, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parsing the test DSN: %v", err)
		}
		q := u.Query()
		q.Set(name, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + name + "=" + value
}

// withDatabase returns dsn pointing at database name.
func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parsing the test DSN: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// newPool opens a pool on dsn that the test closes at cleanup.
func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testSchema creates a schema of its own for the test, dropped at
// cleanup, and returns a DSN whose search_path puts the sink's tables
// there.
func testSchema(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresDSN(t)
	schema := "sinktest_" + randomSuffix(t)
	admin := newPool(t, base)
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return withParam(t, base, "search_path", schema)
}

// startKafka starts an in-process kfake broker with the tickets and DLQ
// topics.
func startKafka(t testing.TB) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(testPartitions))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	createTopics(t, brokers, topics.Tickets, topics.DLQ)
	return brokers
}

// createTopics creates each topic with testPartitions partitions.
func createTopics(t testing.TB, brokers []string, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := newAdmin(t, brokers)
	resp, err := adm.CreateTopics(ctx, testPartitions, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("creating topics %v: %v", names, err)
	}
}

func newAdmin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the admin client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// command returns a TicketCommand for ticket ref of tenant with a message
// numbered n. Its event ID and message ID follow from ref, action and n.
func command(tenant, ref, action string, n int) schemas.TicketCommand {
	id := fmt.Sprintf("%s-%s-%d", ref, action, n)
	return schemas.TicketCommand{
		EventID:    "ev-" + id,
		Tenant:     tenant,
		Action:     action,
		TicketRef:  ref,
		MessageID:  id + "@example.test",
		Queue:      "billing",
		Priority:   "normal",
		Tags:       []string{"invoice"},
		Requester:  schemas.Address{Name: "Customer", Address: "customer@example.test"},
		Subject:    "Invoice question " + ref,
		Text:       "text of " + id,
		ReplyText:  "reply text of " + id,
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute),
		Reason:     schemas.Reason{Kind: schemas.ReasonRule, RuleID: "billing-1", RulesetVersion: "rs-7"},
		Attachments: []schemas.Attachment{{
			Filename: "invoice.pdf", ContentType: "application/pdf", Size: 1234,
			SHA256: "ab12", StorageKey: "att/" + id,
		}},
		Raw: &schemas.BlobRef{Key: "raw/" + id, SHA256: "cd34", Size: 4321},
	}
}

// commandRecord encodes cmd as a record of topic, keyed tenant/ticketRef
// as the processor keys it.
func commandRecord(t testing.TB, topic string, cmd schemas.TicketCommand) *kgo.Record {
	t.Helper()
	value, err := schemas.Marshal(&cmd)
	if err != nil {
		t.Fatalf("encoding command %s: %v", cmd.EventID, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(cmd.Tenant + "/" + cmd.TicketRef), Value: value}
}

// produce writes records in order with an idempotent producer.
func produce(t testing.TB, brokers []string, records ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d records: %v", len(records), err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig returns a sink config for the test's database and brokers
// with short backoffs and a JSON logger writing to logs.
func testConfig(dsn string, brokers []string, logs *syncBuffer) Config {
	return Config{
		DSN:        dsn,
		KafkaOpts:  []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:      "sink-test",
		BatchSize:  100,
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond,
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// runSink starts a sink with cfg in a goroutine and returns a function
// that stops it and returns Run's error.
func runSink(t testing.TB, cfg Config) (stop func() error) {
	t.Helper()
	sink, err := New(cfg)
	if err != nil {
		t.Fatalf("creating the sink: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()

	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("Run did not return within 30s of cancel")
			}
			sink.Close()
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond every 50 ms until it returns true or timeout passes,
// and fails the test with what in the second case.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
}

// count runs a query that returns one integer.
func count(t testing.TB, pool *pgxpool.Pool, query string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// storedTotal returns the sum of the stored next offsets of group, or an
// error while the table does not exist yet.
func storedTotal(pool *pgxpool.Pool, group string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int64
	err := pool.QueryRow(ctx, `SELECT COALESCE(SUM(next_offset), 0) FROM consumer_offsets WHERE consumer_group = $1`, group).Scan(&n)
	return n, err
}

// waitApplied waits until the stored offsets of group add up to records,
// the number of records produced to the sink's topic.
func waitApplied(t testing.TB, pool *pgxpool.Pool, group string, records int64, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("stored offsets of %s to reach %d", group, records), func() (bool, error) {
		n, err := storedTotal(pool, group)
		return err == nil && n == records, err
	})
}
