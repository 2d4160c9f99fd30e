package topics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestEnsurePollerCursorsCreatesCompacted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := newAdmin(t)

	if err := EnsurePollerCursors(ctx, admin(), 1); err != nil {
		t.Fatalf("first EnsurePollerCursors: %v", err)
	}
	if err := EnsurePollerCursors(ctx, admin(), 1); err != nil {
		t.Fatalf("second EnsurePollerCursors: %v", err)
	}
	if err := Check(ctx, admin(), []Spec{PollerCursorsSpec(1)}); err != nil {
		t.Errorf("Check after EnsurePollerCursors: %v", err)
	}
}

func TestEnsurePollerCursorsAcceptsMorePartitions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := newAdmin(t)
	spec := PollerCursorsSpec(1)
	if _, err := admin().CreateTopic(ctx, 4, 1, spec.Configs, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePollerCursors(ctx, admin(), 1); err != nil {
		t.Errorf("EnsurePollerCursors with a compacted 4-partition topic: %v, expected it accepted", err)
	}
}

func TestEnsurePollerCursorsRejectsDeletePolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := newAdmin(t, kfake.SeedTopics(1, PollerCursors))

	err := EnsurePollerCursors(ctx, admin(), 1)
	want := "topic " + PollerCursors + " has cleanup.policy=delete, expected compact"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("EnsurePollerCursors returned %v, expected an error containing %q", err, want)
	}
}
