package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdmime "mime"
	"net/http"
	"time"

	"mailtriage/connectors/ingress"
	"mailtriage/internal/ingest"
	"mailtriage/internal/mime"
	"mailtriage/internal/tracing"
	"mailtriage/schemas"
)

// inboundKind is one of the two inbound endpoints.
type inboundKind struct {
	source      string // schemas.SourceWebhookRaw or schemas.SourceWebhookJSON
	contentType string // the media type the endpoint accepts
}

var (
	rawKind  = inboundKind{source: schemas.SourceWebhookRaw, contentType: "message/rfc822"}
	jsonKind = inboundKind{source: schemas.SourceWebhookJSON, contentType: "application/json"}
)

func (g *Gateway) serveRaw(w http.ResponseWriter, r *http.Request)  { g.serveInbound(w, r, rawKind) }
func (g *Gateway) serveJSON(w http.ResponseWriter, r *http.Request) { g.serveInbound(w, r, jsonKind) }

// inboundRequest is a request that passed the checks of serveInbound.
type inboundRequest struct {
	kind       inboundKind
	tenant     string
	body       []byte
	signed     signedRequest
	receivedAt time.Time
}

// serveInbound checks a request in the order of the cheapest rejection
// first: method, tenant, content type, signature headers, size, signature.
// Only then does it read what the body holds.
//
// Each request is the root span of a new trace: a traceparent header from
// the sender belongs to the sender's system, so it is not followed.
func (g *Gateway) serveInbound(w http.ResponseWriter, r *http.Request, kind inboundKind) {
	receivedAt := g.cfg.Now()
	tenantName := r.PathValue("tenant")
	entryOf(r).tenant = truncate(tenantName, 64)
	ctx, span := tracing.Start(r.Context(), tracing.SpanWebhookRequest, tracing.AttrSource.String(kind.source))
	defer span.End()
	r = r.WithContext(ctx)

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(w, r, http.StatusMethodNotAllowed, "method-not-allowed", fmt.Sprintf("method %s is not allowed: post the message", r.Method))
		return
	}
	tenant, ok := g.cfg.Tenants[tenantName]
	if ok {
		span.SetAttributes(tracing.Tenant(tenantName))
	}
	if !ok {
		reject(w, r, http.StatusNotFound, "unknown-tenant", fmt.Sprintf("unknown tenant %q: post to a tenant configured under tenants in the gateway config", truncate(tenantName, 64)))
		return
	}
	if msg := checkContentType(r.Header.Get("Content-Type"), kind.contentType); msg != "" {
		reject(w, r, http.StatusUnsupportedMediaType, "wrong-content-type", msg)
		return
	}
	if msg := checkSignatureHeaders(r.Header); msg != "" {
		reject(w, r, http.StatusBadRequest, "missing-header", msg)
		return
	}

	body, status, msg := g.readBody(w, r)
	if status != 0 {
		reject(w, r, status, "unreadable-body", msg)
		return
	}
	signed, err := verify(tenant.Secrets, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, receivedAt, g.cfg.Tolerance)
	if err != nil {
		status, outcome := http.StatusUnauthorized, "bad-signature"
		switch {
		case errors.Is(err, ErrMissingHeader), errors.Is(err, ErrMalformedHeader):
			status, outcome = http.StatusBadRequest, "malformed-header"
		case errors.Is(err, ErrStaleTimestamp):
			outcome = "stale-signature"
		}
		reject(w, r, status, outcome, err.Error())
		return
	}

	g.admit(w, r, inboundRequest{kind: kind, tenant: tenantName, body: body, signed: signed, receivedAt: receivedAt})
}

// checkContentType returns an error message when header is not want,
// parameters such as charset aside.
func checkContentType(header, want string) string {
	if header == "" {
		return fmt.Sprintf("the Content-Type header is missing: send Content-Type: %s", want)
	}
	got, _, err := stdmime.ParseMediaType(header)
	if err != nil || got != want {
		return fmt.Sprintf("Content-Type %q is not accepted here: send Content-Type: %s", truncate(header, 64), want)
	}
	return ""
}

// checkSignatureHeaders returns the error message of verify when a
// signature header is missing, so that the body is not read for nothing.
func checkSignatureHeaders(h http.Header) string {
	timestamp, signature := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if timestamp != "" && signature != "" {
		return ""
	}
	_, err := verify(nil, timestamp, signature, nil, time.Time{}, 0)
	return err.Error()
}

