package ticketing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/schemas"
)

// handle applies one record by the protocol of the package comment.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	var cmd schemas.TicketCommand
	if err := s.decode(ctx, rec, &cmd); err != nil {
		if errors.Is(err, httpjson.ErrStopped) {
			return err
		}
		return s.deadLetter(ctx, rec, "", fmt.Errorf("decoding the TicketCommand: %w", err), 0, nil)
	}
	if err := validateCommand(&cmd); err != nil {
		return s.deadLetter(ctx, rec, cmd.Tenant, err, 0, nil)
	}

	log := s.log.With("tenant", cmd.Tenant, "ticket_ref", cmd.TicketRef, "event_id", cmd.EventID,
		"partition", rec.Partition, "offset", rec.Offset)
	lockKey := "mailtriage.ticketing/" + s.cfg.System + "/" + IdempotencyKey(cmd.Tenant, cmd.TicketRef)
	return s.consumer.KeyLock(ctx, lockKey, func() error {
		if cmd.Action == "append" {
			return s.appendComment(ctx, log, rec, &cmd)
		}
		return s.create(ctx, log, rec, &cmd)
	})
}

// create applies a create command: it records the intent, creates the
// ticket (after a lookup when an earlier run may have created it), and
// stores the external ID with the offset.
func (s *Sink) create(ctx context.Context, log *slog.Logger, rec *kgo.Record, cmd *schemas.TicketCommand) error {
	t := newTicket(cmd)
	var row ticketRow
	skip, err := s.consumer.Begin(ctx, rec, func(ctx context.Context, tx pgx.Tx) error {
		var found bool
		var err error
		if row, found, err = s.selectTicket(ctx, tx, t.Tenant, t.TicketRef); err != nil {
			return err
		}
		if !found {
			if row, err = s.insertTicket(ctx, tx, t); err != nil {
				return err
			}
		}
		t.LinkedExternalID, err = s.linkedExternalID(ctx, tx, t.Tenant, t.LinkedTicketRef)
		return err
	})
	if err != nil {
		return err
	}
	if skip || row.state == stateCreated {
		return s.replayed(ctx, log, rec, skip)
	}

	externalID, attempts, err := s.ensureTicket(ctx, log, t, !row.fresh)
	if err != nil {
		return s.callFailed(ctx, rec, cmd.Tenant, err, attempts, s.deleteCreatingTicket(t))
	}
	if err := s.simulateCrash("create"); err != nil {
		return err
	}
	if err := s.consumer.Finish(ctx, rec, s.markTicketCreated(t, externalID, attempts)); err != nil {
		return err
	}
	log.Debug("external ticket recorded", "external_id", externalID, "attempts", attempts)
	return nil
}

