package slack

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestSinkDecodesConfluentFraming posts notifications written in the
// Confluent wire format once the sink has a registry decoder.
func TestSinkDecodesConfluentFraming(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	registry := srfake.New()
	t.Cleanup(registry.Close)
	client, err := sr.NewClient(sr.URLs(registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.NewConfluent(ctx, client, nil)
	if err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}

	ns := notifications("acme", 5)
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	for _, n := range ns {
		value, err := writer.Encode(topics.Notifications, &n)
		if err != nil {
			t.Fatalf("encoding %s: %v", n.EventID, err)
		}
		rec := &kgo.Record{Topic: topics.Notifications, Key: []byte(n.Tenant + "/" + n.TicketRef), Value: value}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	decoder, err := schemas.NewRegistryDecoder(client)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	cfg.Serde = decoder
	s := startSink(t, cfg)
	waitHandled(t, s, int64(len(ns)))

	stats := s.Stats()
	if stats.Delivered != int64(len(ns)) || stats.DeadLettered != 0 {
		t.Errorf("delivered %d and dead-lettered %d, expected %d and 0", stats.Delivered, stats.DeadLettered, len(ns))
	}
	if got := len(srv.postsByEvent()); got != len(ns) {
		t.Errorf("posts for %d events, expected %d", got, len(ns))
	}
}
