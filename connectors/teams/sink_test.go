package teams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// capture is a Teams webhook on 127.0.0.1 that records the bodies it
// accepts. It returns 503 to the first failFirst posts.
type capture struct {
	srv       *httptest.Server
	mu        sync.Mutex // guards the fields below
	accepted  []Message
	raw       []string
	requests  int
	failFirst int
}

func startCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests++
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if c.failFirst > 0 {
			c.failFirst--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, "invalid JSON", http.StatusBadRequest)
			return
		}
		c.accepted = append(c.accepted, m)
		c.raw = append(c.raw, string(body))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) snapshot() ([]Message, []string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.accepted...), append([]string(nil), c.raw...), c.requests
}

func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	base := testenv.PostgresDSN(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "teamstest_" + hex.EncodeToString(b)
	admin, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	pool, err := pgxpool.New(context.Background(), base+sep+"search_path="+schema)
	if err != nil {
		t.Fatalf("opening a pool on %s: %v", schema, err)
	}
	t.Cleanup(pool.Close)
	if _, err := postgres.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return pool
}

func notification(i int, subject string) schemas.Notification {
	return schemas.Notification{
		EventID: "ev-note-" + string(rune('0'+i)), Tenant: "acme", Channel: "slack",
		TicketRef: "T-" + strings.Repeat(string(rune('A'+i)), 10), Queue: "billing", Priority: "high",
		SenderDomain: "customer.test", Subject: subject, Excerpt: "Please call me back",
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func produce(t *testing.T, brokers []string, notes ...schemas.Notification) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	for i := range notes {
		value, err := schemas.Marshal(&notes[i])
		if err != nil {
			t.Fatalf("encoding %s: %v", notes[i].EventID, err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topics.Notifications, Value: value}).FirstErr(); err != nil {
			t.Fatalf("producing: %v", err)
		}
	}
}

func runSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, expected nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancel")
		}
		s.Close()
	})
	return s
}

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

func TestSinkOnePostPerNotificationAndReplay(t *testing.T) {
	pool := testPool(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Notifications, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	hook := startCapture(t)
	hook.failFirst = 1

	notes := []schemas.Notification{
		notification(1, "Refund for ana@customer.test"),
		notification(2, "Click [here](http://evil.test) *now*"),
		notification(3, "Third"),
	}
	notes[2].Channel = "email" // another channel: not posted
	produce(t, brokers, notes...)

	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	cfg := Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		Group:      "teams-test",
		Webhooks:   Webhooks{Tenants: map[string]string{"acme": hook.srv.URL + "/workflows/acme"}},
		Ledger:     NewLedger(pool),
		Retry:      httpjson.RetryPolicy{BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	s := runSink(t, cfg)
	waitFor(t, "two posts", func() bool { return s.Stats().Delivered == 2 && s.Stats().Skipped == 1 })

	posts, raw, requests := hook.snapshot()
	if len(posts) != 2 || requests != 3 {
		t.Fatalf("capture accepted %d posts in %d requests, expected 2 posts in 3 requests (one 503 retried)", len(posts), requests)
	}
	card := posts[0].Attachments[0].Content
	if posts[0].Type != "message" || posts[0].Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || card.ID != "ev-note-1" {
		t.Errorf("first post = %+v, expected an Adaptive Card message with id ev-note-1", posts[0])
	}
	if strings.Contains(raw[0], "ana@customer.test") {
		t.Errorf("first post contains the address: %s", raw[0])
	}
	if got := posts[1].Attachments[0].Content.Body[0].Text; got != `Click \[here\]\(http://evil.test\) \*now\*` {
		t.Errorf("second subject = %q, expected the link and emphasis escaped", got)
	}
	facts := posts[1].Attachments[0].Content.Body[2].Facts
	if len(facts) != 4 || facts[0] != (Fact{Title: "Sender domain", Value: "customer.test"}) || facts[3].Value != "T-CCCCCCCCCC" {
		t.Errorf("second post facts = %+v, expected sender domain customer.test and ticket T-CCCCCCCCCC", facts)
	}
	for _, id := range []string{"ev-note-1", "ev-note-2"} {
		if st, err := cfg.Ledger.Status(context.Background(), id); err != nil || st != StatusDelivered {
			t.Errorf("ledger status of %s = %q (%v), expected delivered", id, st, err)
		}
	}

	// A replay: a second group reads the topic from the start with the
	// same ledger, as after an offset reset.
	cfg2 := cfg
	cfg2.Group = "teams-test-replay"
	s2 := runSink(t, cfg2)
	waitFor(t, "the replay to be skipped", func() bool { return s2.Stats().Replayed == 2 })
	if _, _, after := hook.snapshot(); after != requests {
		t.Errorf("the replay sent %d requests, expected none", after-requests)
	}
}
