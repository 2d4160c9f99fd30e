package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/postgres"
	"mailtriage/connectors/slack"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// runTopics are the processor topics that one test owns: its inbound
// topic and the changelog and thread index that back the processor's
// state. The output topics and the DLQ are the shared ones.
type runTopics struct {
	inbound, changelog, threads string
}

// createRunTopics creates the test's own inbound, changelog and thread
// index topics with testPartitions partitions, deleted at cleanup. A
// topic of its own keeps the processor off the records of other tests,
// and an offset reset of the test's group off theirs.
func createRunTopics(ctx context.Context, t testing.TB, adm *kadm.Client, prefix string) runTopics {
	t.Helper()
	names := runTopics{
		inbound:   prefix + ".inbound",
		changelog: prefix + ".changelog",
		threads:   prefix + ".threads",
	}
	compact := "compact"
	specs := []struct {
		name    string
		configs map[string]*string
	}{
		{names.inbound, nil},
		{names.changelog, map[string]*string{"cleanup.policy": &compact}},
		{names.threads, map[string]*string{"cleanup.policy": &compact}},
	}
	for _, s := range specs {
		resp, err := adm.CreateTopic(ctx, testPartitions, 1, s.configs, s.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s: %v", s.name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, names.inbound, names.changelog, names.threads); err != nil {
			t.Errorf("deleting the test topics %s.*: %v", prefix, err)
		}
	})
	return names
}

// startChainRunner runs the exactly-once processor on the test's topics with
// chain until the returned stop is called (also at cleanup). stop leaves
// the consumer group, so an offset reset can follow.
func startChainRunner(t testing.TB, brokers []string, tt runTopics, group string, chain processors.Chain) (stop func()) {
	t.Helper()
	r, err := runner.New(runner.Config{
		Brokers:         brokers,
		Group:           group,
		TransactionalID: group + "-txn",
		InputTopic:      tt.inbound,
		ChangelogTopic:  tt.changelog,
		GlobalTopic:     tt.threads,
		Chain:           chain,
		Outputs:         processors.Outputs,
		Logger:          testLogger(t, "processor"),
		RestoreTimeout:  time.Minute,
	})
	if err != nil {
		t.Fatalf("creating the runner: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runner Run returned %v, expected nil after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("runner Run did not return within 30s of cancel")
		}
		r.Close()
	}
	t.Cleanup(stop)
	return stop
}

// testLogger writes WARN and above through t.Log, so a failing test shows
// the components' errors.
func testLogger(t testing.TB, component string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", component)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// runSink runs a sink's Run until cleanup and fails the test when it
// stops early with an error.
func runSink(t testing.TB, name string, run func(context.Context) error, closeFn func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s sink Run returned %v, expected nil after cancel", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s sink Run did not return within 30s of cancel", name)
		}
		closeFn()
	})
}

// startTicketSink migrates the test schema of pool, sets the sink's
// stored offsets to the current end of the tickets topic and runs the
// sink as group.
func startTicketSink(ctx context.Context, t testing.TB, adm *kadm.Client, brokers []string, dsn string, pool *pgxpool.Pool, group string) {
	t.Helper()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating the test schema: %v", err)
	}
	next := map[int32]int64{}
	endOffsets(ctx, t, adm, topics.Tickets).Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
	if err := postgres.SeedOffsets(ctx, pool, group, topics.Tickets, next); err != nil {
		t.Fatal(err)
	}
	sink, err := postgres.New(postgres.Config{
		DSN:       dsn,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:     group,
		Logger:    testLogger(t, "sink-postgres"),
	})
	if err != nil {
		t.Fatalf("creating the PostgreSQL sink: %v", err)
	}
	runSink(t, "postgres", sink.Run, sink.Close)
}

// startSlackSink runs the Slack sink as group from the current end of the
// notifications topic, posting the tenant's notifications to webhook with
// its delivery ledger in the current schema of pool.
func startSlackSink(ctx context.Context, t testing.TB, adm *kadm.Client, brokers []string, pool *pgxpool.Pool, schema, group, tenant, webhook string) {
	t.Helper()
	if err := slack.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("migrating the Slack ledger: %v", err)
	}
	seedGroup(ctx, t, adm, group, endOffsets(ctx, t, adm, topics.Notifications))
	sink, err := slack.New(slack.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:      group,
		Webhooks:   slack.Webhooks{Tenants: map[string]string{tenant: webhook}},
		Ledger:     slack.NewPostgresLedger(pool, schema),
		Logger:     testLogger(t, "sink-slack"),
	})
	if err != nil {
		t.Fatalf("creating the Slack sink: %v", err)
	}
	runSink(t, "slack", sink.Run, sink.Close)
}

