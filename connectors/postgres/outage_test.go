package postgres

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// retryMessage is the log message of a failed batch write.
const retryMessage = "writing the batch to PostgreSQL failed; retrying"

// outage takes PostgreSQL away from the sink and brings it back.
type outage struct {
	begin       func(t *testing.T)
	end         func(t *testing.T)
	description string
}

// newOutage returns the outage the environment allows. With the stack
// script (MAILTRIAGE_STACK_SCRIPT) it stops and starts the PostgreSQL
// server. Without it, it locks the sink out of its own database: it
// forbids new connections with ALLOW_CONNECTIONS false and ends the open
// ones with pg_terminate_backend, which the sink gets as a server that
// rejects connections.
func newOutage(admin *pgxpool.Pool, database string) outage {
	if script := os.Getenv(testenv.EnvStackScript); script != "" {
		run := func(t *testing.T, action string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, script, action, "postgres").CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s postgres: %v\n%s", script, action, err, out)
			}
		}
		return outage{
			begin:       func(t *testing.T) { run(t, "stop") },
			end:         func(t *testing.T) { run(t, "start") },
			description: "stack script stop/start postgres",
		}
	}

	exec := func(t *testing.T, sql string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return outage{
		begin: func(t *testing.T) {
			exec(t, "ALTER DATABASE "+database+" WITH ALLOW_CONNECTIONS false")
			exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+database+"' AND pid <> pg_backend_pid()")
		},
		end:         func(t *testing.T) { exec(t, "ALTER DATABASE "+database+" WITH ALLOW_CONNECTIONS true") },
		description: "database lock-out with ALLOW_CONNECTIONS false and pg_terminate_backend",
	}
}

// testDatabase creates a database of its own for the test, dropped at
// cleanup, and returns its DSN, its name and a pool on the base database.
func testDatabase(t *testing.T) (dsn, name string, admin *pgxpool.Pool) {
	t.Helper()
	base := testenv.PostgresDSN(t)
	name = "sinktest_" + randomSuffix(t)
	admin = newPool(t, base)
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name), name, admin
}

func TestPostgresOutageCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("outage test skipped in -short mode")
	}
	dsn, database, admin := testDatabase(t)
	brokers := startKafka(t)
	logs := &syncBuffer{}
	out := newOutage(admin, database)
	t.Logf("outage by %s", out.description)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sink log:\n%s", logs.String())
		}
	})

	const perPhase = 300
	phase := func(from int) []*kgo.Record {
		var records []*kgo.Record
		for i := from; i < from+perPhase; i++ {
			records = append(records, commandRecord(t, topics.Tickets, command("acme", "T-"+strconv.Itoa(i), ActionCreate, i)))
		}
		return records
	}
	produce(t, brokers, phase(0)...)

	cfg := testConfig(dsn, brokers, logs)
	stop := runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, perPhase, 60*time.Second)

	out.begin(t)
	produce(t, brokers, phase(perPhase)...)
	// Let several retries fail before the database comes back.
	waitForLog(t, logs, retryMessage, 5, 60*time.Second)
	out.end(t)

	waitApplied(t, pool, cfg.Group, 2*perPhase, 120*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := count(t, pool, "SELECT count(*) FROM tickets"); got != 2*perPhase {
		t.Errorf("tickets: got %d, expected %d", got, 2*perPhase)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_messages"); got != 2*perPhase {
		t.Errorf("messages: got %d, expected %d", got, 2*perPhase)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_events"); got != 4*perPhase {
		t.Errorf("events: got %d, expected %d", got, 4*perPhase)
	}

	// Each retry is logged once: the attempt numbers of the retry lines
	// run 1, 2, 3, ... without a repeat or a gap, and each names the
	// error.
	attempts := retryAttempts(t, logs.String())
	if len(attempts) < 5 {
		t.Fatalf("found %d retry log lines, expected at least 5", len(attempts))
	}
	for i, a := range attempts {
		if a.attempt != i+1 {
			t.Fatalf("retry log attempts: got %v, expected 1..%d each once", attempts, len(attempts))
		}
		if a.err == "" {
			t.Errorf("retry log line of attempt %d has no error", a.attempt)
		}
	}
	if !strings.Contains(logs.String(), "batch written after retries") {
		t.Errorf("no log line reports the batch written after the retries")
	}
}

// retryLine is one logged retry of a batch write.
type retryLine struct {
	attempt int
	err     string
}

// retryAttempts returns the retry lines of a batch write in logs, a JSON
// log, in order.
func retryAttempts(t *testing.T, logs string) []retryLine {
	t.Helper()
	var out []retryLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			Attempt int    `json:"attempt"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if line.Msg == retryMessage {
			out = append(out, retryLine{attempt: line.Attempt, err: line.Error})
		}
	}
	return out
}

// waitForLog waits until logs holds n lines with message msg.
func waitForLog(t *testing.T, logs *syncBuffer, msg string, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, strconv.Itoa(n)+" log lines "+strconv.Quote(msg), func() (bool, error) {
		return strings.Count(logs.String(), `"msg":"`+msg+`"`) >= n, nil
	})
}

func TestRetryLogRedactsPassword(t *testing.T) {
	r := redactor{password: "s3cret-pw"}
	err := &os.PathError{Op: "dial", Path: "postgres://u:s3cret-pw@host/db", Err: os.ErrNotExist}
	got := r.text(err)
	if strings.Contains(got, "s3cret-pw") {
		t.Errorf("redacted text %q still contains the password", got)
	}
	if !strings.Contains(got, "postgres://u:xxxxx@host/db") {
		t.Errorf("redacted text %q lost the rest of the message", got)
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	lo, hi := 200*time.Millisecond, 30*time.Second
	cases := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{2, 200 * time.Millisecond, 400 * time.Millisecond},
		{5, 1600 * time.Millisecond, 3200 * time.Millisecond},
		{9, 15 * time.Second, 30 * time.Second},
		{1000, 15 * time.Second, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run("attempt "+strconv.Itoa(c.attempt), func(t *testing.T) {
			var seen []time.Duration
			for range 200 {
				d := backoff(c.attempt, lo, hi)
				if d < c.min || d > c.max {
					t.Fatalf("backoff(%d) = %v, expected between %v and %v", c.attempt, d, c.min, c.max)
				}
				seen = append(seen, d)
			}
			slices.Sort(seen)
			if seen[0] == seen[len(seen)-1] {
				t.Errorf("backoff(%d) returned %v 200 times: expected jitter", c.attempt, seen[0])
			}
		})
	}
}
