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

	// ThreadIndexRetention is how long the thread index keeps an entry
	// that was not written again, on top of compaction: 90 days. A reply
	// to a three-month-old message still finds its ticket, and the index
	// that every processor holds in memory stays bounded.
	ThreadIndexRetention = 90 * 24 * 60 * 60 * 1000 // ms, 90 days
)

// Record size limits, in bytes, as Kafka's max.message.bytes topic setting
// measures them: the size of one record batch.
const (
	// LargeMessageBytes is the max.message.bytes of the inbound, tickets
	// and dead-letter topics. Their records carry message text of up to
	// 256 KiB per field (ingest.MaxTextBytes) plus headers and attachment
	// metadata, and a dead letter carries such a record as its payload.
	LargeMessageBytes = 4 << 20

	// DefaultMessageBytes is Kafka's default max.message.bytes, which the
	// other topics keep: their records are small.
	DefaultMessageBytes = 1048588
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
// one broker. The topics that MaxMessageBytes names as large set
// max.message.bytes to LargeMessageBytes.
func Specs(partitions int32, replication int16) []Spec {
	deleteAfter := func(ms int64) map[string]*string {
		return configs(replication, "cleanup.policy", CleanupDelete, "retention.ms", strconv.FormatInt(ms, 10))
	}
	large := func(ms int64) map[string]*string {
		return configs(replication, "cleanup.policy", CleanupDelete, "retention.ms", strconv.FormatInt(ms, 10),
			"max.message.bytes", strconv.Itoa(LargeMessageBytes))
	}
	return []Spec{
		{Name: Inbound, Partitions: partitions, ReplicationFactor: replication, Configs: large(EventRetention)},
		{Name: Tickets, Partitions: partitions, ReplicationFactor: replication, Configs: large(EventRetention)},
		{Name: Notifications, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Analytics, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: AutoReplies, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Outbound, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: Feedback, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: TicketEvents, Partitions: partitions, ReplicationFactor: replication, Configs: deleteAfter(EventRetention)},
		{Name: DLQ, Partitions: partitions, ReplicationFactor: replication, Configs: large(DLQRetention)},
		{Name: DedupeChangelog, Partitions: partitions, ReplicationFactor: replication, Configs: configs(replication, "cleanup.policy", CleanupCompact)},
		{Name: ThreadIndex, Partitions: partitions, ReplicationFactor: replication, Configs: configs(replication,
			"cleanup.policy", CleanupCompact+","+CleanupDelete, "retention.ms", strconv.FormatInt(ThreadIndexRetention, 10))},
	}
}

// MaxMessageBytes returns the max.message.bytes that Specs gives topic:
// LargeMessageBytes for the inbound, tickets and dead-letter topics and
// DefaultMessageBytes for any other. Producers pass it to
// kgo.ProducerBatchMaxBytesFn, so that a batch they build fits the topic.
func MaxMessageBytes(topic string) int32 {
	switch topic {
	case Inbound, Tickets, DLQ:
		return LargeMessageBytes
	}
	return DefaultMessageBytes
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
