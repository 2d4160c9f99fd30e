package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/ingest"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// message returns a plain-text message with the given extra header lines
// and body.
func message(id, extraHeaders, body string) string {
	return "From: Ana <ana@example.com>\r\nTo: support@example.com\r\nSubject: Export log " + id + "\r\n" +
		"Message-ID: <" + id + "@example.com>\r\n" + extraHeaders + "\r\n" + body
}

// padding returns a header field of n pseudo-random letters. Headers are
// not truncated, so it makes a record larger than any text limit allows,
// and the letters do not compress, so the record stays large on the wire.
func padding(n int) string {
	letters := make([]byte, n)
	state := uint32(1)
	for i := range letters {
		state = state*1664525 + 1013904223
		letters[i] = 'a' + byte(state>>24)%26
	}
	return "X-Padding: " + string(letters) + "\r\n"
}

func writeMail(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDemoTwoMegabyteBody(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("The nightly export failed with a timeout again.\n", (2<<20)/48)
	writeMail(t, dir, map[string]string{"big-body.eml": message("big-1", "", body)})

	report := runDemo(t, dir)

	got := report.Totals
	if got.Inbound != 1 || got.Routed != 1 || got.DLQ != 0 {
		t.Fatalf("totals = %+v, want the %d-byte message routed", got, len(body))
	}
	if row := report.Rows[0]; row.Subject != "Export log big-1" || row.Queue != "general" {
		t.Errorf("row = %+v, want subject %q in queue general", row, "Export log big-1")
	}
}

// A record that Kafka rejects even alone becomes a dead letter at the
// ingress stage, and the messages before and after it are routed.
func TestDemoOversizedRecordDoesNotStopOthers(t *testing.T) {
	dir := t.TempDir()
	writeMail(t, dir, map[string]string{
		"a-small.eml": message("small-a", "", "First message.\n"),
		"b-huge.eml":  message("huge-b", padding(5<<20), "Huge headers.\n"),
		"c-small.eml": message("small-c", "", "Last message.\n"),
	})

	report := runDemo(t, dir)

	got := report.Totals
	if got.Inbound != 3 || got.Routed != 2 || got.DLQ != 1 || got.Missing != 0 {
		t.Fatalf("totals = %+v, want inbound 3, routed 2, dlq 1", got)
	}
	huge := report.Rows[1]
	if huge.File != "b-huge.eml" || !strings.HasPrefix(huge.DeadLetter, "ingress: ") {
		t.Errorf("row %+v: want b-huge.eml dead-lettered at stage ingress", huge)
	}
	if !strings.Contains(huge.DeadLetter, filepath.Join(dir, "b-huge.eml")) || !strings.Contains(huge.DeadLetter, "-byte record") {
		t.Errorf("dead letter %q does not name the file and the record size", huge.DeadLetter)
	}
	for _, i := range []int{0, 2} {
		if report.Rows[i].DeadLetter != "" || report.Rows[i].Queue != "general" {
			t.Errorf("row %+v: want it routed to general", report.Rows[i])
		}
	}
}

// importFixture is a kfake cluster with the demo's topics, where
// inboundLimit sets the max.message.bytes of the inbound topic.
type importFixture struct {
	client *kgo.Client
	store  blobstore.Store
	cfg    Config
}

func newImportFixture(t *testing.T, inboundLimit int) *importFixture {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerBatchMaxBytesFn(topics.MaxMessageBytes))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)

	specs := topics.Specs(1, 1)
	limit := fmt.Sprint(inboundLimit)
	specs[0].Configs["max.message.bytes"] = &limit
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := topics.Ensure(ctx, kadm.NewClient(client), specs); err != nil {
		t.Fatal(err)
	}

	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &importFixture{client: client, store: store, cfg: Config{Tenant: "acme"}}
}

