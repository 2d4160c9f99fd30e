package clickhouse

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/topics"
)

// Environment of the sink that TestSinkSurvivesSIGKILL runs in a child
// process: the test binary itself, started again with childEnv set.
const (
	childEnv         = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD"
	childEnvBrokers  = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD_BROKERS"
	childEnvAddr     = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD_ADDR"
	childEnvDatabase = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD_DATABASE"
	childEnvTable    = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD_TABLE"
	childEnvGroup    = "MAILTRIAGE_CLICKHOUSE_SINK_CHILD_GROUP"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChildSink())
	}
	os.Exit(m.Run())
}

// runChildSink runs a sink configured from the child environment until
// SIGTERM, with small batches so that a run spans many commits.
func runChildSink() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	sink, err := New(Config{
		Addr:     os.Getenv(childEnvAddr),
		Database: os.Getenv(childEnvDatabase),
		Table:    os.Getenv(childEnvTable),
		// The other tables are named after the decisions table, as in
		// testConfig, so the test drops them too.
		FeedbackTable:     eventTablesOf(os.Getenv(childEnvTable)).Feedback,
		TicketEventsTable: eventTablesOf(os.Getenv(childEnvTable)).TicketEvents,
		DeadLettersTable:  eventTablesOf(os.Getenv(childEnvTable)).DeadLetters,
		Group:             os.Getenv(childEnvGroup),
		// A short session lets the restarted sink take over the partitions
		// of the killed one within seconds.
		KafkaOpts: []kgo.Opt{
			kgo.SeedBrokers(strings.Split(os.Getenv(childEnvBrokers), ",")...),
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(time.Second),
		},
		BatchRows: 50,
		BatchWait: 20 * time.Millisecond,
		RetryMin:  20 * time.Millisecond,
		RetryMax:  300 * time.Millisecond,
		Logger:    logger,
	})
	if err != nil {
		logger.Error("creating the sink failed", "error", err.Error())
		return 1
	}
	defer sink.Close()
	if err := sink.Run(ctx); err != nil {
		logger.Error("sink failed", "error", err.Error())
		return 1
	}
	return 0
}

// childSink is a sink running in a child process.
type childSink struct {
	cmd    *exec.Cmd
	output *bytes.Buffer
	done   chan error
}

func startChildSink(ctx context.Context, t *testing.T, db *testDB, brokers []string, group string) *childSink {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		childEnvBrokers+"="+strings.Join(brokers, ","),
		childEnvAddr+"="+db.addr,
		childEnvDatabase+"="+db.database,
		childEnvTable+"="+db.table,
		childEnvGroup+"="+group,
	)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the child sink: %v", err)
	}
	c := &childSink{cmd: cmd, output: &output, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("output of child sink %d:\n%s", c.cmd.Process.Pid, c.output.String())
		}
	})
	return c
}

// signal sends sig to the child and waits up to 30s for it to exit.
func (c *childSink) signal(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to the child sink: %v", sig, err)
	}
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("child sink %d did not exit within 30s of %v", c.cmd.Process.Pid, sig)
		return nil
	}
}

func TestSinkSurvivesSIGKILL(t *testing.T) {
	const n = 3000
	const group = "sigkill"
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	producer := newClient(t, brokers)

	// Each round produces its share of the events, then kills the sink with
	// SIGKILL once the table holds at least killAt rows, so the kill lands
	// while records are still arriving and batches are being committed.
	rounds := []struct{ produceTo, killAt int }{{1500, 500}, {n, 2000}}
	produced := 0
	for i, round := range rounds {
		produce(ctx, t, producer, eventRecords(t, "acme", produced, round.produceTo))
		produced = round.produceTo

		child := startChildSink(ctx, t, db, brokers, group)
		waitFor(ctx, t, fmt.Sprintf("round %d: %d rows before the kill", i+1, round.killAt), func() (bool, string) {
			got, err := countRows(ctx, db, "SELECT count() FROM %s FINAL")
			return err == nil && got >= uint64(round.killAt), fmt.Sprintf("%d rows, error %v", got, err)
		})
		err := child.signal(t, syscall.SIGKILL)
		if status, ok := err.(*exec.ExitError); !ok || status.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child exit: got %v, expected death by SIGKILL", i+1, err)
		}
		finalAtKill, _ := countRows(ctx, db, "SELECT count() FROM %s FINAL")
		t.Logf("round %d: killed the sink with %d of %d produced events in the table", i+1, finalAtKill, produced)
	}

	child := startChildSink(ctx, t, db, brokers, group)
	waitForFinalCount(ctx, t, db, n)
	adm := kadm.NewClient(newClient(t, brokers))
	waitFor(ctx, t, "every offset to be committed", func() (bool, string) {
		return committedAll(ctx, t, adm, group, topics.Analytics)
	})
	if err := child.signal(t, syscall.SIGTERM); err != nil {
		t.Errorf("child exit after SIGTERM: got %v, expected status 0", err)
	}

	if got := db.finalCount(ctx, t); got != n {
		t.Errorf("count with FINAL: got %d, expected %d", got, n)
	}
	if got := db.argMaxCount(ctx, t); got != n {
		t.Errorf("count of argMax groups: got %d, expected %d", got, n)
	}
	t.Logf("stored rows before merges: %d for %d events", db.rawCount(ctx, t), n)
}

// countRows runs a count query on the test table and returns its error
// instead of failing, for polls that run while the table may be missing
// or the server restarting.
func countRows(ctx context.Context, db *testDB, query string) (uint64, error) {
	var n uint64
	err := db.conn.QueryRow(ctx, fmt.Sprintf(query, db.qualified())).Scan(&n)
	return n, err
}
