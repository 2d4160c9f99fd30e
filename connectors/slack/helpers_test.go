package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

const testPartitions = 3

// startKafka starts an in-process kfake broker with the notification and
// dead-letter topics.
func startKafka(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, topics.Notifications, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// testNotification returns a notification whose IDs follow from tenant and i.
func testNotification(tenant string, i int) schemas.Notification {
	return schemas.Notification{
		EventID:      fmt.Sprintf("%s-event-%04d", tenant, i),
		Tenant:       tenant,
		Channel:      "slack",
		TicketRef:    fmt.Sprintf("T-%05d", i),
		Queue:        "billing",
		Priority:     "high",
		SenderDomain: "customer.example",
		Subject:      fmt.Sprintf("Invoice %d is wrong", i),
		Excerpt:      "Hello, the amount on the invoice does not match the order.",
		ReceivedAt:   time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// produceNotifications writes the notifications to the notification topic,
// keyed tenant/ticketRef like the processor does.
func produceNotifications(ctx context.Context, t *testing.T, brokers []string, ns ...schemas.Notification) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()

	records := make([]*kgo.Record, 0, len(ns))
	for i := range ns {
		value, err := schemas.Marshal(&ns[i])
		if err != nil {
			t.Fatalf("encoding notification %s: %v", ns[i].EventID, err)
		}
		records = append(records, &kgo.Record{Topic: topics.Notifications, Key: []byte(ns[i].Tenant + "/" + ns[i].TicketRef), Value: value})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d notifications: %v", len(records), err)
	}
}

// logBuffer collects log output for assertions. It is safe for
// concurrent use.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if testing.Verbose() {
		_, _ = os.Stderr.Write(p)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a debug-level logger into a new logBuffer, which also
// copies the lines to stderr when the test runs with -v.
func testLogger() (*slog.Logger, *logBuffer) {
	logs := &logBuffer{}
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// secretToken is part of every test webhook URL; no log line may show it.
const secretToken = "XXsecretTOKENXX"

// checkNoSecret fails t when the logs show a webhook URL.
func checkNoSecret(t *testing.T, logs *logBuffer) {
	t.Helper()
	if text := logs.String(); strings.Contains(text, secretToken) || strings.Contains(text, "/services/") {
		t.Errorf("the logs contain a webhook URL:\n%s", text)
	}
}

// fastRetry keeps retry waits short so the tests stay quick.
var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}

// sinkConfig returns a config for brokers and ledger with the webhooks
// hooks, short retries and a group unique to the test, and the buffer that
// receives its logs.
func sinkConfig(t *testing.T, brokers []string, ledger Ledger, hooks Webhooks) (Config, *logBuffer) {
	logger, logs := testLogger()
	return Config{
		ClientOpts:     []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:          "slack-test-" + t.Name(),
		Webhooks:       hooks,
		Ledger:         ledger,
		Retry:          fastRetry,
		RequestTimeout: 2 * time.Second,
		Logger:         logger,
	}, logs
}

// runningSink is a Sink running in a goroutine.
type runningSink struct {
	*Sink
	cancel context.CancelFunc
	done   chan error
}

// startSink creates a sink from cfg and runs it until the test ends or
// stop is called.
func startSink(t *testing.T, cfg Config) *runningSink {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningSink{Sink: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run, waits for it (at most 20s) and closes the sink.
func (r *runningSink) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Run returned %v, expected nil after cancel", err)
		}
		r.done <- nil // a second stop returns at once
	case <-time.After(20 * time.Second):
		t.Errorf("Run did not return within 20s of cancel")
	}
	r.Close()
}

// handledCount is the number of records the sink finished, whatever the
// outcome.
func handledCount(s Stats) int64 {
	return s.Delivered + s.Replayed + s.Unknown + s.DeadLettered + s.NoWebhook + s.OtherChannel
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitHandled waits until the sink has finished n records.
func waitHandled(t *testing.T, s *runningSink, n int64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d handled records", n), func() bool { return handledCount(s.Stats()) >= n })
}

// readDeadLetters reads n dead letters from the DLQ topic, failing after
// 15s.
func readDeadLetters(ctx context.Context, t *testing.T, brokers []string, n int) ([]schemas.DeadLetter, []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatalf("creating the DLQ consumer: %v", err)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var letters []schemas.DeadLetter
	var records []*kgo.Record
	for len(letters) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d dead letters, expected %d", len(letters), n)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			var dl schemas.DeadLetter
			if err := schemas.Unmarshal(rec.Value, &dl); err != nil {
				t.Fatalf("decoding a dead letter: %v", err)
			}
			letters = append(letters, dl)
			records = append(records, rec)
		})
	}
	return letters, records
}
