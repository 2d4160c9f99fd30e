// Package crm upserts the requester of every new ticket as a contact in a
// CRM with a REST API, and attaches the ticket reference to the contact.
// It consumes the create commands of mailtriage.tickets.v1 (appends are
// follow-ups of a known requester and are skipped).
//
// # Requests
//
// A contact is identified by tenant and the SHA-256 of the lower-cased
// address; its idempotency key is "tenant:HASH", which holds no address.
//
//   - Create: POST {URL} with {email, name, tenant, lastTicketRef,
//     ticketRefs, idempotency_key} and the header Idempotency-Key. The
//     response is a JSON object whose "id" is the contact ID.
//   - Lookup: GET {URL}?idempotency_key=KEY. The CRM returns a JSON array
//     of the matching contacts (or one object, or 404 for none).
//   - Update: PUT {URL}/{id} with the same body. It carries the whole list
//     of ticket references, so sending it twice changes nothing.
//
// # Ledger
//
// The table crm_contacts keeps, per contact, the state ('creating', then
// 'created'), the contact ID and the ticket references attached so far,
// and the sink stores its Kafka offsets in consumer_offsets of the same
// database in the transaction that records the outcome (package
// pgconsumer). A create command whose reference the row already lists is
// a replay and sends nothing. A row left 'creating' by a crash is looked
// up before a new POST, and so is every retry of a POST. A crash after a
// PUT only repeats the PUT. All work on one contact holds a PostgreSQL
// advisory lock, so two tickets of one requester on different partitions
// cannot overwrite each other's reference.
package crm
