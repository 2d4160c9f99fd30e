package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/topics"
)

// Environment of the sink subprocess that the crash test starts by
// running the test binary again.
const (
	envChild        = "MAILTRIAGE_PGSINK_TEST_CHILD" // "1" makes the test binary run a sink instead of the tests
	envChildDSN     = "MAILTRIAGE_PGSINK_TEST_DSN"
	envChildBrokers = "MAILTRIAGE_PGSINK_TEST_BROKERS"
	envChildDelay   = "MAILTRIAGE_PGSINK_TEST_COMMIT_DELAY" // pause before each COMMIT, as a Go duration
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(runChildSink())
	}
	os.Exit(m.Run())
}

// runChildSink runs a sink from the environment until SIGTERM and returns
// the process exit code.
func runChildSink() int {
	delay, err := time.ParseDuration(os.Getenv(envChildDelay))
	if err != nil {
		fmt.Fprintf(os.Stderr, "invalid %s: %v\n", envChildDelay, err)
		return 2
	}
	cfg := Config{
		DSN: os.Getenv(envChildDSN),
		KafkaOpts: []kgo.Opt{
			kgo.SeedBrokers(strings.Split(os.Getenv(envChildBrokers), ",")...),
			// A killed member leaves the group only when its session
			// times out; a short session lets the restart join quickly.
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(time.Second),
		},
		Group:      "sink-crash-test",
		BatchSize:  50,
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: time.Second,
		Logger:     slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	sink, err := New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating the sink: %v\n", err)
		return 1
	}
	sink.beforeCommit = func() { time.Sleep(delay) }

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = sink.Run(ctx)
	sink.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Run: %v\n", err)
		return 1
	}
	return 0
}

// startChild starts the test binary as a sink process logging to a file
// in dir.
func startChild(t *testing.T, dir, name, dsn string, brokers []string) *exec.Cmd {
	t.Helper()
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatalf("creating the log of %s: %v", name, err)
	}
	t.Cleanup(func() { logFile.Close() })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envChild+"=1",
		envChildDSN+"="+dsn,
		envChildBrokers+"="+strings.Join(brokers, ","),
		envChildDelay+"=20ms",
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// childLog returns the log of the named child for failure messages.
func childLog(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func TestCrashMidRunLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dsn := testSchema(t)
	brokers := startKafka(t)
	dir := t.TempDir()

	// Every ticket gets a create, and every even one a follow-up as well.
	const tickets = 2400
	const appends = tickets / 2
	const commands = tickets + appends
	records := make([]*kgo.Record, 0, commands)
	for i := range tickets {
		records = append(records, commandRecord(t, topics.Tickets, command("acme", "T-"+strconv.Itoa(i), ActionCreate, i)))
	}
	for i := 0; i < tickets; i += 2 {
		records = append(records, commandRecord(t, topics.Tickets, command("acme", "T-"+strconv.Itoa(i), ActionAppend, tickets+i)))
	}
	produce(t, brokers, records...)
	pool := newPool(t, dsn)

	first := startChild(t, dir, "first", dsn, brokers)
	waitFor(t, 60*time.Second, "the first sink to write 400 messages", func() (bool, error) {
		var n int64
		err := pool.QueryRow(context.Background(), "SELECT count(*) FROM ticket_messages").Scan(&n)
		return err == nil && n >= 400, err
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the first sink: %v", err)
	}
	_ = first.Wait()
	atKill := count(t, pool, "SELECT count(*) FROM ticket_messages")
	if atKill >= commands {
		t.Fatalf("the first sink wrote all %d messages before the kill; the test needs a kill mid-run", atKill)
	}
	t.Logf("killed the first sink after %d of %d messages", atKill, commands)

	second := startChild(t, dir, "second", dsn, brokers)
	waitFor(t, 120*time.Second, "the second sink to catch up", func() (bool, error) {
		n, err := storedTotal(pool, "sink-crash-test")
		return err == nil && n == commands, err
	})
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the second sink: %v", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- second.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("second sink exited with %v after SIGTERM\n%s", err, childLog(dir, "second"))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("second sink did not exit within 30s of SIGTERM\n%s", childLog(dir, "second"))
	}

	checks := []struct {
		name  string
		query string
		want  int64
	}{
		{"tickets", "SELECT count(*) FROM tickets", tickets},
		{"messages", "SELECT count(*) FROM ticket_messages", commands},
		{"created events", "SELECT count(*) FROM ticket_events WHERE kind = 'created'", tickets},
		{"routed events", "SELECT count(*) FROM ticket_events WHERE kind = 'routed'", tickets},
		{"replied events", "SELECT count(*) FROM ticket_events WHERE kind = 'replied'", appends},
		{"tickets with a wrong message count", `SELECT count(*) FROM (
			SELECT t.ticket_ref, count(m.id) AS n FROM tickets t LEFT JOIN ticket_messages m ON m.ticket_id = t.id
			GROUP BY t.ticket_ref
			HAVING count(m.id) <> CASE WHEN substr(t.ticket_ref, 3)::int % 2 = 0 THEN 2 ELSE 1 END) wrong`, 0},
		{"message IDs stored twice", "SELECT count(*) - count(DISTINCT message_id) FROM ticket_messages", 0},
	}
	for _, c := range checks {
		if got := count(t, pool, c.query); got != c.want {
			t.Errorf("%s: got %d, expected %d", c.name, got, c.want)
		}
	}
}