// appendComment applies an append command: it makes sure the ticket
// exists, then posts the follow-up as a comment once. An append whose
// ticket the sink never created (the create came before the sink started,
// or went to the dead-letter topic) creates the ticket from its own text
// instead.
func (s *Sink) appendComment(ctx context.Context, log *slog.Logger, rec *kgo.Record, cmd *schemas.TicketCommand) error {
	t := newTicket(cmd)
	c := newComment(cmd)
	var tk ticketRow
	var cm commentRow
	var haveComment bool
	skip, err := s.consumer.Begin(ctx, rec, func(ctx context.Context, tx pgx.Tx) error {
		var found bool
		var err error
		if tk, found, err = s.selectTicket(ctx, tx, t.Tenant, t.TicketRef); err != nil {
			return err
		}
		if !found {
			if tk, err = s.insertTicket(ctx, tx, t); err != nil {
				return err
			}
		}
		if cm, haveComment, err = s.selectComment(ctx, tx, c.EventID); err != nil {
			return err
		}
		if !haveComment && tk.state == stateCreated && tk.createEventID != c.EventID {
			cm = commentRow{state: statePosting, externalID: tk.externalID}
			return s.insertComment(ctx, tx, c, tk.externalID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if skip || (haveComment && cm.state == statePosted) {
		return s.replayed(ctx, log, rec, skip)
	}

	if tk.state != stateCreated {
		externalID, attempts, err := s.ensureTicket(ctx, log, t, !tk.fresh)
		if err != nil {
			var cleanup func(context.Context, pgx.Tx) error
			if tk.createEventID == cmd.EventID {
				cleanup = s.deleteCreatingTicket(t)
			}
			return s.callFailed(ctx, rec, cmd.Tenant, err, attempts, cleanup)
		}
		if err := s.simulateCrash("create"); err != nil {
			return err
		}
		if tk.createEventID == cmd.EventID {
			// The ticket carries this follow-up's text, so no comment.
			return s.consumer.Finish(ctx, rec, s.markTicketCreated(t, externalID, attempts))
		}
		err = s.consumer.Retry(ctx, "recording an external ticket", func(ctx context.Context) error {
			return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
				if err := s.markTicketCreated(t, externalID, attempts)(ctx, tx); err != nil {
					return err
				}
				return s.insertComment(ctx, tx, c, externalID)
			})
		})
		if err != nil {
			return err
		}
		tk = ticketRow{state: stateCreated, externalID: externalID, createEventID: tk.createEventID}
		cm, haveComment = commentRow{state: statePosting, externalID: externalID}, false
	}
	if tk.createEventID == cmd.EventID {
		return s.replayed(ctx, log, rec, false)
	}

	attempts, err := s.ensureComment(ctx, log, cm.externalID, c, haveComment)
	if err != nil {
		return s.callFailed(ctx, rec, cmd.Tenant, err, attempts, s.deletePostingComment(c))
	}
	if err := s.simulateCrash("comment"); err != nil {
		return err
	}
	if err := s.consumer.Finish(ctx, rec, s.markCommentPosted(c, attempts)); err != nil {
		return err
	}
	log.Debug("comment recorded", "external_id", cm.externalID, "attempts", attempts)
	return nil
}

// ensureTicket returns the external ID of t's ticket, creating it when
// needed. With recovering set, an earlier run may have sent the create, so
// it looks the ticket up first. Before every retry of a create it looks
// the ticket up too, because a create that timed out may have succeeded.
func (s *Sink) ensureTicket(ctx context.Context, log *slog.Logger, t *Ticket, recovering bool) (string, int, error) {
	var externalID string
	lookup := func(ctx context.Context) (bool, error) {
		id, found, err := s.cfg.Target.FindTicket(ctx, t)
		if found {
			externalID = id
			s.stats.found.Add(1)
			log.Info("lookup found the external ticket of an earlier create; not creating it again", "external_id", id)
		}
		return found, err
	}

	if recovering {
		var found bool
		attempts, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
			var err error
			found, err = lookup(ctx)
			return err
		}, nil, s.onRetry(log, "looking up the external ticket"))
		if err != nil {
			return "", attempts, err
		}
		if found {
			return externalID, 0, nil
		}
	}

	attempts, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
		id, err := s.cfg.Target.CreateTicket(ctx, t)
		if err == nil {
			externalID = id
			s.stats.created.Add(1)
			s.cfg.Metrics.Delivered(t.ReceivedAt)
		}
		return err
	}, lookup, s.onRetry(log, "creating the external ticket"))
	return externalID, attempts, err
}

// ensureComment posts c on the ticket externalID unless it is there. With
// recovering set, and before every retry, it looks the comment up first.
func (s *Sink) ensureComment(ctx context.Context, log *slog.Logger, externalID string, c *Comment, recovering bool) (int, error) {
	lookup := func(ctx context.Context) (bool, error) {
		found, err := s.cfg.Target.FindComment(ctx, externalID, c)
		if found {
			s.stats.found.Add(1)
			log.Info("lookup found the comment of an earlier post; not posting it again", "external_id", externalID)
		}
		return found, err
	}

	if recovering {
		var found bool
		attempts, err := s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
			var err error
			found, err = lookup(ctx)
			return err
		}, nil, s.onRetry(log, "looking up the comment"))
		if err != nil || found {
			return attempts, err
		}
	}

	return s.cfg.Retry.Call(ctx, func(ctx context.Context) error {
		err := s.cfg.Target.AddComment(ctx, externalID, c)
		if err == nil {
			s.stats.commented.Add(1)
			s.cfg.Metrics.Delivered(c.Command.ReceivedAt)
		}
		return err
	}, lookup, s.onRetry(log, "posting the comment"))
}

