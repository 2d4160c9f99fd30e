package smtpsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// handleFetches handles the records of one poll, partition by partition,
// in offset order.
//
// NOTE: the whole poll is handled before the group may rebalance
// (BlockRebalanceOnPoll), and a relay outage makes each reply wait out its
// retries, so a rebalance can wait up to MaxPollRecords times the retry
// budget. Lower MaxPollRecords when rebalances must be quick.
func (s *Sink) handleFetches(ctx context.Context, fetches kgo.Fetches) error {
	var err error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if err != nil || !s.consumes(p.Topic) {
			return
		}
		for i, rec := range p.Records {
			// A transaction marker only moves the stored offset. Unless it
			// ends this partition's part of the poll, the next record's
			// claim moves the offset past it anyway.
			if rec.Attrs.IsControl() && i < len(p.Records)-1 {
				continue
			}
			if err = s.handleTraced(ctx, rec); err != nil {
				return
			}
		}
	})
	return err
}

// handle takes one record through the protocol of the package comment. It
// returns nil when the record is done, or errStopped when ctx ended first.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	c := &claim{topic: rec.Topic, partition: rec.Partition, offset: rec.Offset}
	var out Outgoing
	job := sendJob{what: "auto-reply"}
	if !rec.Attrs.IsControl() {
		var err error
		job, out, err = s.prepareClaim(ctx, rec, c)
		if errors.Is(err, errStopped) {
			return err
		}
		if err != nil {
			s.log.Warn(job.what+" sent to the dead-letter topic", "tenant", job.tenant,
				"partition", rec.Partition, "offset", rec.Offset, "error", err)
			c.dead, c.cmd, c.outbound = s.newDeadLetter(rec, job.tenant, err, 0), nil, nil
		}
	}

	var outcome claimOutcome
	var reason string
	err := s.retry(ctx, "claiming an "+job.what, func(ctx context.Context) error {
		var err error
		outcome, reason, err = s.claimRecord(ctx, c)
		if err != nil && (c.cmd != nil || c.outbound != nil) && isRecordFault(err) {
			// PostgreSQL rejects the command's data, so every retry would
			// fail too: the record goes to the DLQ instead.
			s.log.Warn("PostgreSQL rejected an "+job.what+"; sending it to the dead-letter topic",
				"partition", rec.Partition, "offset", rec.Offset, "error", err)
			c.dead, c.cmd, c.outbound = s.newDeadLetter(rec, job.tenant, err, 0), nil, nil
			outcome, reason, err = s.claimRecord(ctx, c)
		}
		return err
	})
	if err != nil {
		return err
	}

	log := s.log.With("partition", rec.Partition, "offset", rec.Offset)
	if c.cmd != nil || c.outbound != nil {
		log = log.With("tenant", job.tenant, "event_id", job.eventID, "ticket_ref", job.ticketRef)
	}
	switch outcome {
	case claimBelowOffset:
		log.Debug("record below the stored offset; handled before")
	case claimMarker:
		if c.dead != nil {
			return s.flushOutbox(ctx)
		}
	case claimReplayed:
		s.stats.replayed.Add(1)
		s.cfg.Metrics.Skipped("replayed", 1)
		log.Debug(job.what + " already in the ledger; not sending it again")
	case claimInFlight:
		s.stats.unknown.Add(1)
		s.cfg.Metrics.Skipped("unknown", 1)
		log.Warn(job.what + " outcome unknown: another run left it sending, so it is not sent again")
	case claimSuppressed:
		s.stats.suppressed.Add(1)
		s.cfg.Metrics.AutoReplySuppressed(reason)
		log.Info("auto-reply suppressed", "reason", reason)
	case claimSend:
		return s.deliver(ctx, log, rec, &job, &out)
	}
	return nil
}

// sendJob is the delivery context of one claimed message, an
// acknowledgement or an agent reply.
type sendJob struct {
	what         string // "auto-reply" or "agent reply", for logs and errors
	eventID      string
	tenant       string
	ticketRef    string
	receivedAt   time.Time // start of the end-to-end latency; zero skips it
	envelopeFrom string    // SMTP MAIL FROM, "" for <>
	autoReply    bool      // counts in the auto-reply metrics
}

// prepareClaim decodes and builds the message of rec by its topic and
// sets the command of c. On error, c is unchanged and the job still names
// the tenant when the command decoded.
func (s *Sink) prepareClaim(ctx context.Context, rec *kgo.Record, c *claim) (sendJob, Outgoing, error) {
	if !s.cfg.NoOutbound && rec.Topic == s.cfg.OutboundTopic {
		return s.prepareOutbound(ctx, rec, c)
	}
	job := sendJob{what: "auto-reply", envelopeFrom: s.cfg.EnvelopeFrom, autoReply: true}
	cmd, out, err := s.prepare(ctx, rec)
	if cmd != nil {
		job.eventID, job.tenant, job.ticketRef, job.receivedAt = cmd.EventID, cmd.Tenant, cmd.TicketRef, cmd.ReceivedAt
	}
	if err == nil {
		c.cmd, c.messageID = cmd, out.MessageID
	}
	return job, out, err
}

