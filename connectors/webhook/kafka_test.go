package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// realPartitions is the partition count of the topics on the local broker.
// Every package's integration tests use 3, because topics.Ensure rejects
// an existing topic with another count.
const realPartitions = 3

// TestGatewayRealKafka posts one signed message and its retry through the
// gateway to the local Kafka 4.4 broker and reads one record back.
func TestGatewayRealKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if err := topics.Ensure(ctx, adm, topics.Specs(realPartitions, 1)); err != nil {
		t.Fatalf("creating the topics: %v", err)
	}
	// The topic may hold records of earlier runs, so the test reads from
	// the current end and finds its record by its own message ID.
	ends, err := adm.ListEndOffsets(ctx, topics.Inbound)
	if err != nil {
		t.Fatal(err)
	}
	start := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })

	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(testConfig(), pub, store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(gw)
	defer server.Close()

	if a := do(t, mustGet(t, server.URL+"/readyz")); a.status != http.StatusOK {
		t.Fatalf("/readyz: answer %d %s, want 200", a.status, a.raw)
	}

	id := fmt.Sprintf("real-kafka-%d@example.org", time.Now().UnixNano())
	body := []byte(rawWithID(id))
	now := time.Now().Unix()
	for attempt, ts := range []int64{now, now + 1} {
		a := do(t, newSignedRequest(t, server.URL+"/v1/inbound/acme/raw", "message/rfc822", body, acmeSecret, ts))
		if a.status != http.StatusAccepted || a.str("key") != "acme/"+id {
			t.Fatalf("attempt %d: answer %d %s, want 202 with key acme/%s", attempt+1, a.status, a.raw, id)
		}
	}

	var mine int
	for _, rec := range readTopic(t, brokers, topics.Inbound, start) {
		if string(rec.Key) == "acme/"+id {
			mine++
			if email := decodeInbound(t, rec.Value); email.Subject != "Hello" || email.Raw == nil {
				t.Errorf("record = subject %q raw %+v, want Hello with a raw reference", email.Subject, email.Raw)
			}
		}
	}
	if mine != 1 {
		t.Errorf("got %d records with key acme/%s, want 1", mine, id)
	}
}