// onRetry returns the logger of retried calls.
func (s *Sink) onRetry(log *slog.Logger, what string) func(int, time.Duration, error) {
	return func(attempt int, wait time.Duration, err error) {
		s.stats.retries.Add(1)
		s.cfg.Metrics.DeliveryError()
		s.cfg.Metrics.Retry()
		log.Warn(what+" failed; retrying", "attempt", attempt, "retry_in", wait.String(), "error", err)
	}
}

// callFailed handles a call that did not succeed: a stop is passed on,
// and a permanent failure sends the record to the dead-letter topic with
// cleanup run in the same transaction.
func (s *Sink) callFailed(ctx context.Context, rec *kgo.Record, tenant string, err error, attempts int, cleanup func(context.Context, pgx.Tx) error) error {
	if errors.Is(err, httpjson.ErrStopped) {
		return err
	}
	return s.deadLetter(ctx, rec, tenant, fmt.Errorf("%s target: %w", s.cfg.Target.Kind(), err), attempts, cleanup)
}

// deadLetter writes the dead letter of rec and moves the offset past it.
func (s *Sink) deadLetter(ctx context.Context, rec *kgo.Record, tenant string, cause error, attempts int, cleanup func(context.Context, pgx.Tx) error) error {
	if err := s.consumer.FinishDead(ctx, rec, tenant, cause, attempts, cleanup); err != nil {
		return err
	}
	s.stats.deadLettered.Add(1)
	return nil
}

// replayed moves the offset past a record whose work is already done.
func (s *Sink) replayed(ctx context.Context, log *slog.Logger, rec *kgo.Record, belowOffset bool) error {
	s.stats.replayed.Add(1)
	s.cfg.Metrics.Skipped("replayed", 1)
	log.Debug("command already applied; nothing sent")
	if belowOffset {
		return nil
	}
	return s.consumer.Finish(ctx, rec, nil)
}

// simulateCrash runs the test hook afterCall.
func (s *Sink) simulateCrash(op string) error {
	if s.afterCall == nil {
		return nil
	}
	return s.afterCall(op)
}

// inTx runs fn in a transaction of the ledger's pool and commits it.
func (s *Sink) inTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// decode decodes rec into cmd, retrying a failed schema registry lookup
// until it succeeds or ctx ends (then it returns httpjson.ErrStopped).
func (s *Sink) decode(ctx context.Context, rec *kgo.Record, cmd *schemas.TicketCommand) error {
	for attempt := 1; ; attempt++ {
		err := s.cfg.Serde.DecodeContext(ctx, rec.Value, cmd)
		if err == nil || !errors.Is(err, schemas.ErrRegistry) {
			return err
		}
		wait := s.cfg.Retry.Backoff(attempt)
		s.log.Warn("looking up a schema in the registry failed; retrying", "partition", rec.Partition, "offset", rec.Offset,
			"attempt", attempt, "retry_in", wait.String(), "error", err)
		if httpjson.Sleep(ctx, wait) != nil {
			return httpjson.ErrStopped
		}
	}
}

// validateCommand checks the fields the sink keys its ledger by.
func validateCommand(cmd *schemas.TicketCommand) error {
	switch {
	case cmd.EventID == "":
		return errors.New("the command has no eventId, so the ledger cannot track it: fix the producer")
	case cmd.Tenant == "":
		return errors.New("the command has no tenant: fix the producer")
	case cmd.TicketRef == "":
		return errors.New("the command has no ticketRef, so it maps to no external ticket: fix the producer")
	case cmd.Action != "create" && cmd.Action != "append":
		return fmt.Errorf("invalid action %q: expected \"create\" or \"append\"", cmd.Action)
	}
	return nil
}
