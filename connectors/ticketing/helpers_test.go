package ticketing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// testPool returns a pool on a schema of its own, dropped at cleanup.
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	base := testenv.PostgresDSN(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "ticketingtest_" + hex.EncodeToString(b)

	admin, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})

	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	pool, err := pgxpool.New(context.Background(), base+sep+"search_path="+schema)
	if err != nil {
		t.Fatalf("opening a pool on %s: %v", schema, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// startKafka starts a kfake broker with one partition per topic, so that
// offsets are easy to state.
func startKafka(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Tickets, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func produce(t *testing.T, brokers []string, cmds ...schemas.TicketCommand) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	for i := range cmds {
		value, err := schemas.Marshal(&cmds[i])
		if err != nil {
			t.Fatalf("encoding %s: %v", cmds[i].EventID, err)
		}
		rec := &kgo.Record{Topic: topics.Tickets, Key: []byte(cmds[i].Tenant + "/" + cmds[i].TicketRef), Value: value}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", cmds[i].EventID, err)
		}
	}
}

// createCommand returns the create command of ticket ref.
func createCommand(ref string) schemas.TicketCommand {
	return schemas.TicketCommand{
		EventID:    "ev-create-" + ref,
		Tenant:     "acme",
		Action:     "create",
		TicketRef:  ref,
		MessageID:  "m1-" + ref + "@mail.customer.test",
		Queue:      "billing",
		Priority:   "high",
		Tags:       []string{"invoice", "vip customer"},
		Requester:  schemas.Address{Name: "Ana Lima", Address: "ana@customer.test"},
		Subject:    "Invoice question, call me at ana@customer.test",
		Text:       "Where is my invoice?\n\n> On Monday you wrote:\n> internal quote",
		ReplyText:  "Where is my invoice?",
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// appendCommand returns follow-up n of ticket ref.
func appendCommand(ref string, n int) schemas.TicketCommand {
	cmd := createCommand(ref)
	cmd.EventID = "ev-append-" + ref + "-" + string(rune('0'+n))
	cmd.Action = "append"
	cmd.MessageID = "m2-" + ref + "@mail.customer.test"
	cmd.Subject = "Re: Invoice question"
	cmd.Text = "Any news?\n\n> Where is my invoice?"
	cmd.ReplyText = "Any news?"
	return cmd
}

func testClient(timeout time.Duration) *httpjson.Client {
	return httpjson.New(nil, httpjson.Auth{Token: testToken}, timeout)
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testConfig returns a sink configuration with short retries.
func testConfig(brokers []string, pool *pgxpool.Pool, target Target) Config {
	return Config{
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		Pool:      pool,
		Group:     "ticketing-test",
		Target:    target,
		Retry:     httpjson.RetryPolicy{BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger:    testLogger(),
	}
}

// running is a sink started by startSink.
type running struct {
	sink *Sink
	done chan error
	stop func() error
}

// startSink runs a sink with cfg; stop cancels it and returns Run's error.
func startSink(t *testing.T, cfg Config, afterCall func(string) error) *running {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.afterCall = afterCall
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sink: s, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	stopped := false
	var result error
	r.stop = func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancel")
		}
		s.Close()
		return result
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// waitFor polls cond every 20 ms until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedOffset returns the stored next offset of partition 0 of the
// tickets topic, or -1.
func storedOffset(t *testing.T, pool *pgxpool.Pool, group string) int64 {
	t.Helper()
	var next int64
	err := pool.QueryRow(context.Background(), `SELECT next_offset FROM consumer_offsets
		WHERE consumer_group = $1 AND topic = $2 AND partition = 0`, group, topics.Tickets).Scan(&next)
	if err != nil {
		return -1
	}
	return next
}

// ledgerTicket returns the state and external ID of a ticket row.
func ledgerTicket(t *testing.T, pool *pgxpool.Pool, system, ref string) (state, externalID string) {
	t.Helper()
	_ = pool.QueryRow(context.Background(), `SELECT state, external_id FROM external_tickets
		WHERE system = $1 AND tenant = 'acme' AND ticket_ref = $2`, system, ref).Scan(&state, &externalID)
	return state, externalID
}

// ledgerComment returns the state of a comment row.
func ledgerComment(t *testing.T, pool *pgxpool.Pool, system, eventID string) string {
	t.Helper()
	var state string
	_ = pool.QueryRow(context.Background(), `SELECT state FROM external_comments WHERE system = $1 AND event_id = $2`,
		system, eventID).Scan(&state)
	return state
}
