package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Size of the generated load of the crash tests: crashMessages distinct
// messages, and a second copy of every crashDuplicateEvery-th one.
const (
	crashMessages       = 3000
	crashDuplicateEvery = 100
)

// envCrashSeed repeats a crash test run: it fixes the point of the kill.
const envCrashSeed = "MAILTRIAGE_CRASH_SEED"

// TestProcessCrashExactlyOnce kills "mailtriage process" with SIGKILL in
// the middle of a few thousand messages on the real broker and restarts
// it. The read_committed view of the outputs must then hold one ticket
// command per distinct message and one decision per input record, none
// missing and none twice.
func TestProcessCrashExactlyOnce(t *testing.T) {
	run := runProcessCrash(t, nil)
	run.checkKafkaOutputs(t)
}

// TestProcessCrashPostgresTickets is TestProcessCrashExactlyOnce with the
// PostgreSQL sink running downstream during the crash and the restart. It
// checks that PostgreSQL ends with exactly one ticket, holding one
// message, per ticket command that creates one.
func TestProcessCrashPostgresTickets(t *testing.T) {
	dsn, schema := testSchemaDSN(t)
	pool := newPool(t, dsn)
	sinkDone := make(chan error, 1)

	run := runProcessCrash(t, func(ctx context.Context, brokers []string, ticketsStart kadm.ListedOffsets, group string) {
		if _, err := postgres.Migrate(ctx, pool); err != nil {
			t.Fatalf("migrating schema %s: %v", schema, err)
		}
		next := map[int32]int64{}
		ticketsStart.Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
		if err := postgres.SeedOffsets(ctx, pool, group+"-postgres", topics.Tickets, next); err != nil {
			t.Fatal(err)
		}
		sink, err := postgres.New(postgres.Config{
			DSN:       dsn,
			KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
			Group:     group + "-postgres",
		})
		if err != nil {
			t.Fatal(err)
		}
		// The sink outlives runProcessCrash, whose context ends on return.
		sinkCtx, cancel := context.WithCancel(context.Background())
		go func() { sinkDone <- sink.Run(sinkCtx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-sinkDone; err != nil {
				t.Errorf("postgres sink Run returned %v, expected nil after cancel", err)
			}
			sink.Close()
		})
	})
	run.checkKafkaOutputs(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := len(run.distinct)
	waitFor(ctx, t, "the tickets in PostgreSQL", func() (bool, string) {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE tenant = $1`, run.tenant).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n >= want, fmt.Sprintf("%d of %d tickets", n, want)
	})

	var tickets, distinctRefs, distinctMessages, messages, maxPerTicket int
	err := pool.QueryRow(ctx, `
		SELECT count(*), count(DISTINCT t.ticket_ref), count(DISTINCT t.external_id),
		       coalesce(sum(m.n), 0), coalesce(max(m.n), 0)
		FROM tickets t
		LEFT JOIN (SELECT ticket_id, count(*) AS n FROM ticket_messages GROUP BY ticket_id) m ON m.ticket_id = t.id
		WHERE t.tenant = $1`, run.tenant).Scan(&tickets, &distinctRefs, &distinctMessages, &messages, &maxPerTicket)
	if err != nil {
		t.Fatalf("counting the tickets: %v", err)
	}
	if tickets != want || distinctRefs != want || distinctMessages != want {
		t.Errorf("PostgreSQL has %d tickets (%d distinct refs, %d distinct first messages), expected %d of each", tickets, distinctRefs, distinctMessages, want)
	}
	if messages != want || maxPerTicket != 1 {
		t.Errorf("PostgreSQL has %d ticket messages, at most %d per ticket; expected %d, exactly 1 per ticket", messages, maxPerTicket, want)
	}

	rows, err := pool.Query(ctx, `SELECT external_id FROM tickets WHERE tenant = $1`, run.tenant)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		seen[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range run.distinct {
		if !seen[id] {
			t.Errorf("message %s has no ticket in PostgreSQL", id)
		}
	}

	var outbox int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM dead_letter_outbox`).Scan(&outbox); err != nil {
		t.Fatal(err)
	}
	if outbox != 0 {
		t.Errorf("the dead-letter outbox holds %d records, expected 0", outbox)
	}
}

// crashRun is the outcome of runProcessCrash.
type crashRun struct {
	tenant   string
	brokers  []string
	inputs   int             // records produced to the inbound topic
	distinct map[string]bool // message IDs of the distinct messages
	start    kadm.ListedOffsets
	adm      *kadm.Client
}

// runProcessCrash produces the generated load, runs "mailtriage process",
// kills it with SIGKILL when a random share of the ticket commands is on
// the topic (committed or not), restarts it and waits until the restarted
// process committed every input. beforeStart, when set, runs before the
// first process starts, with the start offsets of the tickets topic and
// the run's group name.
func runProcessCrash(t *testing.T, beforeStart func(ctx context.Context, brokers []string, ticketsStart kadm.ListedOffsets, group string)) *crashRun {
	brokers := testenv.KafkaBrokers(t)
	bin := buildMailtriage(t)
	rules, err := filepath.Abs(filepath.Join(repoRoot, "config", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	run := &crashRun{tenant: "crash-" + suffix, brokers: brokers, distinct: map[string]bool{}}
	group := "mailtriage-e2e-crash-" + suffix
	txnID := group + "-txn"

	run.adm = newAdmin(t, brokers)
	ensureTopics(ctx, t, run.adm)
	run.start = endOffsets(ctx, t, run.adm, topics.Inbound, topics.Tickets, topics.Analytics, topics.DLQ)
	inboundStart := endOffsets(ctx, t, run.adm, topics.Inbound)
	seedGroup(ctx, t, run.adm, group, inboundStart)
	if beforeStart != nil {
		ticketsStart := endOffsets(ctx, t, run.adm, topics.Tickets)
		beforeStart(ctx, brokers, ticketsStart, group)
	}

	run.inputs = produceLoad(ctx, t, brokers, run.tenant, run.distinct)
	inboundEnd := endOffsets(ctx, t, run.adm, topics.Inbound)

	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	// The kill point lies between 10% and 60% of the ticket commands, so
	// that inputs are still unprocessed when the kill lands.
	killAt := crashMessages/10 + rng.IntN(crashMessages/2)
	t.Logf("crash seed %d (set %s=%d to repeat): SIGKILL once %d of %d ticket commands are on the topic", seed, envCrashSeed, seed, killAt, len(run.distinct))

	args := []string{"process", "--brokers", strings.Join(brokers, ","), "--group", group,
		"--transactional-id", txnID, "--rules", rules, "--log-level", "WARN"}
	first := startProcess(t, "the first processor", bin, args...)
	seen := waitForTickets(ctx, t, brokers, run.start, run.tenant, killAt, first)
	first.kill(t)

	committed, caughtUp, err := groupCommitted(ctx, run.adm, group, topics.Inbound, inboundEnd)
	if err != nil {
		t.Fatalf("reading the offsets of group %s: %v", group, err)
	}
	var startSum int64
	inboundStart.Each(func(o kadm.ListedOffset) { startSum += o.Offset })
	t.Logf("killed with %d ticket commands on the topic (read_uncommitted) and %d of %d inputs committed", seen, committed-startSum, run.inputs)
	if caughtUp {
		t.Fatalf("the first processor committed every input before the kill, so the kill was not mid-run: lower the kill point")
	}

	second := startProcess(t, "the restarted processor", bin, args...)
	waitFor(ctx, t, "the restarted processor to commit every input", func() (bool, string) {
		if done, err := second.exited(); done {
			t.Fatalf("the restarted processor exited early: %v", err)
		}
		sum, caughtUp, err := groupCommitted(ctx, run.adm, group, topics.Inbound, inboundEnd)
		if err != nil {
			return false, err.Error()
		}
		return caughtUp, fmt.Sprintf("%d of %d inputs committed", sum-startSum, run.inputs)
	})
	second.stop(t)
	return run
}

// crashSeed returns the seed of envCrashSeed, or a new one.
func crashSeed(t *testing.T) int64 {
	if s := os.Getenv(envCrashSeed); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("invalid %s %q: give an integer", envCrashSeed, s)
		}
		return seed
	}
	return time.Now().UnixNano()
}

// produceLoad writes crashMessages distinct messages of tenant to the
// inbound topic, plus a second copy of every crashDuplicateEvery-th one,
// records the distinct message IDs in distinct and returns the number of
// records written.
func produceLoad(ctx context.Context, t *testing.T, brokers []string, tenant string, distinct map[string]bool) int {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	subjects := []string{"Refund for my last invoice", "Where is my order?", "Password reset does not work", "Question about the API"}
	received := time.Now().UTC().Truncate(time.Second)
	var records []*kgo.Record
	for i := range crashMessages {
		e := schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  fmt.Sprintf("load-%05d@%s.example.test", i, tenant),
			Source:     schemas.SourceImport,
			ReceivedAt: received,
			From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.org", i)},
			To:         []schemas.Address{{Address: "support@example.com"}},
			Subject:    fmt.Sprintf("%s (%d)", subjects[i%len(subjects)], i),
			Text:       fmt.Sprintf("Hello, this is message %d of the load test.", i),
		}
		value, err := schemas.Marshal(&e)
		if err != nil {
			t.Fatalf("encoding %s: %v", e.MessageID, err)
		}
		distinct[e.MessageID] = true
		rec := &kgo.Record{Topic: topics.Inbound, Key: []byte(e.Key()), Value: value}
		records = append(records, rec)
		if i%crashDuplicateEvery == crashDuplicateEvery-1 {
			records = append(records, &kgo.Record{Topic: topics.Inbound, Key: rec.Key, Value: value})
		}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d inbound records: %v", len(records), err)
	}
	return len(records)
}

// waitForTickets reads the tickets topic read_uncommitted from start until
// it holds n ticket commands of tenant, and returns how many it saw. It
// fails t when proc exits first.
func waitForTickets(ctx context.Context, t *testing.T, brokers []string, start kadm.ListedOffsets, tenant string, n int, proc *processRun) int {
	t.Helper()
	from := map[int32]kgo.Offset{}
	start.Each(func(o kadm.ListedOffset) {
		if o.Topic == topics.Tickets {
			from[o.Partition] = kgo.NewOffset().At(o.Offset)
		}
	})
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topics.Tickets: from}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	seen := 0
	for seen < n {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := client.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %d ticket commands: saw %d", n, seen)
		}
		if done, err := proc.exited(); done {
			t.Fatalf("%s exited before the kill: %v", proc.name, err)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if strings.HasPrefix(string(rec.Key), tenant+"/") {
				seen++
			}
		})
	}
	return seen
}

