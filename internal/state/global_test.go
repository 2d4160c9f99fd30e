package state

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testGlobal = "test.global"

func startGlobalCluster(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, testGlobal))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// newKeyedTxnProducer returns a transactional producer that places
// records by key, as the runner does for the global table.
func newKeyedTxnProducer(t *testing.T, brokers []string, txnID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(txnID),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceTxn writes records in one transaction and commits or aborts it.
func produceTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("ending the transaction: %v", err)
	}
}

func globalRecord(key, value string) *kgo.Record {
	return &kgo.Record{Topic: testGlobal, Key: []byte(key), Value: []byte(value)}
}

func newTestTable(t *testing.T, brokers []string, maxAge time.Duration, now func() time.Time) *GlobalTable {
	t.Helper()
	g, err := NewGlobalTable(GlobalTableConfig{
		Topic:      testGlobal,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(100 * time.Millisecond)},
		MaxAge:     maxAge,
		Now:        now,
	})
	if err != nil {
		t.Fatalf("NewGlobalTable: %v", err)
	}
	t.Cleanup(g.Close)
	return g
}

func expectValue(t *testing.T, g *GlobalTable, key, want string) {
	t.Helper()
	got, ok := g.Get(key)
	if !ok {
		t.Errorf("Get(%q) found nothing, expected %q", key, want)
		return
	}
	if string(got) != want {
		t.Errorf("Get(%q) = %q, expected %q", key, got, want)
	}
}

func expectAbsent(t *testing.T, g *GlobalTable, key string) {
	t.Helper()
	if got, ok := g.Get(key); ok {
		t.Errorf("Get(%q) = %q, expected no value", key, got)
	}
}

func TestGlobalRestoreSkipsAbortedWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startGlobalCluster(t)
	producer := newKeyedTxnProducer(t, brokers, "global-writer")

	produceTxn(ctx, t, producer, true, globalRecord("a", "1"), globalRecord("b", "1"))
	produceTxn(ctx, t, producer, false, globalRecord("aborted", "x"), globalRecord("a", "aborted"))
	produceTxn(ctx, t, producer, true, globalRecord("b", "2"),
		&kgo.Record{Topic: testGlobal, Key: []byte("gone")})

	g := newTestTable(t, brokers, 0, nil)
	if err := g.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	expectValue(t, g, "a", "1")
	expectValue(t, g, "b", "2")
	expectAbsent(t, g, "aborted")
	expectAbsent(t, g, "gone")
	if got := g.Len(); got != 2 {
		t.Errorf("Len = %d, expected 2", got)
	}
}

func TestGlobalRestoreDoesNotWaitForOpenTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startGlobalCluster(t)
	producer := newKeyedTxnProducer(t, brokers, "global-writer")
	produceTxn(ctx, t, producer, true, globalRecord("before", "1"))

	open := newKeyedTxnProducer(t, brokers, "global-open")
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, globalRecord("later", "2")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	g := newTestTable(t, brokers, 0, nil)
	restoreCtx, restoreCancel := context.WithTimeout(ctx, 5*time.Second)
	defer restoreCancel()
	if err := g.Restore(restoreCtx); err != nil {
		t.Fatalf("Restore with another instance's transaction open: %v", err)
	}
	expectValue(t, g, "before", "1")
	expectAbsent(t, g, "later")

	followCtx, stopFollow := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Follow(followCtx) }()
	if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	waitForValue(ctx, t, g, "later", "2")
	stopFollow()
	if err := <-done; err != nil {
		t.Errorf("Follow returned %v after cancel, expected nil", err)
	}
}

