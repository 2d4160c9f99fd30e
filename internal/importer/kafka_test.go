package importer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// The import of a folder, an mbox file and a Maildir on the local Kafka
// 4.4 broker puts each message on the inbound topic once and the note that
// is not mail on the dead-letter topic.
func TestRunOnRealBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ensureRealTopics(t, brokers)
	tenant := fmt.Sprintf("import-it-%d", time.Now().UnixNano())
	inboundFrom := endOffsets(t, brokers, topics.Inbound)
	dlqFrom := endOffsets(t, brokers, topics.DLQ)

	folder, mboxFile, maildir := mailTree(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	totals, err := Run(ctx, Config{
		Paths:     []string{folder, mboxFile, maildir},
		Tenant:    tenant,
		Store:     newStore(t),
		Publisher: newPublisher(t, brokers, 30*time.Second),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if totals.Total != 8 || totals.Imported != 7 || totals.DeadLettered != 1 || totals.Failed != 0 {
		t.Errorf("totals %+v, expected 8 messages: 7 imported, 1 dead-lettered", totals)
	}

	var keys []string
	for _, r := range topicRecords(t, brokers, topics.Inbound, tenant+"/", inboundFrom) {
		keys = append(keys, string(r.Key))
	}
	slices.Sort(keys)
	var want []string
	for _, id := range []string{"folder-a", "folder-b", "maildir-cur", "maildir-new", "mbox-1", "mbox-2", "mbox-3"} {
		want = append(want, tenant+"/"+id+"@example.com")
	}
	if !slices.Equal(keys, want) {
		t.Errorf("inbound keys %v, expected %v", keys, want)
	}
	if n := len(topicRecords(t, brokers, topics.DLQ, tenant+"/", dlqFrom)); n != 1 {
		t.Errorf("the dead-letter topic got %d records of tenant %s, expected 1", n, tenant)
	}
}

// realPartitions is the partition count of the topology's topics in the
// tests that share the local broker, such as the end-to-end tests.
const realPartitions = 3

// ensureRealTopics creates the topology's topics on the shared broker as
// the other integration tests do, and checks existing ones.
func ensureRealTopics(t *testing.T, brokers []string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topics.Ensure(ctx, kadm.NewClient(client), topics.Specs(realPartitions, 1)); err != nil {
		t.Fatalf("creating the topics on %v: %v", brokers, err)
	}
}
