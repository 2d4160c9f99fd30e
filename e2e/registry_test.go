package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"mailtriage/connectors/postgres"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestSchemaRegistryPostgresSink runs the processor with a schema registry,
// so that it writes the Confluent wire format, and checks that the
// PostgreSQL sink with a registry decoder stores every ticket while a sink
// without one dead-letters every record. Kafka and the registry are
// in-process fakes (kfake, srfake); PostgreSQL is the stack's.
func TestSchemaRegistryPostgresSink(t *testing.T) {
	dsn, _ := testSchemaDSN(t)
	plainDSN, _ := testSchemaDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)

	registry := srfake.New()
	t.Cleanup(registry.Close)
	client, err := sr.NewClient(sr.URLs(registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.NewConfluent(ctx, client, nil)
	if err != nil {
		t.Fatalf("registering the contracts: %v", err)
	}

	const tenant, messages = "registry", 12
	start := endOffsets(ctx, t, adm, topics.Inbound, topics.Tickets, topics.DLQ)
	produceEmails(ctx, t, brokers, tenant, messages)
	inboundEnd := endOffsets(ctx, t, adm, topics.Inbound)

	stopRunner := startRunner(ctx, t, brokers, writer)
	waitFor(ctx, t, "the processor to commit every input", func() (bool, string) {
		sum, done, err := groupCommitted(ctx, adm, "e2e-registry-processor", topics.Inbound, inboundEnd)
		if err != nil {
			return false, err.Error()
		}
		return done, fmt.Sprintf("%d of %d inputs committed", sum, messages)
	})
	stopRunner()

	end := stableOffsets(ctx, t, adm, topics.Tickets, topics.DLQ)
	tickets := readRange(ctx, t, brokers, topics.Tickets, start, end)
	if len(tickets) != messages {
		t.Fatalf("the processor wrote %d ticket commands, expected %d", len(tickets), messages)
	}
	for _, rec := range tickets {
		if len(rec.Value) < 5 || rec.Value[0] != 0 {
			t.Fatalf("ticket command at %d/%d starts with % x, expected the Confluent magic byte 0", rec.Partition, rec.Offset, rec.Value[:min(5, len(rec.Value))])
		}
	}

	decoder, err := schemas.NewRegistryDecoder(client)
	if err != nil {
		t.Fatal(err)
	}
	stopSink := startPostgresSink(t, dsn, brokers, "e2e-registry-sink", decoder)
	pool := newPool(t, dsn)
	waitFor(ctx, t, "the tickets in PostgreSQL", func() (bool, string) {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM ticket_messages`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n >= messages, fmt.Sprintf("%d of %d ticket messages", n, messages)
	})
	stopSink()

	var stored, outbox int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE tenant = $1`, tenant).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letter_outbox`).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	if stored != messages || outbox != 0 {
		t.Errorf("the sink with the registry decoder stored %d tickets and left %d dead letters, expected %d and 0", stored, outbox, messages)
	}
	if dead := readRange(ctx, t, brokers, topics.DLQ, start, stableOffsets(ctx, t, adm, topics.DLQ)); len(dead) != 0 {
		t.Errorf("the DLQ holds %d records after the sink with the registry decoder, expected none", len(dead))
	}

	// Control: without a registry, the same records cannot be decoded.
	stopPlain := startPostgresSink(t, plainDSN, brokers, "e2e-registry-plain-sink", nil)
	waitFor(ctx, t, "the dead letters of the sink without a registry", func() (bool, string) {
		n := len(readRange(ctx, t, brokers, topics.DLQ, start, stableOffsets(ctx, t, adm, topics.DLQ)))
		return n >= messages, fmt.Sprintf("%d of %d dead letters", n, messages)
	})
	stopPlain()
	for _, dl := range decodeAll[schemas.DeadLetter](t, schemas.NewSingleObject(), readRange(ctx, t, brokers, topics.DLQ, start, stableOffsets(ctx, t, adm, topics.DLQ))) {
		if dl.Stage != postgres.Stage || dl.SourceTopic != topics.Tickets {
			t.Errorf("dead letter from stage %q of topic %s, expected stage %q of %s", dl.Stage, dl.SourceTopic, postgres.Stage, topics.Tickets)
		}
	}
	plainPool := newPool(t, plainDSN)
	var plainStored int
	if err := plainPool.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&plainStored); err != nil {
		t.Fatal(err)
	}
	if plainStored != 0 {
		t.Errorf("the sink without a registry stored %d tickets, expected 0", plainStored)
	}
}

// produceEmails writes n messages of tenant to the inbound topic in
// single-object encoding.
func produceEmails(ctx context.Context, t *testing.T, brokers []string, tenant string, n int) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i := range n {
		e := schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  fmt.Sprintf("registry-%d@example.test", i),
			Source:     schemas.SourceImport,
			ReceivedAt: time.Now().UTC().Truncate(time.Second),
			From:       &schemas.Address{Address: "customer@example.org"},
			To:         []schemas.Address{{Address: "support@example.com"}},
			Subject:    fmt.Sprintf("Question %d", i),
			Text:       "Hello, a question about my account.",
		}
		value, err := schemas.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.ProduceSync(ctx, &kgo.Record{Topic: topics.Inbound, Key: []byte(e.Key()), Value: value}).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", e.MessageID, err)
		}
	}
}

// startRunner runs the exactly-once processor with serde and returns the
// function that stops it.
func startRunner(ctx context.Context, t *testing.T, brokers []string, serde *schemas.Serde) func() {
	t.Helper()
	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: filepath.Join(repoRoot, "config", "rules.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(runner.Config{
		Brokers:         brokers,
		Group:           "e2e-registry-processor",
		TransactionalID: "e2e-registry-processor-txn",
		InputTopic:      topics.Inbound,
		Chain:           chain,
		Outputs:         processors.Outputs,
		Serde:           serde,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner Run returned %v, expected nil after cancel", err)
		}
		r.Close()
	}
}

// startPostgresSink runs the PostgreSQL sink with serde (nil for the
// default) and returns the function that stops it.
func startPostgresSink(t *testing.T, dsn string, brokers []string, group string, serde *schemas.Serde) func() {
	t.Helper()
	sink, err := postgres.New(postgres.Config{
		DSN:       dsn,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:     group,
		Serde:     serde,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("postgres sink Run returned %v, expected nil after cancel", err)
		}
		sink.Close()
	}
}
