package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// message returns a plain-text message with a unique Message-ID.
func message(id, extraHeaders string) string {
	return "From: Ana <ana@example.com>\r\nTo: support@example.com\r\nSubject: Export log " + id + "\r\n" +
		"Message-ID: <" + id + "@example.com>\r\n" + extraHeaders + "\r\nThe nightly export failed.\r\n"
}

// mbox returns an mbox file holding one message per id.
func mbox(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("From ana@example.com Mon Jan  5 10:00:00 2026\n")
		b.WriteString(strings.ReplaceAll(message(id, ""), "\r\n", "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// padding returns a header field of n pseudo-random letters, which make a
// record too large for a small max.message.bytes even after compression.
func padding(n int) string {
	letters := make([]byte, n)
	state := uint32(7)
	for i := range letters {
		state = state*1664525 + 1013904223
		letters[i] = 'a' + byte(state>>24)%26
	}
	return "X-Padding: " + string(letters) + "\r\n"
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startCluster starts kfake with the inbound and dead-letter topics and
// returns its addresses. limits sets max.message.bytes per topic.
func startCluster(t *testing.T, limits map[string]int) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	addrs := cluster.ListenAddrs()
	ensureTopics(t, addrs, limits)
	return addrs
}

// ensureTopics creates the inbound and dead-letter topics with one
// partition, leaving existing ones as they are.
func ensureTopics(t *testing.T, brokers []string, limits map[string]int) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, spec := range topics.Specs(1, 1) {
		if spec.Name != topics.Inbound && spec.Name != topics.DLQ {
			continue
		}
		if limit, ok := limits[spec.Name]; ok {
			v := strconv.Itoa(limit)
			spec.Configs["max.message.bytes"] = &v
		}
		_, err := kadm.NewClient(client).CreateTopic(ctx, 1, 1, spec.Configs, spec.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatalf("creating %s: %v", spec.Name, err)
		}
	}
}

func newPublisher(t *testing.T, brokers []string, timeout time.Duration) *ingress.Publisher {
	t.Helper()
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{
		ClientOpts:      []kgo.Opt{kgo.SeedBrokers(brokers...)},
		DeliveryTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	return pub
}

func newStore(t *testing.T) blobstore.Store {
	t.Helper()
	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// topicRecords returns the records of topic whose key starts with prefix,
// from the offsets in from (the log start when missing) to the high
// watermarks at the time of the call.
func topicRecords(t *testing.T, brokers []string, topic, prefix string, from map[int32]int64) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends := endOffsets(t, brokers, topic)
	parts := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	for p, end := range ends {
		if end > from[p] {
			parts[p] = kgo.NewOffset().At(from[p])
			last[p] = from[p] - 1
		}
	}
	if len(parts) == 0 {
		return nil
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var out []*kgo.Record
	for !caughtUp(last, ends) {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: reached offsets %v of %v: %v", topic, last, ends, ctx.Err())
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading %s: %v", topic, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			last[r.Partition] = max(last[r.Partition], r.Offset)
			if strings.HasPrefix(string(r.Key), prefix) {
				out = append(out, r)
			}
		})
	}
	return out
}

func caughtUp(last, ends map[int32]int64) bool {
	for p, l := range last {
		if l < ends[p]-1 {
			return false
		}
	}
	return true
}

// endOffsets returns the high watermark of every partition of topic.
func endOffsets(t *testing.T, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing the end offsets of %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("listing the end offset of %s partition %d: %v", topic, o.Partition, o.Err)
		}
		ends[o.Partition] = o.Offset
	})
	return ends
}

func decodeDeadLetters(t *testing.T, recs []*kgo.Record) []schemas.DeadLetter {
	t.Helper()
	out := make([]schemas.DeadLetter, len(recs))
	for i, r := range recs {
		if err := schemas.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatalf("decoding dead letter %q: %v", r.Key, err)
		}
	}
	return out
}