func waitForValue(ctx context.Context, t *testing.T, g *GlobalTable, key, want string) {
	t.Helper()
	for {
		if got, ok := g.Get(key); ok && string(got) == want {
			return
		}
		select {
		case <-ctx.Done():
			got, _ := g.Get(key)
			t.Fatalf("Get(%q) = %q when the test timed out, expected %q", key, got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The runner's cycle: writes are visible to Get at once, a committed
// batch stays visible before and after the reader reads it back, and an
// aborted batch disappears.
func TestGlobalPendingCommitAndAbort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startGlobalCluster(t)
	g := newTestTable(t, brokers, 0, nil)
	if err := g.Restore(ctx); err != nil {
		t.Fatalf("Restore of an empty topic: %v", err)
	}
	producer := newKeyedTxnProducer(t, brokers, "global-runner")

	g.Put("kept", []byte("v1"))
	g.Put("dropped", []byte("v1"))
	g.Delete("dropped")
	expectValue(t, g, "kept", "v1")
	expectAbsent(t, g, "dropped")

	recs := g.Pending()
	if len(recs) != 2 {
		t.Fatalf("Pending returned %d records, expected 2", len(recs))
	}
	if recs[1].Value != nil {
		t.Errorf("the record of a deleted key has value %q, expected a tombstone", recs[1].Value)
	}
	produceTxn(ctx, t, producer, true, recs...)
	g.Commit()
	expectValue(t, g, "kept", "v1")

	g.Put("aborted", []byte("v"))
	produceTxn(ctx, t, producer, false, g.Pending()...)
	g.Abort()
	expectAbsent(t, g, "aborted")

	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go func() { _ = g.Follow(followCtx) }()
	// A marker record after the batches shows when the reader passed them.
	produceTxn(ctx, t, producer, true, globalRecord("marker", "m"))
	waitForValue(ctx, t, g, "marker", "m")
	expectValue(t, g, "kept", "v1")
	expectAbsent(t, g, "aborted")

	g.mu.Lock()
	left := len(g.recent)
	g.mu.Unlock()
	if left != 0 {
		t.Errorf("%d own writes still wait to be read back, expected none once the reader passed them", left)
	}
}

// A newer write of another instance that the reader applies after this
// instance's committed write replaces it, as in the order of the log.
func TestGlobalLaterWriteOfOtherInstanceWins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startGlobalCluster(t)
	g := newTestTable(t, brokers, 0, nil)
	if err := g.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	mine := newKeyedTxnProducer(t, brokers, "global-mine")
	other := newKeyedTxnProducer(t, brokers, "global-other")

	g.Put("k", []byte("mine"))
	produceTxn(ctx, t, mine, true, g.Pending()...)
	g.Commit()
	produceTxn(ctx, t, other, true, globalRecord("k", "theirs"))

	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go func() { _ = g.Follow(followCtx) }()
	waitForValue(ctx, t, g, "k", "theirs")
}

func TestGlobalMaxAgeHidesOldEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startGlobalCluster(t)
	producer := newKeyedTxnProducer(t, brokers, "global-writer")
	old := globalRecord("old", "1")
	old.Timestamp = time.Now().Add(-48 * time.Hour)
	produceTxn(ctx, t, producer, true, old, globalRecord("new", "1"))

	g := newTestTable(t, brokers, 24*time.Hour, nil)
	if err := g.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	expectAbsent(t, g, "old")
	expectValue(t, g, "new", "1")

	// A clock two days ahead makes the new entry expire as well, and
	// sweep drops it from memory.
	g.now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	expectAbsent(t, g, "new")
	if n := g.sweep(); n != 1 {
		t.Errorf("sweep dropped %d entries, expected 1", n)
	}
}

func TestGlobalRestoreMissingTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	g := newTestTable(t, cluster.ListenAddrs(), 0, nil)
	err = g.Restore(ctx)
	if err == nil {
		t.Fatal("Restore of a missing topic succeeded, expected an error")
	}
	if !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "mailtriage topics create") {
		t.Errorf("Restore error %q, expected it to say the topic does not exist and how to create it", err)
	}
}

func TestNewGlobalTableValidates(t *testing.T) {
	cases := map[string]GlobalTableConfig{
		"no topic":       {ClientOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}},
		"no client opts": {Topic: testGlobal},
		"negative age":   {Topic: testGlobal, ClientOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, MaxAge: -time.Second},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if g, err := NewGlobalTable(cfg); err == nil {
				g.Close()
				t.Error("NewGlobalTable succeeded, expected a config error")
			}
		})
	}
}
