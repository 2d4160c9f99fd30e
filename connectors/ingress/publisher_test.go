package ingress

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

func TestPublishWritesKeyedRecord(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound, topics.DLQ))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	pub, err := NewPublisher(PublisherConfig{ClientOpts: []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	email := &schemas.InboundEmail{Tenant: "acme", MessageID: "m1@example.com", Subject: "Hi", ReceivedAt: time.Now()}
	if err := pub.Publish(ctx, email); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topics.Inbound))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	fetches := consumer.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	if string(recs[0].Key) != "acme/m1@example.com" {
		t.Errorf("key = %q, want acme/m1@example.com", recs[0].Key)
	}
	var got schemas.InboundEmail
	if err := schemas.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != "Hi" {
		t.Errorf("subject = %q, want Hi", got.Subject)
	}
}

func TestPublishBrokerDownIsUnavailable(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound))
	if err != nil {
		t.Fatal(err)
	}
	addrs := cluster.ListenAddrs()
	cluster.Close()

	pub, err := NewPublisher(PublisherConfig{
		ClientOpts:      []kgo.Opt{kgo.SeedBrokers(addrs...)},
		DeliveryTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = pub.Publish(ctx, &schemas.InboundEmail{Tenant: "acme", MessageID: "m2", ReceivedAt: time.Now()})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish with the broker down: err = %v, want ErrUnavailable", err)
	}
}
