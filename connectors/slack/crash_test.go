package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// envCrashChild carries the JSON childConfig to the sink subprocess of
// TestSinkCrashRestart. TestMain runs the sink instead of the tests when it
// is set.
const envCrashChild = "MAILTRIAGE_SLACK_CRASH_CHILD"

// Sizes of the crash test.
const (
	crashNotifications = 1000
	crashKillAtPost    = 300 // the post during which the first sink is killed
	crashPollRecords   = 50
)

// childConfig is what the sink subprocess needs.
type childConfig struct {
	Brokers []string
	DSN     string
	Schema  string
	URL     string
	Group   string
}

func TestMain(m *testing.M) {
	if raw := os.Getenv(envCrashChild); raw != "" {
		os.Exit(runCrashChild(raw))
	}
	os.Exit(m.Run())
}

// runCrashChild runs a sink with a PostgreSQL ledger until SIGTERM or
// SIGKILL.
func runCrashChild(raw string) int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "crash child: invalid %s: %v\n", envCrashChild, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

	pool, err := pgxpool.New(ctx, cfg.DSN)
	if err != nil {
		logger.Error("connecting to PostgreSQL failed", "error", err)
		return 1
	}
	defer pool.Close()

	sink, err := New(Config{
		ClientOpts: []kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			// A short session lets the restarted sink take over the
			// partitions of the killed one quickly.
			kgo.SessionTimeout(time.Second),
			kgo.HeartbeatInterval(200 * time.Millisecond),
		},
		Group:          cfg.Group,
		Webhooks:       Webhooks{Default: cfg.URL},
		Ledger:         NewPostgresLedger(pool, cfg.Schema),
		Retry:          fastRetry,
		RequestTimeout: time.Minute, // the killed post must not time out first
		MaxPollRecords: crashPollRecords,
		Logger:         logger,
	})
	if err != nil {
		logger.Error("creating the sink failed", "error", err)
		return 1
	}
	defer sink.Close()
	if err := sink.Run(ctx); err != nil {
		logger.Error("sink stopped", "error", err)
		return 1
	}
	logger.Info("sink stopped", "stats", fmt.Sprintf("%+v", sink.Stats()))
	return 0
}

func TestSinkCrashRestart(t *testing.T) {
	pool, schema := newTestPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(testPartitions, topics.Notifications, topics.DLQ),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	srv := newCaptureServer(t)
	ns := notifications("acme", crashNotifications)
	produceNotifications(ctx, t, brokers, ns...)

	// The server holds post number crashKillAtPost open until the sink is
	// killed, so the kill lands while that post is in flight.
	killNow := make(chan struct{}, 1)
	var once sync.Once
	srv.setOnPost(func(n int, r *http.Request) {
		if n != crashKillAtPost {
			return
		}
		once.Do(func() {
			killNow <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		})
	})

	child := childConfig{
		Brokers: brokers,
		DSN:     testenv.PostgresDSN(t),
		Schema:  schema,
		URL:     srv.url("T000/B000/" + secretToken),
		Group:   "slack-crash-test",
	}
	logDir := t.TempDir()

	first := startChild(t, child, filepath.Join(logDir, "first.log"))
	select {
	case <-killNow:
	case <-ctx.Done():
		t.Fatalf("the first sink never reached post %d; log:\n%s", crashKillAtPost, tail(filepath.Join(logDir, "first.log")))
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the first sink: %v", err)
	}
	_ = first.Wait()
	inFlight := srv.snapshot()[crashKillAtPost-1].eventID
	srv.setOnPost(nil)

	second := startChild(t, child, filepath.Join(logDir, "second.log"))
	waitFor(t, 90*time.Second, "every notification to be delivered or unknown", func() bool {
		return countFinal(ctx, t, pool, schema) == crashNotifications
	})
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the second sink: %v", err)
	}
	waitChild(t, second, 20*time.Second)

	// The server saw each event at most once, and every event once.
	byEvent := srv.postsByEvent()
	for id, count := range byEvent {
		if count != 1 {
			t.Errorf("event %s posted %d times, expected at most once", id, count)
		}
	}
	if len(byEvent) != crashNotifications {
		t.Errorf("the server saw %d distinct events, expected %d", len(byEvent), crashNotifications)
	}

	// The ledger holds every notification as delivered, except at most the
	// one post in flight at the kill, which is unknown.
	statuses := ledgerStatuses(ctx, t, pool, schema)
	var unknown []string
	for _, n := range ns {
		switch statuses[n.EventID] {
		case StatusDelivered:
		case StatusUnknown:
			unknown = append(unknown, n.EventID)
		default:
			t.Errorf("event %s has ledger status %q, expected delivered or unknown", n.EventID, statuses[n.EventID])
		}
	}
	if len(unknown) > 1 {
		t.Errorf("%d unknown entries, expected at most the 1 post in flight: %v", len(unknown), unknown)
	}
	if len(unknown) == 1 && unknown[0] != inFlight {
		t.Errorf("unknown entry %s is not the post in flight at the kill (%s)", unknown[0], inFlight)
	}
	t.Logf("after the kill at post %d: %d unknown, %d delivered", crashKillAtPost, len(unknown), len(ns)-len(unknown))
	if t.Failed() || testing.Verbose() {
		t.Logf("second sink log:\n%s", tail(filepath.Join(logDir, "second.log")))
	}
}

// startChild starts the sink subprocess with its output in logPath.
func startChild(t *testing.T, cfg childConfig, logPath string) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+string(raw))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the sink subprocess: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// waitChild waits for cmd to exit with status 0, killing it after timeout.
func waitChild(t *testing.T, cmd *exec.Cmd, timeout time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Errorf("the sink subprocess exited with %v, expected 0 after SIGTERM", err)
		}
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("the sink subprocess did not stop within %v of SIGTERM", timeout)
	}
}

// countFinal counts the ledger entries that are delivered or unknown.
func countFinal(ctx context.Context, t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "slack_deliveries"}.Sanitize()+
		" WHERE status IN ('delivered', 'unknown')").Scan(&n)
	if err != nil {
		t.Fatalf("counting ledger entries: %v", err)
	}
	return n
}

// ledgerStatuses returns the status of every ledger entry by event ID.
func ledgerStatuses(ctx context.Context, t *testing.T, pool *pgxpool.Pool, schema string) map[string]Status {
	t.Helper()
	rows, err := pool.Query(ctx, "SELECT event_id, status FROM "+pgx.Identifier{schema, "slack_deliveries"}.Sanitize())
	if err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	out := make(map[string]Status)
	var id, status string
	_, err = pgx.ForEachRow(rows, []any{&id, &status}, func() error {
		out[id] = Status(status)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	return out
}

// tail returns the last 4 KiB of a log file.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data[max(0, len(data)-4096):])
}
