package topics

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSpecsMaxMessageBytes(t *testing.T) {
	for _, spec := range Specs(3, 1) {
		got := spec.Configs["max.message.bytes"]
		switch spec.Name {
		case Inbound, Tickets, DLQ:
			if got == nil || *got != "4194304" {
				t.Errorf("%s: max.message.bytes %v, expected 4194304 (4 MiB)", spec.Name, got)
			}
		default:
			if got != nil {
				t.Errorf("%s: max.message.bytes %s, expected it unset so the broker default applies", spec.Name, *got)
			}
		}
		want := int32(DefaultMessageBytes)
		if got != nil {
			n, err := strconv.Atoi(*got)
			if err != nil {
				t.Fatalf("%s: max.message.bytes %q is not a number", spec.Name, *got)
			}
			want = int32(n)
		}
		if MaxMessageBytes(spec.Name) != want {
			t.Errorf("MaxMessageBytes(%s) = %d, expected %d as its spec sets", spec.Name, MaxMessageBytes(spec.Name), want)
		}
	}
}

// A 2 MiB record fits the inbound topic that Ensure creates, and the same
// record is rejected by a topic that keeps the default limit.
func TestLargeRecordFitsInboundTopic(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer cluster.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerBatchMaxBytesFn(MaxMessageBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Ensure(ctx, kadm.NewClient(producer), Specs(1, 1)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}

	value := make([]byte, 2<<20)
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: Inbound, Value: value}).FirstErr(); err != nil {
		t.Errorf("producing %d bytes to %s: %v, expected success", len(value), Inbound, err)
	}
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: Analytics, Value: value}).FirstErr(); err == nil {
		t.Errorf("producing %d bytes to %s succeeded, expected a rejection above its default limit", len(value), Analytics)
	}
}
