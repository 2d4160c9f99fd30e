package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// testPartitions is the partition count of the topics the tests create.
// The output topics on the shared broker have 3, so the tests use 3 too.
const testPartitions = 3

// randomSuffix returns 8 random hex digits for tenants, groups, schemas
// and tables of one run.
func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// newAdmin returns an admin client of brokers, closed at cleanup.
func newAdmin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the Kafka admin client: %v", err)
	}
	t.Cleanup(client.Close)
	return kadm.NewClient(client)
}

// ensureTopics creates the topology's topics that are missing.
func ensureTopics(ctx context.Context, t testing.TB, adm *kadm.Client) {
	t.Helper()
	if err := topics.Ensure(ctx, adm, topics.Specs(testPartitions, 1)); err != nil {
		t.Fatalf("ensuring the topics: %v", err)
	}
}

// endOffsets lists the end offsets (high watermarks) of the topics.
func endOffsets(ctx context.Context, t testing.TB, adm *kadm.Client, names ...string) kadm.ListedOffsets {
	t.Helper()
	offsets, err := adm.ListEndOffsets(ctx, names...)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatalf("listing the end offsets of %v: %v", names, err)
	}
	return offsets
}

// stableOffsets lists the last stable offsets of the topics once every
// transaction written before the call is committed or aborted. The
// coordinator writes commit markers to the output partitions after the
// group's offsets become visible, so it waits for the stable offsets to
// reach the end offsets listed first.
func stableOffsets(ctx context.Context, t testing.TB, adm *kadm.Client, names ...string) kadm.ListedOffsets {
	t.Helper()
	ends := endOffsets(ctx, t, adm, names...)
	var stable kadm.ListedOffsets
	waitFor(ctx, t, fmt.Sprintf("the transactions open on %v to be decided", names), func() (bool, string) {
		offsets, err := adm.ListCommittedOffsets(ctx, names...)
		if err == nil {
			err = offsets.Error()
		}
		if err != nil {
			return false, fmt.Sprintf("listing the last stable offsets: %v", err)
		}
		stable = offsets
		return behindEnds(stable, ends)
	})
	return stable
}

// behindEnds reports whether stable has reached ends on every partition,
// and otherwise names the first partition that has not.
func behindEnds(stable, ends kadm.ListedOffsets) (bool, string) {
	state := ""
	ends.Each(func(end kadm.ListedOffset) {
		got, ok := stable.Lookup(end.Topic, end.Partition)
		if state == "" && (!ok || got.Offset < end.Offset) {
			state = fmt.Sprintf("%s[%d] stable at %d, end %d", end.Topic, end.Partition, got.Offset, end.Offset)
		}
	})
	return state == "", state
}

// seedGroup commits offsets for a group that has none, so that it starts
// there instead of at the start of the log.
func seedGroup(ctx context.Context, t testing.TB, adm *kadm.Client, group string, offsets kadm.ListedOffsets) {
	t.Helper()
	if err := adm.CommitAllOffsets(ctx, group, offsets.Offsets()); err != nil {
		t.Fatalf("seeding the offsets of group %s: %v", group, err)
	}
}

// readRange reads topic read_committed from the offsets in from up to
// those in to, control records included so that the end is found even
// when it is a transaction marker. It returns the data records.
func readRange(ctx context.Context, t testing.TB, brokers []string, topic string, from, to kadm.ListedOffsets) []*kgo.Record {
	t.Helper()
	start := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition → offset of its last record to read
	from.Each(func(o kadm.ListedOffset) {
		if o.Topic != topic {
			return
		}
		end, ok := to.Lookup(topic, o.Partition)
		if !ok || end.Offset <= o.Offset {
			return
		}
		start[o.Partition] = kgo.NewOffset().At(o.Offset)
		remaining[o.Partition] = end.Offset - 1
	})
	if len(remaining) == 0 {
		return nil
	}

	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
	)
	if err != nil {
		t.Fatalf("creating a consumer of %s: %v", topic, err)
	}
	defer client.Close()

	var out []*kgo.Record
	for len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d partitions not read to the end before the timeout: %v", topic, len(remaining), remaining)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("reading %s partition %d: %v", topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			last, ok := remaining[rec.Partition]
			if !ok || rec.Offset > last {
				return
			}
			if !rec.Attrs.IsControl() {
				out = append(out, rec)
			}
			if rec.Offset == last {
				delete(remaining, rec.Partition)
			}
		})
	}
	return out
}

// tenantRecords keeps the records whose key starts with tenant + "/".
func tenantRecords(records []*kgo.Record, tenant string) []*kgo.Record {
	var out []*kgo.Record
	for _, rec := range records {
		if strings.HasPrefix(string(rec.Key), tenant+"/") {
			out = append(out, rec)
		}
	}
	return out
}

// decodeAll decodes every record value into a T with serde.
func decodeAll[T any](t testing.TB, serde *schemas.Serde, records []*kgo.Record) []T {
	t.Helper()
	out := make([]T, 0, len(records))
	for _, rec := range records {
		var v T
		if err := serde.Decode(rec.Value, &v); err != nil {
			t.Fatalf("decoding %s partition %d offset %d: %v", rec.Topic, rec.Partition, rec.Offset, err)
		}
		out = append(out, v)
	}
	return out
}

// testSchemaDSN creates a PostgreSQL schema for the test, dropped at
// cleanup, and returns a DSN whose search_path puts every table there.
func testSchemaDSN(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := testenv.PostgresDSN(t)
	schema = "e2e_" + randomSuffix(t)
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

	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL for this test", testenv.EnvPostgresDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// newPool opens a pool on dsn that is closed at cleanup.
func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("opening a PostgreSQL pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// testClickHouse returns a connection to the stack's ClickHouse, the
// test database and a table name of the test's own, dropped at cleanup.
func testClickHouse(t testing.TB) (conn driver.Conn, addr, database, table string) {
	t.Helper()
	addr = testenv.ClickHouseAddr(t)
	database = testenv.Get(t, testenv.EnvClickHouseDB)
	table = "e2e_decisions_" + randomSuffix(t)

	conn, err := ch.Open(&ch.Options{Protocol: ch.Native, Addr: []string{addr}})
	if err != nil {
		t.Fatalf("connecting to ClickHouse at %s: %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", database, table)); err != nil {
			t.Errorf("dropping ClickHouse table %s.%s: %v", database, table, err)
		}
		conn.Close()
	})
	return conn, addr, database, table
}

// waitFor polls cond every 200 ms until it returns true, failing t with
// the last state when ctx ends first.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %s", what, state)
		case <-ticker.C:
		}
	}
}
