package postgres

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
)

// TestRealBroker runs the sink against the local Kafka broker with topics
// of its own: committed transactions are applied, an aborted one is not,
// and an undecodable record reaches the DLQ.
func TestRealBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn := testSchema(t)
	suffix := randomSuffix(t)
	topic := "mailtriage.tickets.v1.sinktest-" + suffix
	dlqTopic := "mailtriage.dlq.v1.sinktest-" + suffix
	createTopics(t, brokers, topic, dlqTopic)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := newAdmin(t, brokers).DeleteTopics(ctx, topic, dlqTopic); err != nil {
			t.Logf("deleting test topics: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("sinktest-"+suffix))
	if err != nil {
		t.Fatalf("creating the transactional producer: %v", err)
	}
	defer producer.Close()
	send := func(commit bool, records ...*kgo.Record) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("beginning a transaction: %v", err)
		}
		if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("producing %d records: %v", len(records), err)
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("ending a transaction: %v", err)
		}
	}

	const tickets = 200
	var creates, appends []*kgo.Record
	for i := range tickets {
		ref := "T-" + strconv.Itoa(i)
		creates = append(creates, commandRecord(t, topic, command("acme", ref, ActionCreate, i)))
		appends = append(appends, commandRecord(t, topic, command("acme", ref, ActionAppend, tickets+i)))
	}
	send(true, creates...)
	send(false, commandRecord(t, topic, command("acme", "T-aborted", ActionCreate, 0)))
	send(true, append(appends, &kgo.Record{Topic: topic, Key: []byte("acme/T-bad"), Value: []byte("not avro")})...)

	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sink log:\n%s", logs.String())
		}
	})
	cfg := testConfig(dsn, brokers, logs)
	cfg.Topic = topic
	cfg.DLQTopic = dlqTopic
	cfg.Group = "sinktest-" + suffix
	runSink(t, cfg)
	pool := newPool(t, dsn)

	// The stored offsets end where the partitions end, control records
	// of the transactions included.
	end := endOffsetTotal(t, newAdmin(t, brokers), topic)
	waitApplied(t, pool, cfg.Group, end, 90*time.Second)

	if got := count(t, pool, "SELECT count(*) FROM tickets"); got != tickets {
		t.Errorf("tickets: got %d, expected %d", got, tickets)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_messages"); got != 2*tickets {
		t.Errorf("messages: got %d, expected %d", got, 2*tickets)
	}
	if got := count(t, pool, "SELECT count(*) FROM tickets WHERE ticket_ref = 'T-aborted'"); got != 0 {
		t.Errorf("the aborted ticket was written %d times, expected never", got)
	}
	dead := readDLQ(t, brokers, dlqTopic, 1)
	if dl := dead[0].letter; dl.Stage != Stage || dl.SourceTopic != topic || string(dl.Key) != "acme/T-bad" {
		t.Errorf("dead letter: stage %q, source topic %q, key %q, expected %q, %q, acme/T-bad", dl.Stage, dl.SourceTopic, dl.Key, Stage, topic)
	}
}

// endOffsetTotal returns the sum of the end offsets of topic's partitions.
func endOffsetTotal(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	var total int64
	listed.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total
}
