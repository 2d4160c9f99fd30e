// Package ticketing creates and updates tickets in an external ticketing
// system from the TicketCommand records of mailtriage.tickets.v1: a
// generic REST API with a configurable field mapping (REST), Zendesk
// (Zendesk) or Jira Service Management (Jira). Each type's comment names
// its requests and how it looks a ticket up.
//
// # What is sent
//
// A create command becomes an external ticket with the redacted subject
// and the redacted reply text (the redacted text when the reply text is
// empty), the requester, priority, queue and tags. An append command
// becomes a comment on that ticket. The full text, the attachments and the
// raw message never leave. Follow-up comments end with the line
// "mailtriage-event: EVENTID", by which the sink finds them again.
//
// # Exactly one ticket per ticket reference
//
// The idempotency key of an external ticket is tenant/ticketRef. The
// table external_tickets maps it to the external ID, and the sink keeps
// its Kafka offsets in consumer_offsets of the same database (package
// pgconsumer). For a create command, in offset order:
//
//  1. In one transaction: skip the record if the stored offset is past
//     it. Otherwise insert the ticket's row as 'creating', or read the row
//     that exists. A 'created' row means a replay, so nothing is sent.
//  2. If the row was already 'creating', an earlier run may have created
//     the ticket and stopped before step 3, so the sink looks the ticket
//     up by its key first. If the lookup finds none, or the row is new,
//     it sends the create. Before every retry of a create (after a
//     timeout, a reset connection or a 5xx) it looks the ticket up again,
//     because the failed request may have created it.
//  3. In one transaction: mark the row 'created' with the external ID and
//     store the next offset.
//
// Comments follow the same steps with table external_comments, keyed by
// the append command's eventId ('posting', then 'posted'), and a lookup of
// the comment's marker line. A command whose request fails for good (a
// 4xx other than 408, 409 and 429) goes to the dead-letter topic, and its
// 'creating' or 'posting' row is deleted in the same transaction, so that
// a replay of the dead letter sends it again.
//
// All work on one ticket holds a PostgreSQL advisory lock on its key, so
// two sink instances never send for one ticket at once, as can happen
// when a rebalance moves a partition while its record is being handled.
//
// NOTE: a lookup cannot see a ticket that the system commits after the
// lookup ran, as when a create is still queued on the server when the
// client times out. Zendesk and the REST target also receive the key in
// an Idempotency-Key header, which servers that honor it use to close
// that gap; Jira has no such header.
package ticketing
