package runner

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

// BenchmarkBaseline measures the pipeline that a team would build by hand
// in place of the exactly-once topology. A plain franz-go consumer with
// automatic offset commits off decodes each InboundEmail and dedupes it
// with one `INSERT … ON CONFLICT DO NOTHING` on PostgreSQL, each statement
// its own implicit transaction. It commits the Kafka offsets after each
// polled batch. It processes nothing else, so it delivers at
// least once and relies on the unique key for duplicates.
//
// It reads the same topologyEmails emails of the topologyMail mix from a
// fresh topic with three partitions, on the broker in
// MAILTRIAGE_KAFKA_BROKERS, into a table of a fresh schema of the database
// in MAILTRIAGE_POSTGRES_DSN; it is skipped when either is unset. The
// emails/s metric counts from the first fetched record until the offsets
// of the last one are committed, so joining the group is left out, as in
// BenchmarkTopology. Run it once with
//
//	go test ./processors/runner -run '^$' -bench '^BenchmarkBaseline$' -benchtime 1x
func BenchmarkBaseline(b *testing.B) {
	brokers := realKafka(b)
	dsn := os.Getenv("MAILTRIAGE_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("MAILTRIAGE_POSTGRES_DSN is not set: start the stack with `make stack-up` and run `. .stack/env` to measure the baseline")
	}
	n := topologyEmails(b)
	values := encodeMail(b, topologyMail(n))

	b.Run("kafka", func(b *testing.B) {
		for range b.N {
			runBaselineOnce(b, brokers, dsn, values)
		}
	})
}

// baselineTable is the dedupe table of the baseline, keyed like the
// InboundEmail records.
const baselineTable = `CREATE TABLE baseline_emails (
	tenant      text        NOT NULL,
	message_id  text        NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (tenant, message_id)
)`

const baselineInsert = `INSERT INTO baseline_emails (tenant, message_id, received_at)
	VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`

// runBaselineOnce is one operation of BenchmarkBaseline.
func runBaselineOnce(b *testing.B, brokers []string, dsn string, values []*kgo.Record) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	pool := baselineSchema(ctx, b, dsn)

	admClient, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatalf("creating the admin client: %v", err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	prefix := fmt.Sprintf("mailtriage.bench.baseline.%d", time.Now().UnixNano())
	topic, group := prefix+".inbound", prefix
	defer func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(cleanupCtx, group)
		_, _ = adm.DeleteTopics(cleanupCtx, topic)
	}()
	if _, err := adm.CreateTopic(ctx, testPartitions, 1, nil, topic); err != nil {
		b.Fatalf("creating topic %s: %v", topic, err)
	}
	produceBench(ctx, b, brokers, topic, values)

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		b.Fatalf("creating the consumer: %v", err)
	}
	defer consumer.Close()

	b.StartTimer()
	rate, err := consumeBaseline(ctx, consumer, pool, len(values))
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}

	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM baseline_emails").Scan(&rows); err != nil {
		b.Fatalf("counting the baseline rows: %v", err)
	}
	if rows != len(values) {
		b.Fatalf("the baseline table has %d rows, expected %d", rows, len(values))
	}
	b.ReportMetric(rate, "emails/s")
}

// consumeBaseline polls until want records are inserted and their offsets
// committed, and returns the rate from the first fetched record.
func consumeBaseline(ctx context.Context, consumer *kgo.Client, pool *pgxpool.Pool, want int) (float64, error) {
	var (
		firstAt time.Time
		done    int
	)
	for done < want {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("inserted %d of %d emails before the deadline", done, want)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return 0, fmt.Errorf("fetching from %s partition %d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		if firstAt.IsZero() && !fetches.Empty() {
			firstAt = time.Now()
		}
		var insertErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			if insertErr != nil {
				return
			}
			insertErr = insertBaseline(ctx, pool, rec)
			done++
		})
		if insertErr != nil {
			return 0, insertErr
		}
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			return 0, fmt.Errorf("committing the offsets after %d emails: %w", done, err)
		}
	}
	elapsed := time.Since(firstAt).Seconds()
	if elapsed <= 0 {
		return 0, fmt.Errorf("no time passed between the first and the last of %d emails", want)
	}
	return float64(want) / elapsed, nil
}

func insertBaseline(ctx context.Context, pool *pgxpool.Pool, rec *kgo.Record) error {
	var email schemas.InboundEmail
	if err := schemas.Unmarshal(rec.Value, &email); err != nil {
		return fmt.Errorf("decoding partition %d offset %d: %w", rec.Partition, rec.Offset, err)
	}
	if _, err := pool.Exec(ctx, baselineInsert, email.Tenant, email.MessageID, email.ReceivedAt); err != nil {
		return fmt.Errorf("inserting %s: %w", email.MessageID, err)
	}
	return nil
}

// baselineSchema creates a schema of its own with the baseline table,
// dropped at cleanup, and returns a pool whose search_path puts it first.
func baselineSchema(ctx context.Context, b *testing.B, dsn string) *pgxpool.Pool {
	schema := fmt.Sprintf("bench_baseline_%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatalf("creating schema %s: %v", schema, err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Errorf("connecting to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.Errorf("dropping schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		b.Fatalf("MAILTRIAGE_POSTGRES_DSN must be a postgres:// URL for the baseline")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		b.Fatalf("opening a pool on schema %s: %v", schema, err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, baselineTable); err != nil {
		b.Fatalf("creating the baseline table: %v", err)
	}
	return pool
}
