// Package ticketapi is the ticket API: JSON over HTTP on the PostgreSQL
// ticket store, for agents and the tools they use. It lists, reads,
// reassigns and closes tickets, adds internal notes and sends agent
// replies, and it contains the HTTP client that "mailtriage tickets" uses.
//
// # Authentication
//
// Every request carries a bearer token. A token belongs to one tenant, so
// a request reads and changes only that tenant's tickets, and another tenant's ticket gets
// 404, exactly like a ticket that does not exist. api_tokens stores the
// hex SHA-256 of each token, never the token (see CreateToken). The scope
// tickets:read allows the GET endpoints, and tickets:write the POST ones.
//
// # Changes
//
// Each POST runs in one PostgreSQL transaction that changes the ticket,
// writes a ticket_events row and, where Kafka must hear of the change,
// a row of an outbox table: a reassignment goes through
// postgres.ReassignTx and its feedback_outbox, and an agent reply writes
// an OutboundMessage command for the SMTP sink to api_outbox, which
// OutboxRelay produces to mailtriage.outbound.v1. A POST with an
// Idempotency-Key header stores its response in the same transaction, so
// a retry with the same key returns that response and changes nothing.
package ticketapi
