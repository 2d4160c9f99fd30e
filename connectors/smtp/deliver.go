package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailtriage/connectors/ingress"
	"mailtriage/internal/ingest"
	"mailtriage/internal/mime"
	"mailtriage/internal/tracing"
	"mailtriage/schemas"
)

// Results of one tenant's delivery, as logged.
const (
	resultQueued       = "queued"        // on the inbound topic
	resultDeadLettered = "dead-lettered" // on the dead-letter topic
	resultDeferred     = "deferred"      // nothing stored on Kafka; the sender retries
	resultRejected     = "rejected"      // Kafka refused the record and its dead letter
)

// outcome is the result of delivering one message to one tenant.
type outcome struct {
	tenant  string
	result  string
	keyHash string // empty when no record was stored
	reply   *gosmtp.SMTPError
}

// deliver stores and parses raw once and publishes one record per tenant
// among rcpts, in the order the tenants first appear. Each record's
// envelope lists only the recipients of its tenant.
func (s *Server) deliver(raw []byte, env schemas.Envelope, rcpts []recipient) []outcome {
	ctx, cancel := context.WithTimeout(s.publishCtx, s.cfg.Timeouts.Publish)
	defer cancel()
	now := s.now().UTC()
	groups := groupByTenant(rcpts)
	ctx, span := tracing.Start(ctx, tracing.SpanSMTPTransaction, tracing.AttrSource.String(s.source))
	defer span.End()
	if len(groups) == 1 {
		span.SetAttributes(tracing.Tenant(groups[0].tenant))
	}

	// The parse does not depend on the tenant, so the first tenant's
	// result serves all of them.
	opts := mime.Options{Tenant: groups[0].tenant, Source: s.source, ReceivedAt: now}
	email, err := ingest.Prepare(ctx, raw, opts, s.store)
	var parseErr *ingest.ParseError

	outcomes := make([]outcome, 0, len(groups))
	for _, g := range groups {
		tenantEnv := env
		tenantEnv.RcptTo = g.addrs

		var o outcome
		switch {
		case err == nil:
			record := *email
			record.Tenant = g.tenant
			record.Envelope = &tenantEnv
			o = s.publish(ctx, &record, raw, now)
		case errors.As(err, &parseErr):
			perr := *parseErr
			perr.Tenant = g.tenant
			o = s.deadLetter(ctx, &perr, raw, now)
		default:
			o = outcome{result: resultDeferred, reply: replyTemporaryFailure}
			s.log.Error("storing the message failed", "remote", env.RemoteAddr, "tenant", g.tenant, "size", len(raw), "error", err)
		}
		o.tenant = g.tenant
		s.logOutcome(o, env.RemoteAddr, len(raw))
		outcomes = append(outcomes, o)
	}
	return outcomes
}

// publish puts record on the inbound topic. When Kafka rejects the record
// itself, for example because it is too large, it goes to the dead-letter
// topic instead.
func (s *Server) publish(ctx context.Context, record *schemas.InboundEmail, raw []byte, now time.Time) outcome {
	key := record.Key()
	err := s.pub.Publish(ctx, record)
	if err == nil {
		return outcome{result: resultQueued, keyHash: keyHash(key), reply: replyQueued(keyHash(key))}
	}
	if isTemporary(ctx, err) {
		s.log.Warn("publishing the message failed; the sender will retry", "tenant", record.Tenant, "key_hash", keyHash(key), "error", err)
		return outcome{result: resultDeferred, reply: replyTemporaryFailure}
	}

	s.log.Error("kafka rejected the message; sending it to the dead-letter topic", "tenant", record.Tenant, "key_hash", keyHash(key), "error", err)
	dl := ingest.RejectedDeadLetter(record, []byte(key), raw, err.Error(), s.source, now)
	return s.publishDeadLetter(ctx, key, &dl)
}

// deadLetter puts a message that cannot be parsed on the dead-letter
// topic. Its key is tenant/eventId, because the message has no record key
// of its own.
func (s *Server) deadLetter(ctx context.Context, perr *ingest.ParseError, raw []byte, now time.Time) outcome {
	dl := ingest.DeadLetterFor(perr, raw, s.source, now)
	key := dl.Tenant + "/" + dl.EventID
	s.log.Warn("message cannot be parsed; sending it to the dead-letter topic", "tenant", dl.Tenant, "key_hash", keyHash(key), "error", perr)
	return s.publishDeadLetter(ctx, key, &dl)
}

func (s *Server) publishDeadLetter(ctx context.Context, key string, dl *schemas.DeadLetter) outcome {
	err := s.pub.PublishDeadLetter(ctx, key, dl)
	switch {
	case err == nil:
		return outcome{result: resultDeadLettered, keyHash: keyHash(key), reply: replyKept(keyHash(key))}
	case isTemporary(ctx, err):
		s.log.Warn("publishing the dead letter failed; the sender will retry", "tenant", dl.Tenant, "key_hash", keyHash(key), "error", err)
		return outcome{result: resultDeferred, reply: replyTemporaryFailure}
	default:
		s.log.Error("kafka rejected the dead letter", "tenant", dl.Tenant, "key_hash", keyHash(key), "error", err)
		return outcome{result: resultRejected, reply: replyPermanentFailure}
	}
}

// isTemporary reports whether a publish error means the sender should
// retry: Kafka was unavailable, or the publish ran out of time or was
// cancelled by a shutdown.
func isTemporary(ctx context.Context, err error) bool {
	return errors.Is(err, ingress.ErrUnavailable) || ctx.Err() != nil
}

func (s *Server) logOutcome(o outcome, remote string, size int) {
	level := slog.LevelInfo
	if o.result == resultDeferred || o.result == resultRejected {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "message "+o.result, "remote", remote, "tenant", o.tenant,
		"key_hash", o.keyHash, "size", size, "result", o.result, "code", o.reply.Code)
}

// combineReplies returns the one SMTP reply to a transaction whose
// recipients belong to several tenants. Any deferred tenant makes it 451,
// so the sender retries the whole message. The tenants whose record is
// already stored then get it again, with the same Message-ID, and the
// dedupe processor drops the copy. LMTP avoids this with its reply per
// recipient.
func combineReplies(outcomes []outcome) *gosmtp.SMTPError {
	if len(outcomes) == 1 {
		return outcomes[0].reply
	}
	for _, result := range []string{resultDeferred, resultRejected} {
		for _, o := range outcomes {
			if o.result == result {
				return o.reply
			}
		}
	}
	parts := make([]string, len(outcomes))
	for i, o := range outcomes {
		parts[i] = strings.TrimPrefix(o.reply.Message, "OK: ")
	}
	return &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0}, Message: "OK: " + strings.Join(parts, ", ")}
}

// tenantGroup is the recipients of one tenant, in the order given.
type tenantGroup struct {
	tenant string
	addrs  []string
}

// groupByTenant groups rcpts by tenant, in the order each tenant first
// appears. A recipient given twice is listed once.
func groupByTenant(rcpts []recipient) []tenantGroup {
	var groups []tenantGroup
	index := map[string]int{}
	seen := map[string]bool{}
	for _, rc := range rcpts {
		i, ok := index[rc.tenant]
		if !ok {
			i = len(groups)
			index[rc.tenant] = i
			groups = append(groups, tenantGroup{tenant: rc.tenant})
		}
		if !seen[rc.addr] {
			seen[rc.addr] = true
			groups[i].addrs = append(groups[i].addrs, rc.addr)
		}
	}
	return groups
}

// keyHash returns the first 12 hex digits of the SHA-256 of a record key,
// which logs and replies carry in place of the key, because the key holds
// the Message-ID.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:12]
}