// readBody reads the whole body up to MaxBodyBytes. On failure it returns
// the status and message of the response.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, string) {
	tooLarge := fmt.Sprintf("the body is larger than the limit of %d bytes: send a smaller message, or raise max-body-bytes in the gateway config", g.cfg.MaxBodyBytes)
	if r.ContentLength > g.cfg.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, http.StatusRequestEntityTooLarge, tooLarge
		}
		return nil, http.StatusBadRequest, fmt.Sprintf("reading the body failed: %v; send the whole body", err)
	}
	return body, 0, ""
}

// admit turns an authentic request into at most one record. It holds a
// ledger claim on the signature, the body digest and the record key, in
// that order. A retry of an accepted request thus gets its response from
// the ledger, and two concurrent copies of one message produce one record.
//
// A signature that is still in flight is a replay and gets 401. A body
// digest or record key in flight under another signature is a retry that
// was signed again: it waits for the first request and then gets its
// answer, or is processed itself when the first failed.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, req inboundRequest) {
	sig, prev, busy := g.ledger.acquire(signatureID(req.tenant, req.signed.signature))
	if prev != nil {
		g.answerDuplicate(w, r, "duplicate-signature", *prev)
		return
	}
	if busy != nil {
		w.Header().Set("Retry-After", retryAfterSeconds(g.cfg.RetryAfter))
		reject(w, r, http.StatusUnauthorized, "replayed-signature",
			"replayed signature: a request with this signature is still being processed; retry later, and sign each attempt with the current time")
		return
	}

	claims := &claimSet{sig: sig, sigTTL: g.signatureTTL(req)}
	defer claims.releaseUnaccepted()

	body, prev, err := g.waitAcquire(r.Context(), bodyID(req.tenant, req.body))
	if err != nil {
		g.unavailable(w, r, err, err)
		return
	}
	if prev != nil {
		claims.accept(*prev, g.cfg.RetryWindow)
		g.answerDuplicate(w, r, "duplicate-body", *prev)
		return
	}
	claims.body = body

	switch req.kind {
	case rawKind:
		g.admitRaw(w, r, req, claims)
	default:
		g.admitJSON(w, r, req, claims)
	}
}

// admitRaw stores and parses raw MIME. Mail that cannot be parsed goes to
// the dead-letter topic and is accepted, because the sender cannot fix it.
func (g *Gateway) admitRaw(w http.ResponseWriter, r *http.Request, req inboundRequest, claims *claimSet) {
	opts := mime.Options{Tenant: req.tenant, Source: req.kind.source, ReceivedAt: req.receivedAt}
	email, err := ingest.Prepare(r.Context(), req.body, opts, g.store)
	var parseErr *ingest.ParseError
	switch {
	case errors.As(err, &parseErr):
		dl := ingest.DeadLetterFor(parseErr, req.body, req.kind.source, req.receivedAt)
		g.publishDeadLetter(w, r, claims, deadLetterKey(req.tenant, parseErr.Raw.SHA256), &dl, "unparsable")
		return
	case err != nil:
		g.unavailable(w, r, errors.New("storing the message failed: retry later"), err)
		return
	}
	g.publish(w, r, req, claims, email)
}

// deadLetterKey returns the record key of unparsable mail: the inbound key
// form tenant/messageId, with the ID that mime.Parse synthesizes for a
// message without Message-ID, sha256-<hex>@mailtriage.invalid.
func deadLetterKey(tenant, rawSHA256 string) string {
	return tenant + "/sha256-" + rawSHA256 + "@mailtriage.invalid"
}

// admitJSON maps the JSON payload. A payload that does not map gets 400,
// because the sender can fix and resend it.
//
// With downloads enabled, the attachments are streamed from their
// downloadUrl into object storage first. A download that fails leaves a
// warning on the record; a store that fails gets 503, so the sender
// retries.
func (g *Gateway) admitJSON(w http.ResponseWriter, r *http.Request, req inboundRequest, claims *claimSet) {
	if g.fetch == nil {
		email, err := ingest.FromJSON(req.body, req.tenant, req.receivedAt)
		if err != nil {
			reject(w, r, http.StatusBadRequest, "malformed-body", "invalid JSON payload: "+err.Error())
			return
		}
		g.publish(w, r, req, claims, email)
		return
	}

	email, urls, err := ingest.FromJSONWithDownloads(req.body, req.tenant, req.receivedAt)
	if err != nil {
		reject(w, r, http.StatusBadRequest, "malformed-body", "invalid JSON payload: "+err.Error())
		return
	}
	if len(urls) > 0 {
		err := ingest.FetchAttachments(r.Context(), email, urls, g.store, g.fetch, g.cfg.Downloads.Limits)
		if err != nil {
			g.unavailable(w, r, fmt.Errorf("storing the attachments of message %s failed; retry later", email.MessageID), err)
			return
		}
		ingest.SetDownloadURLs(r.Context(), email, g.store)
	}
	g.publish(w, r, req, claims, email)
}

