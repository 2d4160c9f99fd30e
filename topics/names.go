// Package topics names every Kafka topic of the topology, with its partition
// count and configuration, and creates and checks them with kadm.
package topics

// Topic names. The ".v1" suffix is the contract version: a change that is
// not backward compatible gets a new topic.
const (
	Inbound       = "mailtriage.inbound.v1"       // InboundEmail, key tenant/messageId
	Tickets       = "mailtriage.tickets.v1"       // TicketCommand, key tenant/ticketRef
	Notifications = "mailtriage.notifications.v1" // Notification, key tenant/ticketRef
	Analytics     = "mailtriage.analytics.v1"     // DecisionEvent, key tenant/messageId
	AutoReplies   = "mailtriage.autoreplies.v1"   // auto-reply commands
	Outbound      = "mailtriage.outbound.v1"      // OutboundMessage, key tenant/ticketRef
	Feedback      = "mailtriage.feedback.v1"      // human overrides of decisions
	TicketEvents  = "mailtriage.ticket-events.v1" // TicketEvent, key tenant/ticketRef
	DLQ           = "mailtriage.dlq.v1"           // DeadLetter, key as the source record

	// DLQReplayed is the compacted ledger of the dead letters that
	// "mailtriage dlq replay" has sent back, so that a second replay skips
	// them. "dlq replay" creates it on first use with one partition.
	DLQReplayed = "mailtriage.dlq.replayed.v1"

	// DedupeChangelog is the compacted changelog of the dedupe store. It has
	// the same partition count as Inbound: partition p backs the store of
	// input partition p.
	DedupeChangelog = "mailtriage.processor.dedupe-changelog.v1"

	// ThreadIndex is the compacted topic of the thread index, a global
	// table: every processor instance reads all of its partitions, because
	// a reply and the message it replies to have different keys and so land
	// on different input partitions. Keys are tenant-scoped message IDs and
	// ticket references.
	ThreadIndex = "mailtriage.processor.thread-index.v1"
)
