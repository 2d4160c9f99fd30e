// Package poller is the REST polling source: it reads pages of mail from a
// cursor API and puts every message on the inbound topic exactly once.
//
// # Request
//
// The poller sends
//
//	GET URL?after=CURSOR&limit=N
//	Authorization: Bearer TOKEN
//	Accept: application/json
//
// keeping any query parameters that URL already has. The first request
// has no after parameter. CURSOR is the nextCursor of the last committed
// page, opaque to the poller.
//
// # Page format
//
// A 200 response is a JSON object:
//
//	{
//	  "items": [
//	    {"raw": "<base64 of the RFC 5322 message>"},
//	    {"message": {"messageId": "…", "from": "…", "subject": "…", "text": "…"}}
//	  ],
//	  "nextCursor": "c-42",
//	  "hasMore": true
//	}
//
// Each item has exactly one of raw, the whole MIME message in standard
// base64 (RFC 4648 section 4, with padding), or message, the JSON payload
// of an inbound-parsing service as ingest.FromJSON reads it. A raw message
// is stored in object storage and parsed with ingest.Prepare. An item that
// cannot be decoded or parsed goes to the dead-letter topic with its bytes,
// so one bad item never stops the source. nextCursor is required when the
// page has items, and must differ from the cursor the page was requested
// with. hasMore true makes the poller request the next page at once, and
// false makes it wait for the poll interval. Other keys are ignored.
//
// # Exactly once
//
// The records of one page and the new cursor are produced in one Kafka
// transaction. The cursor is a record of the compacted topic
// topics.PollerCursors, keyed by tenant/HASH where HASH is the first 32
// hex digits of the SHA-256 of the URL. On start the poller initializes
// its transactional ID, which aborts a transaction that an earlier
// instance left open, and reads the last committed cursor with
// read_committed before the first request. A crash before the commit
// therefore leaves neither records nor a cursor, and the page is requested
// again. A crash after it leaves both, and the next page is requested.
// Consumers that read with read_committed see every item once, provided
// that the API returns the same items for the same cursor.
//
// # Errors
//
// Network errors, 5xx responses and pages that cannot be decoded are
// retried with exponential backoff and jitter. A 429 or 503 response with
// Retry-After (seconds or an HTTP date) is retried after that delay. A 401
// or 403 response stops the poller with an error that names the URL
// without its query and says how to fix the token. Other 4xx responses
// stop it too, because sending the same request again cannot succeed.
package poller