// prepare decodes and checks the command in rec and builds its reply. A
// failed lookup in the schema registry is retried until ctx ends; any
// other error is the record's fault and sends it to the DLQ. The command
// is returned with the error when it decoded.
func (s *Sink) prepare(ctx context.Context, rec *kgo.Record) (*schemas.AutoReply, Outgoing, error) {
	var cmd schemas.AutoReply
	err := s.retry(ctx, "looking up a schema in the registry", func(ctx context.Context) error {
		err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &cmd)
		if err != nil && !errors.Is(err, schemas.ErrRegistry) {
			return nil // not retryable: decoded again below for the error
		}
		return err
	})
	if err != nil {
		return nil, Outgoing{}, err
	}
	if err := s.cfg.Serde.DecodeContext(ctx, rec.Value, &cmd); err != nil {
		return nil, Outgoing{}, fmt.Errorf("decoding the AutoReply: %w", err)
	}

	switch {
	case cmd.EventID == "":
		return &cmd, Outgoing{}, errors.New("the AutoReply has no eventId, so the ledger cannot track it: fix the producer")
	case cmd.Tenant == "" || cmd.TicketRef == "":
		return &cmd, Outgoing{}, fmt.Errorf("auto-reply %s has no tenant or ticketRef: fix the producer", cmd.EventID)
	case cmd.Kind != schemas.AutoReplyAcknowledgement:
		return &cmd, Outgoing{}, fmt.Errorf("auto-reply %s has kind %q, and this sink sends only %q", cmd.EventID, cmd.Kind, schemas.AutoReplyAcknowledgement)
	}
	from, ok := s.cfg.fromFor(cmd.Tenant)
	if !ok {
		return &cmd, Outgoing{}, fmt.Errorf("tenant %s has no From address: add one for it, or set a default From", cmd.Tenant)
	}

	_, domain, _ := strings.Cut(from.Address, "@")
	// The thread processor reads the ticket reference back out of this
	// ID when a customer's reply points at it.
	messageID, err := processors.NewMessageID(cmd.TicketRef, strings.ToLower(domain))
	if err != nil {
		return &cmd, Outgoing{}, err
	}
	out, err := BuildAcknowledgement(&cmd, s.cfg.Templates, mail.Address{Name: from.Name, Address: from.Address}, messageID, s.cfg.Now())
	return &cmd, out, err
}

// deliver sends a claimed reply with retries and records the outcome.
func (s *Sink) deliver(ctx context.Context, log *slog.Logger, rec *kgo.Record, job *sendJob, out *Outgoing) error {
	for attempt := 1; ; attempt++ {
		err := send(ctx, &s.cfg.Relay, job.envelopeFrom, out)
		if err == nil {
			s.stats.sent.Add(1)
			s.cfg.Metrics.Delivered(job.receivedAt)
			if job.autoReply {
				s.cfg.Metrics.AutoReplySent()
			}
			log.Info(job.what+" sent", "attempts", attempt)
			return s.record(ctx, job.eventID, StateSent, attempt, "", nil)
		}

		var sendErr *sendError
		if !errors.As(err, &sendErr) {
			sendErr = &sendError{outcomeTemporary, err}
		}
		s.cfg.Metrics.DeliveryError()
		switch {
		case sendErr.outcome == outcomeUnknown:
			s.stats.unknown.Add(1)
			log.Warn(job.what+" outcome unknown: the connection broke after the message was sent, so it is not sent again",
				"attempts", attempt, "error", err)
			return s.record(ctx, job.eventID, StateUnknown, attempt, err.Error(), nil)

		case sendErr.outcome == outcomePermanent || attempt >= s.cfg.Retry.MaxAttempts:
			s.stats.failed.Add(1)
			log.Error(job.what+" failed; sending it to the dead-letter topic", "attempts", attempt, "error", err)
			cause := fmt.Errorf("sending %s %s failed after %d attempts: %w", job.what, job.eventID, attempt, err)
			if err := s.record(ctx, job.eventID, StateFailed, attempt, err.Error(), s.newDeadLetter(rec, job.tenant, cause, attempt)); err != nil {
				return err
			}
			return s.flushOutbox(ctx)
		}

		wait := s.cfg.Retry.backoff(attempt)
		log.Warn("sending an "+job.what+" failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
		s.stats.retries.Add(1)
		s.cfg.Metrics.Retry()
		if ctx.Err() != nil || !sleep(ctx, wait) {
			s.releaseClaim(ctx, log, rec, job.eventID)
			return errStopped
		}
	}
}

// isRecordFault reports PostgreSQL rejecting the data of a statement:
// SQLSTATE class 22 (data exception, such as a NUL byte in text), 23
// (integrity constraint violation) or 54 (program limit exceeded).
func isRecordFault(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23") || strings.HasPrefix(pgErr.Code, "54")
}

// record stores the outcome of a send, retrying while PostgreSQL fails.
func (s *Sink) record(ctx context.Context, eventID string, state State, attempts int, reason string, dead *deadLetter) error {
	return s.retry(ctx, "recording an auto-reply outcome", func(ctx context.Context) error {
		return s.finish(ctx, eventID, state, attempts, reason, dead)
	})
}

// releaseClaim undoes the claim of a reply the relay did not take before
// the sink stopped, so the next run sends it. If that fails, the row stays
// sending and the next start marks it unknown.
func (s *Sink) releaseClaim(ctx context.Context, log *slog.Logger, rec *kgo.Record, eventID string) {
	relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := s.release(relCtx, eventID, rec.Topic, rec.Partition, rec.Offset); err != nil {
		log.Warn("releasing an unsent auto-reply failed; the next start will mark it unknown", "error", err)
	}
}