// startClickHouseSink runs the ClickHouse sink as group from the current
// end of the analytics topic into database.table.
func startClickHouseSink(ctx context.Context, t testing.TB, adm *kadm.Client, brokers []string, addr, database, table, group string) {
	t.Helper()
	seedGroup(ctx, t, adm, group, endOffsets(ctx, t, adm, topics.Analytics))
	sink, err := clickhouse.New(clickhouse.Config{
		Addr:      addr,
		Database:  database,
		Table:     table,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:     group,
		Logger:    testLogger(t, "sink-clickhouse"),
	})
	if err != nil {
		t.Fatalf("creating the ClickHouse sink: %v", err)
	}
	runSink(t, "clickhouse", sink.Run, func() { _ = sink.Close() })
}

// produceToPartition writes each email to partition of topic, keyed
// tenant/messageId, and returns the offsets they got, in order.
func produceToPartition(ctx context.Context, t testing.TB, brokers []string, topic string, partition int32, values [][]byte, keys []string) []int64 {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	records := make([]*kgo.Record, len(values))
	for i := range values {
		records[i] = &kgo.Record{Topic: topic, Partition: partition, Key: []byte(keys[i]), Value: values[i]}
	}
	results := client.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		t.Fatalf("producing %d records to %s: %v", len(records), topic, err)
	}
	offsets := make([]int64, len(results))
	for i, r := range results {
		offsets[i] = r.Record.Offset
	}
	return offsets
}

// encodeEmail returns the Avro single-object encoding of e.
func encodeEmail(t testing.TB, e *schemas.InboundEmail) []byte {
	t.Helper()
	value, err := schemas.Marshal(e)
	if err != nil {
		t.Fatalf("encoding %s: %v", e.MessageID, err)
	}
	return value
}

// waitGroupAt waits until group has committed, in every partition of
// topic, at least the offsets of end.
func waitGroupAt(ctx context.Context, t testing.TB, adm *kadm.Client, group, topic string, end kadm.ListedOffsets) {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("group %s to reach the end of %s", group, topic), func() (bool, string) {
		sum, caughtUp, err := groupCommitted(ctx, adm, group, topic, end)
		if err != nil {
			return false, err.Error()
		}
		return caughtUp, fmt.Sprintf("%d offsets committed in total", sum)
	})
}

// ticketCount returns the number of tickets of tenant.
func ticketCount(ctx context.Context, t testing.TB, pool *pgxpool.Pool, tenant string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE tenant = $1`, tenant).Scan(&n); err != nil {
		t.Fatalf("counting the tickets of %s: %v", tenant, err)
	}
	return n
}

// ticketsOf returns the number of tickets of tenant opened by message id.
func ticketsOf(ctx context.Context, t testing.TB, pool *pgxpool.Pool, tenant, messageID string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE tenant = $1 AND external_id = $2`, tenant, messageID).Scan(&n); err != nil {
		t.Fatalf("counting the tickets of a message: %v", err)
	}
	return n
}

// sum adds the offsets of every partition in offsets.
func sum(offsets kadm.ListedOffsets) int64 {
	var total int64
	offsets.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total
}

// sinkCaughtUp reports whether the PostgreSQL sink group stored at
// least the offsets of target in the tickets topic.
func sinkCaughtUp(ctx context.Context, t testing.TB, pool *pgxpool.Pool, group string, target map[int32]int64) (bool, string) {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`, group, topics.Tickets)
	if err != nil {
		return false, err.Error()
	}
	stored := map[int32]int64{}
	for rows.Next() {
		var p int32
		var next int64
		if err := rows.Scan(&p, &next); err != nil {
			rows.Close()
			return false, err.Error()
		}
		stored[p] = next
	}
	rows.Close()
	for p, want := range target {
		if stored[p] < want {
			return false, fmt.Sprintf("stored %v, expected at least %v", stored, target)
		}
	}
	return true, ""
}

// deleteTopicsAtCleanup deletes the named topics at cleanup, where they
// exist.
func deleteTopicsAtCleanup(t testing.TB, adm *kadm.Client, names ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			t.Errorf("deleting topics %v: %v", names, err)
		}
	})
}

// dataEnds returns, per partition of topic, the offset after the last
// data record between the offsets of from and to. It differs from the
// end offset when a transaction marker ends the partition, because a
// consumer commits the position after the last record it returned.
func dataEnds(ctx context.Context, t testing.TB, brokers []string, topic string, from, to kadm.ListedOffsets) map[int32]int64 {
	t.Helper()
	target := map[int32]int64{}
	for _, rec := range readRange(ctx, t, brokers, topic, from, to) {
		target[rec.Partition] = max(target[rec.Partition], rec.Offset+1)
	}
	return target
}

// waitCommitted waits until group has committed at least the offsets of
// target in topic.
func waitCommitted(ctx context.Context, t testing.TB, adm *kadm.Client, group, topic string, target map[int32]int64) {
	t.Helper()
	waitFor(ctx, t, fmt.Sprintf("group %s to process %s", group, topic), func() (bool, string) {
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		for p, want := range target {
			committed, ok := resp.Lookup(topic, p)
			if !ok || committed.Err != nil || committed.At < want {
				return false, fmt.Sprintf("partition %d committed %d of %d", p, committed.At, want)
			}
		}
		return true, ""
	})
}
