// Package slack delivers the records of mailtriage.notifications.v1 to Slack
// incoming webhooks, one webhook URL per tenant, and keeps a delivery ledger
// so that a restart or a replay does not post a notification twice.
//
// # Message
//
// Each schemas.Notification becomes one webhook POST with a `text` fallback,
// which notifications and clients without Block Kit show, and a single
// section block. The block's text contains the subject and the excerpt, and
// its fields the sender domain, queue, priority and ticket reference. The
// subject and excerpt are redacted again with processors.RedactText before
// they are posted, so an address that slipped past the processor still does
// not reach the channel. Slack's control characters (&, <, >) are escaped,
// so a subject cannot mention @channel or forge a link. Message shows the
// exact JSON.
//
// # Retries
//
// A 2xx response is a delivery. A 5xx response or a network error (refused
// connection, reset, timeout) is retried with exponential backoff and
// jitter, up to RetryPolicy.MaxAttempts posts. A 429 response is retried
// after the delay in its Retry-After header (seconds). Any other 4xx, and
// any 3xx because webhooks do not redirect, is permanent: the notification
// goes to the dead-letter topic with stage "sink-slack" and an error naming
// the status code and Slack's error text (such as "invalid_payload" or
// "no_service"). A notification that still fails after MaxAttempts posts
// goes there too, so that one broken endpoint cannot stall a partition. So
// a Slack outage that outlasts the retry budget fills the dead-letter topic
// rather than delaying the notifications: raise MaxAttempts or MaxDelay to
// wait longer.
//
// # Delivery ledger
//
// Slack webhooks have no idempotency key, so the sink records every delivery
// in a Ledger keyed by the notification's EventID. For each notification:
//
//  1. If the ledger holds the EventID as delivered, failed or unknown, the
//     notification is skipped. This is what makes a replay after an offset
//     reset post nothing.
//  2. Otherwise the sink inserts it as pending, then POSTs it.
//  3. After a 2xx it marks the entry delivered. After a permanent error it
//     writes the dead letter, then marks the entry failed.
//  4. The consumer offsets of a poll batch are committed to Kafka only after
//     the ledger writes of the whole batch.
//
// A pending entry found at start-up, or found by Claim, is ambiguous: the
// process that inserted it stopped, or is still posting, and the POST may or
// may not have reached Slack. The sink never posts such a notification
// again. It marks the entry unknown, logs it once and counts it. If the
// other process is still alive and gets a 2xx, it marks the entry delivered.
// So the window between the insert and the end of the POST is at-most-once:
// a crash inside it can lose one notification, but can never post it twice.
// Outside that window, a crash, restart or replay posts nothing twice. The
// sink posts one notification at a time, so a crash leaves at most one
// unknown entry per sink instance.
//
// A graceful stop (context canceled) is not a crash. A POST already sent
// is allowed to finish, and its outcome is recorded. A notification waiting
// between two retries is released from the ledger, so that it is posted
// again after the restart.
//
// Retries inside one process can still post twice when Slack accepted a
// request but the response was lost (a timeout after the request was sent).
// That is the usual tradeoff of retrying without an idempotency key, and it
// is why MaxAttempts is bounded.
//
// # Ledger storage
//
// PostgresLedger keeps the ledger in the table slack_deliveries, created by
// Migrate; MemoryLedger keeps it in memory for the embedded demo and tests,
// where a restart loses it.
package slack