// checkKafkaOutputs reads the tickets and analytics topics read_committed
// and checks that every distinct message has exactly one ticket command,
// every input record exactly one decision, and the DLQ nothing of the run.
func (run *crashRun) checkKafkaOutputs(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	end := stableOffsets(ctx, t, run.adm, topics.Tickets, topics.Analytics, topics.DLQ)
	serde := schemas.NewSingleObject()

	tickets := decodeAll[schemas.TicketCommand](t, serde,
		tenantRecords(readRange(ctx, t, run.brokers, topics.Tickets, run.start, end), run.tenant))
	perMessage := map[string]int{}
	perEvent := map[string]int{}
	for _, c := range tickets {
		perMessage[c.MessageID]++
		perEvent[c.EventID]++
	}
	if len(tickets) != len(run.distinct) {
		t.Errorf("found %d ticket commands, expected %d (one per distinct message)", len(tickets), len(run.distinct))
	}
	for id, n := range perEvent {
		if n != 1 {
			t.Errorf("ticket command %s appears %d times, expected once", id, n)
		}
	}
	missing := 0
	for id := range run.distinct {
		if perMessage[id] != 1 {
			missing++
			if missing <= 10 {
				t.Errorf("message %s has %d ticket commands, expected 1", id, perMessage[id])
			}
		}
	}

	decisions := decodeAll[schemas.DecisionEvent](t, serde,
		tenantRecords(readRange(ctx, t, run.brokers, topics.Analytics, run.start, end), run.tenant))
	eventIDs := map[string]bool{}
	duplicates := 0
	for _, d := range decisions {
		eventIDs[d.EventID] = true
		if d.Duplicate {
			duplicates++
		}
	}
	if len(decisions) != run.inputs || len(eventIDs) != run.inputs {
		t.Errorf("found %d decisions with %d distinct event IDs, expected %d of each (one per input record)", len(decisions), len(eventIDs), run.inputs)
	}
	if want := run.inputs - len(run.distinct); duplicates != want {
		t.Errorf("found %d duplicate decisions, expected %d", duplicates, want)
	}

	if dead := tenantRecords(readRange(ctx, t, run.brokers, topics.DLQ, run.start, end), run.tenant); len(dead) != 0 {
		t.Errorf("the DLQ holds %d records of the run, expected none", len(dead))
	}
}
