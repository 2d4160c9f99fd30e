package smtpsink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const testTemplatesDir = "../../config/autoreply"

// delivered is one message the test relay accepted.
type delivered struct {
	mailFrom string
	rcptTo   []string
	data     []byte
}

// testRelay is an SMTP server on 127.0.0.1 that records what it accepts.
// It replies to the end of data with 451 for the first tempFails
// messages, and with 550 to every message while reject is set.
type testRelay struct {
	addr string

	mu        sync.Mutex // guards the fields below
	messages  []delivered
	tempFails int
	reject    bool
	sessions  int
}

func startRelay(t *testing.T) *testRelay {
	t.Helper()
	r := &testRelay{}
	server := smtp.NewServer(r)
	server.Domain = "relay.test"
	server.ReadTimeout = 10 * time.Second
	server.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the test relay: %v", err)
	}
	r.addr = l.Addr().String()
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
	return r
}

func (r *testRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	r.mu.Lock()
	r.sessions++
	r.mu.Unlock()
	return &relaySession{relay: r}, nil
}

func (r *testRelay) delivered() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.messages...)
}

func (r *testRelay) sessionCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions
}

type relaySession struct {
	relay *testRelay
	msg   delivered
}

func (s *relaySession) Reset()        { s.msg = delivered{} }
func (s *relaySession) Logout() error { return nil }

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.mailFrom = from
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.rcptTo = append(s.msg.rcptTo, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	if s.relay.reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	if s.relay.tempFails > 0 {
		s.relay.tempFails--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msg.data = data
	s.relay.messages = append(s.relay.messages, s.msg)
	return nil
}

// randomSuffix returns 8 random hex digits for test schema names.
func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// testSchema creates a schema of its own for the test, dropped at cleanup,
// and returns a DSN whose search_path puts the tables there.
func testSchema(t testing.TB) string {
	t.Helper()
	base := testenv.PostgresDSN(t)
	schema := "smtpsinktest_" + randomSuffix(t)
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
	return base + withSearchPath(base, schema)
}

// withSearchPath returns the DSN suffix that sets search_path.
func withSearchPath(base, schema string) string {
	if strings.Contains(base, "?") {
		return "&search_path=" + schema
	}
	return "?search_path=" + schema
}

func newPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// startKafka starts an in-process kfake broker with the auto-reply and
// dead-letter topics.
func startKafka(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics.AutoReplies, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// testCommand returns an acknowledgement command for ticket number i of
// tenant acme, to recipient.
func testCommand(i int, recipient string) schemas.AutoReply {
	ref := "T-" + string("0123456789ABCDEFGHJK"[i%20]) + "00000000" + string("0123456789"[i%10])
	return schemas.AutoReply{
		EventID:    "event-" + ref + "-" + recipient,
		Tenant:     "acme",
		Kind:       schemas.AutoReplyAcknowledgement,
		TicketRef:  ref,
		Queue:      "general",
		To:         schemas.Address{Name: "Ana Lima", Address: recipient},
		Subject:    "Question about my order",
		InReplyTo:  "inbound-" + ref + "@mail.customer.test",
		References: []string{"inbound-" + ref + "@mail.customer.test"},
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		DecidedAt:  time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC),
	}
}

// produceCommands writes the commands to the auto-reply topic under their
// keys.
func produceCommands(t *testing.T, brokers []string, cmds ...schemas.AutoReply) {
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
		rec := &kgo.Record{Topic: topics.AutoReplies, Key: []byte(cmds[i].Key()), Value: value}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", cmds[i].EventID, err)
		}
	}
}

// testConfig returns a sink configuration for the test relay with short
// retries.
func testConfig(t *testing.T, brokers []string, dsn, relayAddr string) Config {
	t.Helper()
	templates, err := LoadTemplates(testTemplatesDir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return Config{
		DSN:       dsn,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		Group:     "smtpsink-test",
		Relay:     Relay{Addr: relayAddr, Timeout: 5 * time.Second},
		From:      mail.Address{Name: "Acme Support", Address: "support@acme.test"},
		Templates: templates,
		Retry:     RetryPolicy{MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// runSink starts a sink with cfg and returns it with a function that
// stops it and waits for Run to return.
func runSink(t *testing.T, cfg Config) (*Sink, func()) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, expected nil after cancel", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return s, stop
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

// ledgerRow is the part of an autoreply_deliveries row the tests check.
type ledgerRow struct {
	state    State
	reason   string
	attempts int
	msgID    string
}

func readLedger(t *testing.T, pool *pgxpool.Pool, eventID string) (ledgerRow, bool) {
	t.Helper()
	var r ledgerRow
	var state string
	err := pool.QueryRow(context.Background(), `SELECT state, reason, attempts, message_id FROM autoreply_deliveries WHERE event_id = $1`, eventID).
		Scan(&state, &r.reason, &r.attempts, &r.msgID)
	if err != nil {
		return ledgerRow{}, false
	}
	r.state = State(state)
	return r, true
}
