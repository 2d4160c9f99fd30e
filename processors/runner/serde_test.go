package runner

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestRunnerConfluentSerde feeds the runner inputs in both framings and
// one Confluent record with a schema ID the registry does not have. It
// checks that every output and the dead letter use the Confluent wire
// format with the IDs registered for their topics.
func TestRunnerConfluentSerde(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)

	registry := srfake.New()
	t.Cleanup(registry.Close)
	client, err := sr.NewClient(sr.URLs(registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	serde, err := schemas.NewConfluent(ctx, client, nil)
	if err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}

	var in []inbound
	for i := range 6 {
		e := testEmail("acme", "serde"+string(rune('a'+i)), "Question")
		if i%2 == 0 {
			in = append(in, emailRecord(t, e, -1)) // single-object
			continue
		}
		value, err := serde.Encode(topics.Inbound, &e)
		if err != nil {
			t.Fatalf("encoding %s: %v", e.MessageID, err)
		}
		in = append(in, inbound{email: e, raw: value, key: e.Key(), partition: -1})
	}
	in = append(in, inbound{raw: []byte{0, 0, 0, 0x7f, 0xff, 2, 'x'}, key: "acme/unknown-id", partition: 0})
	ends := produceInbound(ctx, t, brokers, in...)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	cfg.Serde = serde
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	for _, topic := range []string{topics.Tickets, topics.Analytics, topics.DLQ} {
		subjectIDs := registeredIDs(ctx, t, client, topic+"-value")
		for _, rec := range readTopic(ctx, t, brokers, topic, true) {
			if len(rec.Value) < 5 || rec.Value[0] != 0 {
				t.Errorf("%s record at %d/%d starts with % x, expected magic byte 0", topic, rec.Partition, rec.Offset, rec.Value[:min(len(rec.Value), 5)])
				continue
			}
			if id := int(binary.BigEndian.Uint32(rec.Value[1:5])); !subjectIDs[id] {
				t.Errorf("%s record at %d/%d has schema ID %d, expected one of subject %s-value: %v", topic, rec.Partition, rec.Offset, id, topic, subjectIDs)
			}
		}
	}

	var tickets []schemas.TicketCommand
	for _, rec := range readTopic(ctx, t, brokers, topics.Tickets, true) {
		var c schemas.TicketCommand
		if err := serde.Decode(rec.Value, &c); err != nil {
			t.Fatalf("decoding ticket at %d/%d: %v", rec.Partition, rec.Offset, err)
		}
		tickets = append(tickets, c)
	}
	if len(tickets) != 6 {
		t.Errorf("read %d ticket commands, expected 6: one per valid input in either framing", len(tickets))
	}

	dlq := readTopic(ctx, t, brokers, topics.DLQ, true)
	if len(dlq) != 1 {
		t.Fatalf("DLQ holds %d records, expected 1 for the unknown schema ID", len(dlq))
	}
	var dl schemas.DeadLetter
	if err := serde.Decode(dlq[0].Value, &dl); err != nil {
		t.Fatalf("decoding the dead letter: %v", err)
	}
	// The record with the unknown ID was produced last to partition 0.
	if dl.Stage != StageDecode || dl.SourcePartition != 0 || dl.SourceOffset != ends[0]-1 {
		t.Errorf("dead letter stage %q at %d/%d, expected %q at 0/%d", dl.Stage, dl.SourcePartition, dl.SourceOffset, StageDecode, ends[0]-1)
	}
}

// registeredIDs returns the schema IDs of every version of subject.
func registeredIDs(ctx context.Context, t *testing.T, client *sr.Client, subject string) map[int]bool {
	t.Helper()
	versions, err := client.Schemas(ctx, subject)
	if err != nil {
		t.Fatalf("listing subject %s: %v", subject, err)
	}
	ids := make(map[int]bool)
	for _, v := range versions {
		ids[v.ID] = true
	}
	if len(ids) == 0 {
		t.Fatalf("subject %s has no schema", subject)
	}
	return ids
}