// read returns the records of topic, waiting until there are want of them.
func (f *importFixture) read(t *testing.T, topic string, want int) []*kgo.Record {
	t.Helper()
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(f.client.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var records []*kgo.Record
	for len(records) < want && ctx.Err() == nil {
		records = append(records, consumer.PollFetches(ctx).Records()...)
	}
	return records
}

func (f *importFixture) importDir(t *testing.T, dir string) []imported {
	t.Helper()
	f.cfg.Mail = []string{dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	items, err := importMail(ctx, f.client, f.store, f.cfg)
	if err != nil {
		t.Fatalf("importMail: %v", err)
	}
	return items
}

// The ingress dead letter keeps the first 64 KiB of the message, the key of
// the rejected record and the raw reference, so that it fits the topic.
func TestImportDeadLetterOfRejectedRecord(t *testing.T) {
	f := newImportFixture(t, topics.LargeMessageBytes)
	dir := t.TempDir()
	huge := message("huge-b", padding(5<<20), "Huge headers.\n")
	writeMail(t, dir, map[string]string{"huge.eml": huge})

	items := f.importDir(t, dir)

	if len(items) != 1 || items[0].key != "acme/"+filepath.Join(dir, "huge.eml") {
		t.Fatalf("items = %+v, want one keyed acme/<path of huge.eml>", items)
	}
	records := f.read(t, topics.DLQ, 1)
	if len(records) != 1 {
		t.Fatalf("read %d dead letters, want 1", len(records))
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(records[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Stage != ingest.StageIngress || dl.Tenant != "acme" {
		t.Errorf("stage, tenant = %q, %q; want %q, %q", dl.Stage, dl.Tenant, ingest.StageIngress, "acme")
	}
	if string(dl.Payload) != huge[:ingest.MaxIngressPayload] {
		t.Errorf("payload has %d bytes, want the first %d bytes of the message", len(dl.Payload), ingest.MaxIngressPayload)
	}
	if string(dl.Key) != "acme/huge-b@example.com" {
		t.Errorf("key = %q, want the rejected record's key %q", dl.Key, "acme/huge-b@example.com")
	}
	if dl.Raw == nil || dl.Raw.Size != int64(len(huge)) {
		t.Errorf("raw = %+v, want the reference to all %d bytes", dl.Raw, len(huge))
	}
	if stored, err := f.store.Get(context.Background(), dl.Raw.Key); err != nil || string(stored) != huge {
		t.Errorf("raw storage under %s has %d bytes (error %v), want the whole message", dl.Raw.Key, len(stored), err)
	}
}

// A topic that keeps Kafka's default limit, as one created before this
// version may, rejects the whole batch for its one large record. The
// others are sent again on their own and only the large one is
// dead-lettered.
func TestImportRetriesBatchRejectedByBroker(t *testing.T) {
	f := newImportFixture(t, topics.DefaultMessageBytes)
	dir := t.TempDir()
	writeMail(t, dir, map[string]string{
		"a.eml": message("msg-a", "", "First.\n"),
		"b.eml": message("msg-b", padding(2<<20), "Two MiB of headers: over the topic's limit, under the producer's.\n"),
		"c.eml": message("msg-c", "", "Last.\n"),
	})

	items := f.importDir(t, dir)

	if len(items) != 3 {
		t.Fatalf("imported %d messages, want 3", len(items))
	}
	inbound := f.read(t, topics.Inbound, 2)
	var keys []string
	for _, r := range inbound {
		keys = append(keys, string(r.Key))
	}
	if strings.Join(keys, " ") != "acme/msg-a@example.com acme/msg-c@example.com" {
		t.Errorf("inbound keys = %q, want a and c", keys)
	}
	dlq := f.read(t, topics.DLQ, 1)
	if len(dlq) != 1 || string(dlq[0].Key) != "acme/"+filepath.Join(dir, "b.eml") {
		t.Fatalf("dead letters = %d, want one for b.eml", len(dlq))
	}
	if items[1].key != string(dlq[0].Key) {
		t.Errorf("b.eml is looked up under %q, want the dead letter's key %q", items[1].key, dlq[0].Key)
	}
}
