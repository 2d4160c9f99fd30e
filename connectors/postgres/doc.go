// Package postgres is the ticket sink: it applies the TicketCommand records
// of the tickets topic to PostgreSQL tables (tickets, ticket_messages,
// ticket_events) with exactly-once effect.
//
// The sink keeps its Kafka offsets in PostgreSQL, in consumer_offsets, and
// writes them in the same database transaction as the rows of a poll
// batch. After a crash it resumes from the stored offsets, so each record
// is applied once: a batch is either wholly in the database with its new
// offsets or not at all. Every row also carries the record's event ID
// under a unique constraint, so a replay after an operator resets the
// offsets adds nothing.
//
// Reassign moves a ticket to another queue and writes a feedback event to
// feedback_outbox in the same transaction. The sink's FeedbackRelay
// produces those events to the feedback topic.
//
// The schema is created and upgraded by the embedded migrations under
// migrations/, which Migrate applies when the sink starts.
package postgres
