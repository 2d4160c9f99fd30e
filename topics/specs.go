package topics

import "strconv"

// Retention periods of the topics with the delete cleanup policy.
const (
	// EventRetention is how long the inbound and output topics keep records:
	// long enough to replay a week of mail after a sink outage.
	EventRetention = 7 * 24 * 60 * 60 * 1000 // ms, 7 days

	// DLQRetention is how long dead letters stay: long enough for an operator
	// to find, fix and replay them after a holiday.
	DLQRetention = 30 * 24 * 60 * 60 * 1000 // ms, 30 days
)

// Cleanup policies of Kafka's cleanup.policy topic setting.
const (
	CleanupDelete  = "delete"
	CleanupCompact = "compact"
)

// Spec is the desired shape of one topic.
type Spec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16 // -1 takes the broker's default.replication.factor
	// Configs are topic settings such as cleanup.policy and retention.ms.
	Configs map[string]*string
}

// CleanupPolicy returns the spec's cleanup.policy, "delete" when unset as
// in Kafka.
func (s Spec) CleanupPolicy() string {
	if v := s.Configs["cleanup.policy"]; v != nil {
		return *v
	}
	return CleanupDelete
}

// Specs returns the spec of every topic of the topology. Every topic gets
// the same partition count, which the dedupe changelog requires: its
// partition p backs the store of inbound partition p. With three or more
// replicas, min.insync.replicas is 2 so that a write survives the loss of
// one broker.
func Specs(partitions int32, replication int16) []Spec {
	deleteAfter := func(ms int64) map[string]*string {
		return configs(replication, "cleanup.policy", CleanupDelete, "retention.ms", strconv.FormatInt(ms, 10))
	}
	return []Spec{
		{Name: Inbound, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Tickets, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Notifications, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Analytics, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: AutoReplies, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Feedback, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: DLQ, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(DLQRetention)},
		{Name: DedupeChangelog, Partitions: partitions, ReplicationFactor: replication, Configs: configs(replication, "cleanup.policy", CleanupCompact)},
	}
}

// configs builds a config map from name/value pairs and adds
// min.insync.replicas for a replicated topic.
func configs(replication int16, pairs ...string) map[string]*string {
	m := make(map[string]*string, len(pairs)/2+1)
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		m[pairs[i]] = &v
	}
	if replication >= 3 {
		v := "2"
		m["min.insync.replicas"] = &v
	}
	return m
}