// publish claims the record key and produces email. A record that Kafka
// rejects for good, such as one over max.message.bytes, is dead-lettered.
func (g *Gateway) publish(w http.ResponseWriter, r *http.Request, req inboundRequest, claims *claimSet, email *schemas.InboundEmail) {
	key := email.Key()
	entryOf(r).keyHash = keyHash(key)

	record, prev, err := g.waitAcquire(r.Context(), recordID(key))
	if err != nil {
		g.unavailable(w, r, err, err)
		return
	}
	if prev != nil {
		claims.accept(*prev, g.cfg.RetryWindow)
		g.answerDuplicate(w, r, "duplicate-message", *prev)
		return
	}
	claims.record = record

	// The publish outlives a client that hangs up, so that the ledger
	// learns whether the record was stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.PublishTimeout)
	defer cancel()
	err = g.pub.Publish(ctx, email)
	switch {
	case err == nil:
		g.answerAccepted(w, r, claims, outcome{status: statusAccepted, key: key}, "accepted")
	case errors.Is(err, ingress.ErrUnavailable):
		g.unavailable(w, r, errors.New("Kafka is unavailable, so the message was not stored: retry after the Retry-After delay"), err)
	default:
		dl := ingest.RejectedDeadLetter(email, []byte(key), req.body, err.Error(), req.kind.source, g.cfg.Now())
		g.publishDeadLetter(w, r, claims, key, &dl, "rejected")
	}
}

// publishDeadLetter produces dl under key and responds 202 dead-lettered.
func (g *Gateway) publishDeadLetter(w http.ResponseWriter, r *http.Request, claims *claimSet, key string, dl *schemas.DeadLetter, outcomeName string) {
	entryOf(r).keyHash = keyHash(key)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.PublishTimeout)
	defer cancel()
	if err := g.pub.PublishDeadLetter(ctx, key, dl); err != nil {
		g.unavailable(w, r, errors.New("Kafka did not take the message, so it was not stored: retry after the Retry-After delay"), err)
		return
	}
	g.answerAccepted(w, r, claims, outcome{status: statusDeadLettered, key: key}, "dead-lettered-"+outcomeName)
}

func (g *Gateway) answerAccepted(w http.ResponseWriter, r *http.Request, claims *claimSet, result outcome, outcomeName string) {
	claims.accept(result, g.cfg.RetryWindow)
	entryOf(r).outcome = outcomeName
	writeJSON(w, http.StatusAccepted, acceptedBody{Status: result.status, Key: result.key})
}

func (g *Gateway) answerDuplicate(w http.ResponseWriter, r *http.Request, outcomeName string, prev outcome) {
	entry := entryOf(r)
	entry.outcome = outcomeName
	entry.keyHash = keyHash(prev.key)
	writeJSON(w, http.StatusAccepted, acceptedBody{Status: prev.status, Key: prev.key, Duplicate: true})
}

// signatureTTL keeps a signature until its timestamp goes stale, after
// which verify rejects it anyway.
func (g *Gateway) signatureTTL(req inboundRequest) time.Duration {
	ttl := req.signed.timestamp.Add(g.cfg.Tolerance).Sub(req.receivedAt) + time.Second
	return max(ttl, time.Second)
}

// waitAcquire claims id, waiting while another request holds it. It
// returns the earlier outcome when id was accepted, or an error when ctx
// ends or the wait exceeds PublishTimeout.
func (g *Gateway) waitAcquire(ctx context.Context, id ledgerID) (*claim, *outcome, error) {
	timer := time.NewTimer(g.cfg.PublishTimeout)
	defer timer.Stop()
	for {
		c, prev, busy := g.ledger.acquire(id)
		if busy == nil {
			return c, prev, nil
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("the request ended while an earlier copy of this message was in flight: %w", ctx.Err())
		case <-timer.C:
			return nil, nil, errors.New("an earlier copy of this message is still in flight: retry after the Retry-After delay")
		}
	}
}

// claimSet holds the ledger claims of one request. Whatever is not
// accepted when the request ends is released, so that a retry after a
// failure is processed again.
type claimSet struct {
	sig, body, record *claim
	sigTTL            time.Duration
	accepted          bool
}

func (c *claimSet) accept(result outcome, window time.Duration) {
	c.sig.accept(result, c.sigTTL)
	c.body.accept(result, window)
	c.record.accept(result, window)
	c.accepted = true
}

func (c *claimSet) releaseUnaccepted() {
	if c.accepted {
		return
	}
	c.sig.release()
	c.body.release()
	c.record.release()
}
