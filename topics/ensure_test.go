package topics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newAdmin starts a kfake broker and returns a fresh admin client factory,
// so each step reads metadata without an earlier client's cache.
func newAdmin(t *testing.T, seed ...kfake.Opt) func() *kadm.Client {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, seed...)...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return func() *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
		if err != nil {
			t.Fatalf("creating the client: %v", err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
}

func TestSpecsCoverEveryTopic(t *testing.T) {
	specs := Specs(4, 3)
	want := []string{Inbound, Tickets, Notifications, Analytics, AutoReplies, Outbound, Feedback, TicketEvents, DLQ, DedupeChangelog, ThreadIndex}
	if len(specs) != len(want) {
		t.Fatalf("Specs returned %d topics, expected %d", len(specs), len(want))
	}
	for i, s := range specs {
		if s.Name != want[i] {
			t.Errorf("spec %d is %s, expected %s", i, s.Name, want[i])
		}
		if s.Partitions != 4 || s.ReplicationFactor != 3 {
			t.Errorf("%s: %d partitions, replication %d; expected 4 and 3", s.Name, s.Partitions, s.ReplicationFactor)
		}
		if v := s.Configs["min.insync.replicas"]; v == nil || *v != "2" {
			t.Errorf("%s: min.insync.replicas %v, expected 2 with 3 replicas", s.Name, v)
		}
		wantPolicy := CleanupDelete
		switch s.Name {
		case DedupeChangelog:
			wantPolicy = CleanupCompact
		case ThreadIndex:
			wantPolicy = CleanupCompact + "," + CleanupDelete
		}
		if got := s.CleanupPolicy(); got != wantPolicy {
			t.Errorf("%s: cleanup.policy %s, expected %s", s.Name, got, wantPolicy)
		}
		if s.Name != DedupeChangelog && s.Configs["retention.ms"] == nil {
			t.Errorf("%s: no retention.ms", s.Name)
		}
	}
	if _, ok := Specs(1, 1)[0].Configs["min.insync.replicas"]; ok {
		t.Error("a single-replica spec sets min.insync.replicas, expected it unset")
	}
}

func TestEnsureCreatesAndIsIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := newAdmin(t)
	specs := Specs(3, 1)

	if err := Ensure(ctx, admin(), specs); err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	if err := Ensure(ctx, admin(), specs); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if err := Check(ctx, admin(), specs); err != nil {
		t.Fatalf("Check after Ensure: %v", err)
	}

	details, err := admin().ListTopics(ctx, DedupeChangelog)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details[DedupeChangelog].Partitions); n != 3 {
		t.Errorf("changelog has %d partitions, expected 3", n)
	}
}

func TestCheckReportsMismatches(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The changelog exists with the wrong partition count and the default
	// delete policy.
	admin := newAdmin(t, kfake.SeedTopics(5, DedupeChangelog))

	err := Ensure(ctx, admin(), Specs(3, 1))
	if err == nil {
		t.Fatal("Ensure accepted a changelog with 5 partitions and cleanup.policy=delete")
	}
	msg := err.Error()
	for _, want := range []string{
		"topic " + DedupeChangelog + " has 5 partitions, expected 3",
		"--partitions 5",
		"topic " + DedupeChangelog + " has cleanup.policy=delete, expected compact",
		"cleanup.policy=compact",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, Inbound+" ") {
		t.Errorf("error %q names the inbound topic, which Ensure created correctly", msg)
	}

	err = Check(ctx, admin(), []Spec{{Name: "absent", Partitions: 1, ReplicationFactor: 1}})
	if err == nil || !strings.Contains(err.Error(), "topic absent is missing") {
		t.Errorf("Check of an absent topic returned %v, expected it to name the missing topic", err)
	}
}

func TestEnsureRejectsInvalidSpecs(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"zero partitions", Spec{Name: "t", Partitions: 0, ReplicationFactor: 1}, "partition count 0"},
		{"zero replication", Spec{Name: "t", Partitions: 1, ReplicationFactor: 0}, "replication factor 0"},
		{"no name", Spec{Partitions: 1, ReplicationFactor: 1}, "empty name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Ensure(context.Background(), nil, []Spec{tc.spec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ensure returned %v, expected an error containing %q", err, tc.want)
			}
		})
	}
}
