package offsets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
)

// recordsPerPartition is the number of records the fixture writes to
// each partition, one per minute from base.
const recordsPerPartition = 10

type fixture struct {
	opts  []kgo.Opt
	admin *kadm.Client
	topic string
	group string
	base  time.Time
}

// newFixture creates a topic of 3 partitions with recordsPerPartition
// records each, timestamped base+0min .. base+9min, and a group that has
// committed offset 5 in partitions 0 and 1 and nothing in partition 2.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	f := &fixture{
		opts:  []kgo.Opt{kgo.SeedBrokers(testenv.KafkaBrokers(t)...)},
		topic: "offsetstest." + suffix,
		group: "offsetstest-group-" + suffix,
		base:  time.Now().Add(-2 * time.Hour).Truncate(time.Minute),
	}
	client, err := kgo.NewClient(append(f.opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	f.admin = kadm.NewClient(client)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.admin.CreateTopic(ctx, 3, 1, nil, f.topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = f.admin.DeleteTopics(ctx, f.topic)
		_, _ = f.admin.DeleteGroups(ctx, f.group)
	})

	var records []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < recordsPerPartition; i++ {
			records = append(records, &kgo.Record{
				Topic: f.topic, Partition: p, Value: []byte("r"),
				Timestamp: f.base.Add(time.Duration(i) * time.Minute),
			})
		}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var initial kadm.Offsets
	initial.Add(kadm.Offset{Topic: f.topic, Partition: 0, At: 5, LeaderEpoch: -1})
	initial.Add(kadm.Offset{Topic: f.topic, Partition: 1, At: 5, LeaderEpoch: -1})
	if err := f.admin.CommitAllOffsets(ctx, f.group, initial); err != nil {
		t.Fatal(err)
	}
	return f
}

// committed returns the group's committed offsets of the topic.
func (f *fixture) committed(t *testing.T) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := KafkaStore{Admin: f.admin}.Fetch(ctx, f.group, f.topic)
	if err != nil {
		t.Fatal(err)
	}
	return got[f.topic]
}

func TestShowKnownTopic(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rep, err := Show(ctx, f.admin, KafkaStore{Admin: f.admin}, f.group, f.topic)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Group.State != "Empty" || len(rep.Group.Members) != 0 {
		t.Errorf("group state %s with %d members, expected Empty with 0", rep.Group.State, len(rep.Group.Members))
	}
	want := []Row{
		{Topic: f.topic, Partition: 0, Committed: 5, Bounds: Bounds{Start: 0, End: 10}},
		{Topic: f.topic, Partition: 1, Committed: 5, Bounds: Bounds{Start: 0, End: 10}},
		{Topic: f.topic, Partition: 2, Committed: -1, Bounds: Bounds{Start: 0, End: 10}},
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, expected %d", len(rep.Rows), len(want))
	}
	wantLag := []int64{5, 5, 10}
	for i := range want {
		if rep.Rows[i] != want[i] {
			t.Errorf("row %d = %+v, expected %+v", i, rep.Rows[i], want[i])
		}
		if rep.Rows[i].Lag() != wantLag[i] {
			t.Errorf("row %d lag %d, expected %d", i, rep.Rows[i].Lag(), wantLag[i])
		}
	}
}

func TestResetModes(t *testing.T) {
	cases := []struct {
		name string
		mode func(f *fixture) Mode
		want map[int32]int64
	}{
		{"earliest", func(*fixture) Mode { return ToEarliest() }, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"latest", func(*fixture) Mode { return ToLatest() }, map[int32]int64{0: 10, 1: 10, 2: 10}},
		// Partition 2 has no committed offset, so it moves from the log start.
		{"back by 3", func(*fixture) Mode { return ByOffset(-3) }, map[int32]int64{0: 2, 1: 2, 2: 0}},
		{"forward clamped", func(*fixture) Mode { return ByOffset(100) }, map[int32]int64{0: 10, 1: 10, 2: 10}},
		{"datetime", func(f *fixture) Mode { return ToDatetime(f.base.Add(4 * time.Minute)) }, map[int32]int64{0: 4, 1: 4, 2: 4}},
		{"datetime after all", func(f *fixture) Mode { return ToDatetime(f.base.Add(time.Hour)) }, map[int32]int64{0: 10, 1: 10, 2: 10}},
		// Partitions not listed keep their offsets.
		{"to offset", func(*fixture) Mode { return ToOffsets(map[int32]int64{0: 7, 2: 1}) }, map[int32]int64{0: 7, 1: 5, 2: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			store := KafkaStore{Admin: f.admin}
			plan, err := PlanReset(ctx, f.admin, store, f.group, f.topic, c.mode(f))
			if err != nil {
				t.Fatal(err)
			}
			if err := Apply(ctx, store, plan); err != nil {
				t.Fatal(err)
			}
			got := f.committed(t)
			for p, want := range c.want {
				if got[p] != want {
					t.Errorf("partition %d at %d, expected %d", p, got[p], want)
				}
			}
		})
	}
}

func TestResetToOffsetOutOfRange(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := PlanReset(ctx, f.admin, KafkaStore{Admin: f.admin}, f.group, f.topic, ToOffsets(map[int32]int64{1: 11}))
	if err == nil {
		t.Fatal("offset 11 of a 10-record partition was accepted, expected an error")
	}
	if want := "contains offsets 0 to 10"; !contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
}

func TestLiveMemberRefusal(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	member, err := kgo.NewClient(append(f.opts,
		kgo.ClientID("offsets-test-member"),
		kgo.ConsumerGroup(f.group),
		kgo.ConsumeTopics(f.topic),
		kgo.DisableAutoCommit(),
	)...)
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	go func() {
		for ctx.Err() == nil {
			if member.PollFetches(ctx).IsClientClosed() {
				return
			}
		}
	}()

	var g Group
	for {
		g, err = DescribeGroup(ctx, f.admin, f.group)
		if err == nil && len(g.Members) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the member never joined: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	err = g.CheckStopped()
	var live *LiveMembersError
	if !errors.As(err, &live) {
		t.Fatalf("CheckStopped = %v, expected a *LiveMembersError", err)
	}
	if !contains(err.Error(), "client offsets-test-member on host") {
		t.Errorf("error %q does not name the member's client ID", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
