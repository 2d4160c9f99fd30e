// Package offsets shows and resets the positions of consumer groups, for
// replaying a topic after a fix.
//
// The positions live in Kafka's committed offsets for the processor and
// the ClickHouse and Slack sinks (KafkaStore), and in the consumer_offsets
// table of PostgreSQL for the PostgreSQL and SMTP sinks (PostgresStore),
// which join their Kafka groups only to share partitions. Every mailtriage
// role starts a partition without a stored position at the log start
// offset, so this package treats a missing position as the log start.
//
// A reset is refused while the group has members, because a running
// consumer would overwrite the new positions with its own on its next
// commit.
package offsets
