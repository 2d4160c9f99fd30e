package state

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testChangelog = "test.changelog"

func startCluster(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, testChangelog))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func newTxnProducer(t *testing.T, brokers []string, txnID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.TransactionalID(txnID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newRestoreClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		t.Fatalf("creating the restore client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// writeTxn produces key/value pairs to partition 1 in one transaction; a
// value "<nil>" is a tombstone.
func writeTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, kv ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		rec := &kgo.Record{Topic: testChangelog, Partition: 1, Key: []byte(kv[i]), Value: []byte(kv[i+1])}
		if kv[i+1] == "<nil>" {
			rec.Value = nil
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", kv[i], err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

func TestRestoreReadsCommittedState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startCluster(t)
	prod := newTxnProducer(t, brokers, "restore-test")

	writeTxn(ctx, t, prod, true, "k1", "v1", "k2", "v2", "k3", "")
	writeTxn(ctx, t, prod, false, "k1", "aborted", "k4", "aborted")
	writeTxn(ctx, t, prod, true, "k2", "<nil>")

	store, err := Restore(ctx, newRestoreClient(t, brokers), testChangelog, 1)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if v, ok := store.Get("k1"); !ok || string(v) != "v1" {
		t.Errorf("k1 = %q, %v; expected the committed v1", v, ok)
	}
	if _, ok := store.Get("k2"); ok {
		t.Error("k2 is present although a tombstone deleted it")
	}
	if v, ok := store.Get("k3"); !ok || len(v) != 0 {
		t.Errorf("k3 = %q, %v; expected an empty value that is present", v, ok)
	}
	if _, ok := store.Get("k4"); ok {
		t.Error("k4 is present although only an aborted transaction wrote it")
	}
	if n := store.Len(); n != 2 {
		t.Errorf("restored %d keys, expected 2", n)
	}

	empty, err := Restore(ctx, newRestoreClient(t, brokers), testChangelog, 0)
	if err != nil {
		t.Fatalf("Restore of the empty partition: %v", err)
	}
	if n := empty.Len(); n != 0 {
		t.Errorf("restored %d keys from an empty partition, expected 0", n)
	}
}

func TestRestoreWaitsForOpenTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers := startCluster(t)
	prod := newTxnProducer(t, brokers, "restore-open")

	writeTxn(ctx, t, prod, true, "early", "1")
	if err := prod.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	late := &kgo.Record{Topic: testChangelog, Partition: 1, Key: []byte("late"), Value: []byte("2")}
	if err := prod.ProduceSync(ctx, late).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	type result struct {
		store *Changelog
		err   error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Restore(ctx, newRestoreClient(t, brokers), testChangelog, 1)
		done <- result{s, err}
	}()

	select {
	case r := <-done:
		t.Fatalf("Restore returned while a transaction was open (err %v)", r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}

	r := <-done
	if r.err != nil {
		t.Fatalf("Restore: %v", r.err)
	}
	if v, ok := r.store.Get("late"); !ok || string(v) != "2" {
		t.Errorf("late = %q, %v; expected 2 from the transaction that was open", v, ok)
	}
	if _, ok := r.store.Get("early"); !ok {
		t.Error("early is missing")
	}
}

func TestRestoreRejectsUncommittedClient(t *testing.T) {
	brokers := startCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = Restore(context.Background(), cl, testChangelog, 0)
	if err == nil || !strings.Contains(err.Error(), "ReadCommitted") {
		t.Errorf("Restore with a read_uncommitted client returned %v, expected an error naming ReadCommitted", err)
	}
}
