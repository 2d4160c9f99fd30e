package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"mailtriage/internal/tracing"
	"mailtriage/schemas"
)

// maxCreateRun bounds the commands of one pipeline, and so the size of
// one write to PostgreSQL. Past about a hundred, a longer pipeline saves
// less than a hundredth of a round trip per command.
const maxCreateRun = 100

// ticketKey identifies a ticket as its tenant and ticketRef do.
type ticketKey struct {
	tenant, ref string
}

// createRun collects consecutive create commands of one partition, each
// for a ticket that no other command of the run names. writeCreates
// sends the writeCommandSQL statements of all of them in one pipeline and
// only then runs the rare follow-ups (finishCommand) of each. That order
// writes the same rows as writing one command after another, because
// the commands of a run touch the rows of distinct tickets. Only the row
// IDs of the follow-ups' events come later than in that order.
type createRun struct {
	items   []item
	tickets map[ticketKey]struct{}
}

// has reports whether a command of the run names the ticket of cmd.
func (r *createRun) has(cmd *schemas.TicketCommand) bool {
	_, ok := r.tickets[ticketKey{cmd.Tenant, cmd.TicketRef}]
	return ok
}

func (r *createRun) full() bool {
	return len(r.items) >= maxCreateRun
}

func (r *createRun) add(it item) {
	if r.tickets == nil {
		r.tickets = make(map[ticketKey]struct{})
	}
	r.items = append(r.items, it)
	r.tickets[ticketKey{it.cmd.Tenant, it.cmd.TicketRef}] = struct{}{}
}

func (r *createRun) reset() {
	r.items = r.items[:0]
	clear(r.tickets)
}

// writeCreates writes the commands of run in tx, counts them in res and
// empties run. Each command gets its own trace span, which ends after
// its follow-ups. An error fails the spans of the commands not yet
// finished and leaves tx to be rolled back.
func (s *Sink) writeCreates(ctx context.Context, tx pgx.Tx, run *createRun, now time.Time, res *batchResult) error {
	if len(run.items) == 0 {
		return nil
	}
	defer run.reset()

	spans := make([]trace.Span, len(run.items))
	contexts := make([]context.Context, len(run.items))
	for i, it := range run.items {
		contexts[i], spans[i] = tracing.StartRecord(ctx, tracing.SpanSinkPostgres, it.rec, tracing.Tenant(it.cmd.Tenant))
	}
	finished := 0
	var err error
	defer func() {
		for _, span := range spans[finished:] {
			tracing.End(span, err)
		}
	}()

	var ws []written
	ws, err = sendCreates(ctx, tx, run.items, now)
	if err != nil {
		return err
	}
	for i, it := range run.items {
		err = finishCommand(contexts[i], tx, it.cmd, ws[i], now)
		if err != nil {
			return err
		}
		tracing.End(spans[i], nil)
		finished++
		res.add(it.cmd)
	}
	return nil
}

// sendCreates sends the writeCommandSQL statements of items in one
// pipeline and returns what each wrote, in order.
func sendCreates(ctx context.Context, tx pgx.Tx, items []item, now time.Time) ([]written, error) {
	batch := &pgx.Batch{}
	for _, it := range items {
		args, err := writeCommandArgs(it.cmd, receivedAt(it.cmd, now))
		if err != nil {
			return nil, err
		}
		batch.Queue(writeCommandSQL, args)
	}

	results := tx.SendBatch(ctx, batch)
	ws := make([]written, len(items))
	for i, it := range items {
		w := &ws[i]
		if err := results.QueryRow().Scan(&w.ticketID, &w.created, &w.inserted); err != nil {
			cmd := it.cmd
			err = fmt.Errorf("writing command %s to ticket %s/%s: %w", cmd.EventID, cmd.Tenant, cmd.TicketRef, err)
			return nil, errors.Join(err, results.Close())
		}
	}
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("closing the pipeline of %d create commands: %w", len(items), err)
	}
	return ws, nil
}
