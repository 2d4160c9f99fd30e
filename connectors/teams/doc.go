// Package teams posts the records of mailtriage.notifications.v1 to
// Microsoft Teams incoming webhooks, one URL per tenant. A webhook is a
// Workflows "post to a channel when a webhook request is received" URL or
// a classic connector URL. A delivery ledger makes sure that a restart or
// a replay does not post a notice twice.
//
// It follows the design of the Slack sink (package slack) point by point:
// the same redaction, retries, dead letters and ledger protocol, with the
// ledger in the PostgreSQL table teams_deliveries (migration
// 0008_external.sql of package postgres). The Slack ledger code was not
// shared because it is bound to its own table and migrations, so this
// package repeats its rules instead of importing them.
//
// # Message
//
// Each notification becomes one POST of an Adaptive Card (NewMessage shows
// the JSON): the subject in bold, the excerpt, and facts for the sender
// domain, queue, priority and ticket reference. The subject and excerpt
// are redacted again with processors.RedactText, and the characters that
// Teams' card Markdown uses for emphasis and links are escaped, so a
// subject cannot forge a link. A card has no mention unless its msteams
// entities name one, and this sink sends none.
//
// # Retries
//
// A 2xx response is a delivery. A network error, 408, 409, 429 (after its
// Retry-After) and 5xx are retried with exponential backoff up to
// Retry.MaxAttempts posts; any other status is permanent. A notification
// that fails for good goes to the dead-letter topic with stage
// "sink-teams".
//
// # Delivery ledger
//
// For each notification: a ledger entry in any state means it is skipped
// (a replay); otherwise the sink inserts it as pending, posts, and marks it
// delivered (2xx) or failed (after the dead letter). Offsets are committed
// to Kafka after the ledger writes of the batch. A pending entry found at
// start-up, or by a claim, is marked unknown and never posted again: a
// crash during the post can lose one notice but never post it twice. A
// graceful stop releases a notice that waits between two retries, so it is
// posted after the restart.
package teams
