package smtp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// realPartitions is the partition count of the topics on the local
// broker, the same in every package's integration tests, because
// topics.Ensure rejects an existing topic of another count.
const realPartitions = 3

func TestCorpusMessageToRealKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	rel := corpusMessages(t, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
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
	// the current end and finds its record by a MAIL FROM of its own.
	ends, err := adm.ListEndOffsets(ctx, topics.Inbound)
	if err != nil {
		t.Fatalf("listing the end offsets of %s: %v", topics.Inbound, err)
	}

	l := startListener(t, testConfig(), false, newPublisher(t, brokers))
	c, clientAddr := dialSMTP(t, l.addr)
	from := fmt.Sprintf("run-%d@client.example", time.Now().UnixNano())
	raw := readCorpus(t, rel)
	if err := send(c, from, []string{"support+billing@support.example.com"}, raw); err != nil {
		t.Fatalf("delivering %s: %v", rel, err)
	}

	offsets := map[string]map[int32]kgo.Offset{topics.Inbound: {}}
	ends.Each(func(o kadm.ListedOffset) {
		offsets[topics.Inbound][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(offsets))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()

	for ctx.Err() == nil {
		for _, rec := range consumer.PollFetches(ctx).Records() {
			var got schemas.InboundEmail
			if err := schemas.Unmarshal(rec.Value, &got); err != nil {
				t.Fatalf("decoding %s at offset %d: %v", rec.Topic, rec.Offset, err)
			}
			if got.Envelope == nil || got.Envelope.MailFrom != from {
				continue
			}
			if string(rec.Key) != got.Key() {
				t.Errorf("record key = %q, want %q", rec.Key, got.Key())
			}
			checkEnvelope(t, got, wireForm(raw), clientAddr)
			checkStoredRaw(t, l, got, wireForm(raw))
			return
		}
	}
	t.Fatalf("the record of %s did not arrive on %s: %v", rel, topics.Inbound, ctx.Err())
}
