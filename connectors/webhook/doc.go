// Package webhook is the HTTP gateway of `mailtriage serve`: it receives
// inbound mail from parsing services and mail servers, checks the HMAC
// signature of each request and puts one record per message on the inbound
// topic through connectors/ingress.
//
// # Endpoints
//
//	POST /v1/inbound/{tenant}/raw   Content-Type: message/rfc822, body = the raw MIME message
//	POST /v1/inbound/{tenant}/json  Content-Type: application/json, body = the payload that ingest.FromJSON reads
//	GET  /healthz                   200 while the process runs
//	GET  /readyz                    200 when a Kafka broker answers, else 503 (also while shutting down)
//
// # Signature
//
// Each inbound request carries X-Parse-Timestamp (unix seconds) and
// X-Parse-Signature, the hex HMAC-SHA256 of timestamp + "." + body keyed
// with one of the tenant's secrets (see Sign). A tenant may have several
// secrets at once, so a secret is rotated by adding the new one, switching
// the sender, then removing the old one. The timestamp may be up to
// Config.Tolerance (default 5 minutes) behind or ahead of the gateway clock.
//
// # Answers
//
// Every answer has a JSON body. A 202 is
// {"status":"accepted","key":"tenant/messageId"}, sent only after Kafka
// acknowledged the record, or {"status":"dead-lettered","key":…} when the
// message went to the dead-letter topic: raw MIME that cannot be parsed,
// and records that Kafka rejects for good. A retry of an accepted request
// adds "duplicate":true. An error is {"error":"…"}, naming what failed and
// what to do:
//
//	400  a signature header is missing or malformed, or the JSON payload is invalid
//	401  the signature does not verify, the timestamp is stale, or the signature is replayed while its first request is in flight
//	404  the tenant is not configured
//	405  the method is not POST
//	413  the body exceeds Config.MaxBodyBytes (default 25 MiB)
//	415  the Content-Type is not the endpoint's
//	503  Kafka or object storage is unavailable; the answer has Retry-After and nothing was stored
//
// # Retries and replays
//
// Parsing services retry a request when they get no 2xx answer, and some
// retry after a 2xx they did not receive. The gateway therefore tells a
// retry from a replay by what happened to the first copy, which it keeps
// in a bounded in-memory ledger:
//
//   - The same signature again after its request was accepted is answered
//     202 with the first key and no new record. It is a retry of a lost
//     answer or a replay, and either way storing nothing is correct.
//   - The same signature while its first request is still in flight gets
//     401 with Retry-After. A sender that signs each attempt afresh never
//     sends that, so it is a replay; a retry that does arrive later finds
//     the first request accepted and gets 202.
//   - The same signature after its first request failed (a 4xx after the
//     signature check, or a 503) is processed again. Nothing was stored,
//     and the sender was told to retry, so rejecting the copy would lose
//     the message.
//   - A request signed again with a new timestamp is a retry when the
//     tenant and message ID, or the tenant and body SHA-256, match a
//     request accepted within Config.RetryWindow (default the tolerance).
//     It gets 202 with the first key and no new record. When the first
//     copy is still in flight, the retry waits for it.
//
// Signatures are remembered until their timestamp is stale; message IDs
// and body digests for RetryWindow; at most Config.RetryCacheItems keys,
// oldest first out. The ledger is per process: with several gateway
// instances behind a load balancer, a retry that reaches another instance
// is published again, and the dedupe processor drops the copy downstream
// by message ID and body digest.
//
// # Attachments of JSON payloads
//
// With downloads.enabled in the config, the JSON endpoint streams each
// attachment from its downloadUrl into object storage before publishing,
// within the limits of the downloads section, and records its StorageKey,
// size and SHA-256. A download that fails leaves a warning on the record
// instead of dropping the message; a store that fails gets 503. Downloads
// reach only public addresses unless downloads.allow-private-addresses is
// set, because the URLs come from the sender. With downloads off (the
// default), the record carries the metadata with an empty StorageKey and a
// warning "attachment X not fetched: downloadUrl streaming is not
// configured". The downloadUrl itself is never kept on the record.
package webhook
