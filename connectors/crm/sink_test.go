package crm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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

const testToken = "crm-token"

// mockCRM is a contacts API on 127.0.0.1 that records every request.
type mockCRM struct {
	srv      *httptest.Server
	mu       sync.Mutex // guards the fields below
	contacts map[string]*Contact
	order    []string
	requests []string
}

func startCRM(t *testing.T) *mockCRM {
	t.Helper()
	m := &mockCRM{contacts: map[string]*Contact{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/contacts", func(w http.ResponseWriter, r *http.Request) {
		var c Contact
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.Email == "" {
			http.Error(w, `{"error":"email is required"}`, http.StatusUnprocessableEntity)
			return
		}
		m.mu.Lock()
		id := strconv.Itoa(len(m.order) + 1)
		m.contacts[id] = &c
		m.order = append(m.order, id)
		m.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id})
	})
	mux.HandleFunc("GET /api/contacts", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("idempotency_key")
		m.mu.Lock()
		list := []map[string]any{}
		for _, id := range m.order {
			if m.contacts[id].IdempotencyKey == key {
				list = append(list, map[string]any{"id": id, "idempotency_key": key})
			}
		}
		m.mu.Unlock()
		_ = json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("PUT /api/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		var c Contact
		_ = json.NewDecoder(r.Body).Decode(&c)
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.contacts[r.PathValue("id")]; !ok {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		m.contacts[r.PathValue("id")] = &c
		_ = json.NewEncoder(w).Encode(map[string]any{"id": r.PathValue("id")})
	})
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.requests = append(m.requests, r.Method+" "+r.URL.Path)
		m.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mockCRM) snapshot() (map[string]Contact, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Contact{}
	for id, c := range m.contacts {
		out[id] = *c
	}
	return out, slices.Clone(m.requests)
}

func countPrefix(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	base := testenv.PostgresDSN(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "crmtest_" + hex.EncodeToString(b)
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
	return pool
}

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

func command(action, ref, name, address string) schemas.TicketCommand {
	return schemas.TicketCommand{
		EventID: "ev-" + action + "-" + ref, Tenant: "acme", Action: action, TicketRef: ref,
		Requester: schemas.Address{Name: name, Address: address}, Subject: "Question",
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func testConfig(brokers []string, pool *pgxpool.Pool, url string) Config {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return Config{
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		Pool:      pool,
		Group:     "crm-test",
		URL:       url,
		Client:    httpjson.New(nil, httpjson.Auth{Token: testToken}, 2*time.Second),
		Retry:     httpjson.RetryPolicy{BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// runSink starts a sink and returns it with a function that stops it and
// returns Run's error.
func runSink(t *testing.T, cfg Config, afterCall func() error) (*Sink, chan error, func()) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.afterCall = afterCall
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return s, done, stop
}

func waitOffset(t *testing.T, pool *pgxpool.Pool, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var next int64
		err := pool.QueryRow(context.Background(), `SELECT next_offset FROM consumer_offsets
			WHERE consumer_group = 'crm-test' AND partition = 0`).Scan(&next)
		if err == nil && next == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for stored offset %d (now %d, %v)", want, next, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSinkOneContactPerRequester(t *testing.T) {
	pool := testPool(t)
	brokers := startKafka(t)
	crm := startCRM(t)
	cfg := testConfig(brokers, pool, crm.srv.URL+"/api/contacts")
	produce(t, brokers,
		command("create", "T-1", "Ana Lima", "ana@customer.test"),
		command("create", "T-2", "Ana Lima", "Ana@Customer.test"),
		command("append", "T-1", "Ana Lima", "ana@customer.test"),
		command("create", "T-3", "Bo", "bo@other.test"),
	)
	s, _, stop := runSink(t, cfg, nil)
	waitOffset(t, pool, 4)

	contacts, reqs := crm.snapshot()
	if len(contacts) != 2 {
		t.Fatalf("CRM holds %d contacts, expected 2 (ana and bo): %+v", len(contacts), contacts)
	}
	ana := contacts["1"]
	if ana.Email != "Ana@Customer.test" || ana.Name != "Ana Lima" || ana.Tenant != "acme" {
		t.Errorf("contact 1 = %+v, expected Ana Lima of acme with the latest address spelling", ana)
	}
	if !slices.Equal(ana.TicketRefs, []string{"T-1", "T-2"}) || ana.LastTicketRef != "T-2" {
		t.Errorf("contact 1 refs = %v, last %q; expected [T-1 T-2], last T-2", ana.TicketRefs, ana.LastTicketRef)
	}
	if want := ContactKey("acme", AddressHash("ana@customer.test")); ana.IdempotencyKey != want {
		t.Errorf("contact 1 key = %q, expected %q", ana.IdempotencyKey, want)
	}
	if bo := contacts["2"]; !slices.Equal(bo.TicketRefs, []string{"T-3"}) {
		t.Errorf("contact 2 refs = %v, expected [T-3]", bo.TicketRefs)
	}
	if got := countPrefix(reqs, "POST "); got != 2 {
		t.Errorf("POST requests = %d, expected 2", got)
	}
	if got := countPrefix(reqs, "PUT "); got != 1 {
		t.Errorf("PUT requests = %d, expected 1 (the second ticket of ana)", got)
	}
	if st := s.Stats(); st.Skipped != 1 || st.Created != 2 || st.Updated != 1 {
		t.Errorf("stats %+v: expected Skipped 1 (the append), Created 2, Updated 1", st)
	}
	stop()

	// Replay from offset 0: nothing is sent.
	if _, err := pool.Exec(context.Background(), `UPDATE consumer_offsets SET next_offset = 0`); err != nil {
		t.Fatalf("resetting the offset: %v", err)
	}
	s2, _, _ := runSink(t, cfg, nil)
	waitOffset(t, pool, 4)
	_, after := crm.snapshot()
	if len(after) != len(reqs) {
		t.Errorf("the replay sent %q, expected no request", after[len(reqs):])
	}
	if st := s2.Stats(); st.Replayed != 3 {
		t.Errorf("replay stats %+v: expected Replayed 3", st)
	}
}

func TestSinkCrashAfterContactCreate(t *testing.T) {
	pool := testPool(t)
	brokers := startKafka(t)
	crm := startCRM(t)
	cfg := testConfig(brokers, pool, crm.srv.URL+"/api/contacts")
	produce(t, brokers, command("create", "T-1", "Ana Lima", "ana@customer.test"))

	crash := errors.New("simulated crash")
	s, done, _ := runSink(t, cfg, func() error { return crash })
	select {
	case err := <-done:
		if !errors.Is(err, crash) {
			t.Fatalf("Run returned %v, expected the simulated crash", err)
		}
		done <- err
		s.Close()
	case <-time.After(20 * time.Second):
		t.Fatal("the sink did not stop at the simulated crash within 20s")
	}

	s2, _, _ := runSink(t, cfg, nil)
	waitOffset(t, pool, 1)
	contacts, reqs := crm.snapshot()
	if len(contacts) != 1 || !slices.Equal(contacts["1"].TicketRefs, []string{"T-1"}) {
		t.Fatalf("CRM contacts after the crash and restart = %+v, expected one with [T-1]", contacts)
	}
	if got := countPrefix(reqs, "POST "); got != 1 {
		t.Errorf("POST requests = %d, expected 1: the restart must find the contact by lookup", got)
	}
	if st := s2.Stats(); st.FoundByLookup != 1 || st.Created != 0 {
		t.Errorf("restart stats %+v: expected FoundByLookup 1, Created 0", st)
	}
}
