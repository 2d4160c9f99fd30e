package topics

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// PollerCursors is the compacted topic where the REST poller keeps the
// cursor of each polled API, keyed by tenant and a hash of the API URL. The
// poller writes each cursor in the same transaction as the records of the
// page it ends, so a restarted poller resumes after the last committed
// page.
const PollerCursors = "mailtriage.poller.cursors.v1"

// PollerCursorsSpec returns the spec of PollerCursors: one partition,
// because it holds one small record per polled API, and compaction, so
// only the last cursor of each API is kept. Specs leaves it out, so that
// clusters without a poller do not need it; the poller creates it on start
// with EnsurePollerCursors.
func PollerCursorsSpec(replication int16) Spec {
	return Spec{
		Name:              PollerCursors,
		Partitions:        1,
		ReplicationFactor: replication,
		Configs:           configs(replication, "cleanup.policy", CleanupCompact),
	}
}

// EnsurePollerCursors creates PollerCursors when it is missing and waits
// until its partition has a leader. An existing topic may have any
// partition count, because the poller reads every partition, but it must
// be compacted, or old cursors would expire with the retention time.
// Without the right to create topics, EnsurePollerCursors only checks.
func EnsurePollerCursors(ctx context.Context, adm *kadm.Client, replication int16) error {
	spec := PollerCursorsSpec(replication)
	_, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, spec.Configs, spec.Name)
	switch {
	case err == nil:
		return waitForLeaders(ctx, adm, []string{spec.Name})
	case errors.Is(err, kerr.TopicAlreadyExists),
		errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.ClusterAuthorizationFailed):
	default:
		return fmt.Errorf("creating topic %s: %w", spec.Name, err)
	}

	details, err := adm.ListTopics(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("listing topic %s: %w", spec.Name, err)
	}
	if detail, ok := details[spec.Name]; !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("topic %s is missing and could not be created: grant the poller's principal the right to create it, or create it as a compacted topic", spec.Name)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("describing the configs of %s: %w", spec.Name, err)
	}
	return checkCleanupPolicy(spec, configs)
}
