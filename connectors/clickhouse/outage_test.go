package clickhouse

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"mailtriage/internal/testenv"
)

func TestSinkRidesOutClickHouseOutage(t *testing.T) {
	const n = 2000
	script := testenv.Get(t, testenv.EnvStackScript)
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	producer := newClient(t, brokers)

	var logs logBuffer
	cfg := testConfig(db, brokers, "outage", logs.logger())
	cfg.BatchRows = 100
	cfg.BatchWait = 50 * time.Millisecond
	cfg.RetryMin = 100 * time.Millisecond
	cfg.RetryMax = time.Second
	cfg.QueryTimeout = 5 * time.Second
	sink := startSink(t, cfg)

	produce(ctx, t, producer, eventRecords(t, "acme", 0, n/2))
	waitForFinalCount(ctx, t, db, n/2)

	runStack(ctx, t, script, "stop", "clickhouse")
	stopped := true
	t.Cleanup(func() {
		if stopped {
			runStack(context.Background(), t, script, "start", "clickhouse")
		}
	})

	produce(ctx, t, producer, eventRecords(t, "acme", n/2, n))
	waitFor(ctx, t, "three failed inserts while ClickHouse is down", func() (bool, string) {
		st := sink.Stats()
		return st.InsertRetries >= 3, fmt.Sprintf("%d retries", st.InsertRetries)
	})

	runStack(ctx, t, script, "start", "clickhouse")
	stopped = false
	waitForFinalCount(ctx, t, db, n)
	if err := sink.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := db.finalCount(ctx, t); got != n {
		t.Errorf("count with FINAL after the outage: got %d, expected %d", got, n)
	}
	st := sink.Stats()
	if st.Rows < n {
		t.Errorf("rows inserted: got %d, expected at least %d", st.Rows, n)
	}

	// One log line per failed attempt, each with its error, numbered 1, 2, …
	// within one run of retries, then one line when the insert succeeds.
	retries := logs.entries(t, "inserting into ClickHouse failed; retrying")
	if int64(len(retries)) != st.InsertRetries {
		t.Errorf("retry log lines: got %d, expected one per retry, %d", len(retries), st.InsertRetries)
	}
	previous := 0.0
	for i, entry := range retries {
		attempt, _ := entry["attempt"].(float64)
		if attempt != 1 && attempt != previous+1 {
			t.Errorf("retry log line %d: attempt %v follows attempt %v; expected 1 or %v", i, attempt, previous, previous+1)
		}
		previous = attempt
		if text, _ := entry["error"].(string); text == "" {
			t.Errorf("retry log line %d has no error: %v", i, entry)
		}
	}
	recovered := logs.entries(t, "inserting into ClickHouse succeeded after retries")
	if len(recovered) == 0 {
		t.Errorf("no log line reports the insert succeeding after the retries")
	}
}

// runStack runs the stack script with args, such as "stop clickhouse", and
// fails the test when it fails or takes over three minutes.
func runStack(ctx context.Context, t *testing.T, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	t.Logf("%s %v:\n%s", script, args, out)
}
