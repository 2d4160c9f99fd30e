package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/tracing"
	"mailtriage/schemas"
)

// item is one polled record: its decoded command, or the reason it cannot
// be applied, or neither for a transaction marker.
type item struct {
	rec     *kgo.Record
	cmd     *schemas.TicketCommand // nil when fault is set
	fault   error
	control bool // a commit or abort marker, which only moves the offset
}

// partitionItems is the part of a poll batch from one partition, in
// offset order.
type partitionItems struct {
	partition int32
	items     []item
}

// batchResult counts what one committed transaction wrote.
type batchResult struct {
	applied     int // commands written
	skipped     int // records below the stored offset, applied before
	markers     int // transaction markers passed
	deadLetters int
	receivedAt  []time.Time // of each command written, for the metrics
}

// handle applies one poll batch in one transaction, retrying until it
// commits or ctx ends, and then sends the dead letters it recorded.
func (s *Sink) handle(ctx context.Context, fetches kgo.Fetches) error {
	parts := s.decode(ctx, fetches)
	if len(parts) == 0 {
		return nil
	}
	// A failed lookup in the schema registry may pass, so such a record is
	// decoded again after a backoff instead of going to the DLQ.
	for attempt := 1; ; attempt++ {
		err := registryFault(parts)
		if err == nil {
			break
		}
		if !s.waitRetry(ctx, "looking up a schema in the registry failed; retrying", attempt, err) {
			return ctx.Err()
		}
		parts = s.decode(ctx, fetches)
	}
	records := 0
	for _, p := range parts {
		records += len(p.items)
	}

	isolate := false
	for attempt := 1; ; attempt++ {
		res, err := s.applyBatch(ctx, parts, isolate)
		if err == nil {
			if attempt > 1 {
				s.log.Info("batch written after retries", "attempts", attempt, "records", records)
			}
			s.log.Debug("batch committed", "records", records, "applied", res.applied,
				"skipped", res.skipped, "markers", res.markers, "dead_letters", res.deadLetters)
			s.observeBatch(records, res)
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !isolate && isRecordFault(err) {
			// Some command carries data that PostgreSQL rejects. Run the
			// batch again with a savepoint around each command, so the
			// faulty ones go to the DLQ and the rest are written.
			s.log.Warn("PostgreSQL rejected a command of the batch; writing each command on its own to find it",
				"records", records, "error", s.redact.text(err))
			isolate = true
			attempt--
			continue
		}
		s.cfg.Metrics.DeliveryError()
		s.cfg.Metrics.Retry()
		if !s.waitRetry(ctx, "writing the batch to PostgreSQL failed; retrying", attempt, err, "records", records) {
			return ctx.Err()
		}
	}

	return s.flushOutbox(ctx)
}

// decode groups the records of fetches by partition and decodes each.
// Records of other topics, which the client does not return, are ignored.
func (s *Sink) decode(ctx context.Context, fetches kgo.Fetches) []partitionItems {
	var parts []partitionItems
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Topic != s.cfg.Topic || len(p.Records) == 0 {
			return
		}
		pi := partitionItems{partition: p.Partition, items: make([]item, 0, len(p.Records))}
		for _, rec := range p.Records {
			pi.items = append(pi.items, decodeRecord(ctx, s.cfg.Serde, rec))
		}
		parts = append(parts, pi)
	})
	// Every transaction locks the offset rows in partition order, so two
	// members of the group cannot deadlock on them.
	sort.Slice(parts, func(i, j int) bool { return parts[i].partition < parts[j].partition })
	return parts
}

// registryFault returns the first decoding error of parts that a failed
// schema registry request caused, or nil.
func registryFault(parts []partitionItems) error {
	for _, p := range parts {
		for _, it := range p.items {
			if it.fault != nil && errors.Is(it.fault, schemas.ErrRegistry) {
				return it.fault
			}
		}
	}
	return nil
}

// decodeRecord decodes the TicketCommand in rec with serde and validates it.
func decodeRecord(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) item {
	if rec.Attrs.IsControl() {
		return item{rec: rec, control: true}
	}
	var cmd schemas.TicketCommand
	if err := serde.DecodeContext(ctx, rec.Value, &cmd); err != nil {
		return item{rec: rec, fault: fmt.Errorf("decoding the TicketCommand: %w", err)}
	}
	if err := validateCommand(&cmd); err != nil {
		return item{rec: rec, cmd: &cmd, fault: err}
	}
	return item{rec: rec, cmd: &cmd}
}

// applyBatch writes parts in one transaction with their new offsets and
// the dead letters of the records that cannot be applied. With isolate
// set, each command runs in a savepoint, and a command that PostgreSQL
// rejects for its data becomes a dead letter instead of failing the batch.
func (s *Sink) applyBatch(ctx context.Context, parts []partitionItems, isolate bool) (res batchResult, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("beginning the batch transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	now := s.cfg.Now()
	var dead []deadLetter
	for _, p := range parts {
		partDead, err := s.applyPartition(ctx, tx, p, now, isolate, &res)
		if err != nil {
			return res, err
		}
		dead = append(dead, partDead...)
	}

	if err := s.insertOutbox(ctx, tx, dead); err != nil {
		return res, err
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("committing the batch: %w", err)
	}
	res.deadLetters = len(dead)
	return res, nil
}

// applyPartition writes the records of p from its stored offset on, and
// stores its next offset, in tx. It returns the dead letters of the
// records that cannot be applied. Outside isolation, consecutive create
// commands for distinct tickets go to PostgreSQL in one pipeline
// (createRun); every other command is written on its own.
func (s *Sink) applyPartition(ctx context.Context, tx pgx.Tx, p partitionItems, now time.Time, isolate bool, res *batchResult) ([]deadLetter, error) {
	stored, err := lockOffset(ctx, tx, s.cfg.Group, s.cfg.Topic, p.partition)
	if err != nil {
		return nil, err
	}

	next := stored
	var dead []deadLetter
	var creates createRun
	for _, it := range p.items {
		if it.rec.Offset < stored {
			res.skipped++
			continue
		}
		next = it.rec.Offset + 1
		if it.control {
			res.markers++
			continue
		}

		if it.fault == nil && !isolate && it.cmd.Action == ActionCreate {
			if creates.full() || creates.has(it.cmd) {
				if err := s.writeCreates(ctx, tx, &creates, now, res); err != nil {
					return nil, err
				}
			}
			creates.add(it)
			continue
		}
		if err := s.writeCreates(ctx, tx, &creates, now, res); err != nil {
			return nil, err
		}

		fault := it.fault
		if fault == nil {
			itemCtx, span := tracing.StartRecord(ctx, tracing.SpanSinkPostgres, it.rec, tracing.Tenant(it.cmd.Tenant))
			fault, err = s.applyItem(itemCtx, tx, it.cmd, now, isolate)
			tracing.End(span, errors.Join(fault, err))
			if err != nil {
				return nil, err
			}
		}
		if fault != nil {
			dead = append(dead, s.newDeadLetter(it, fault, now))
			continue
		}
		res.add(it.cmd)
	}

	if err := s.writeCreates(ctx, tx, &creates, now, res); err != nil {
		return nil, err
	}
	if err := storeOffset(ctx, tx, s.cfg.Group, s.cfg.Topic, p.partition, next); err != nil {
		return nil, err
	}
	return dead, nil
}

// add counts cmd as written.
func (res *batchResult) add(cmd *schemas.TicketCommand) {
	res.applied++
	res.receivedAt = append(res.receivedAt, cmd.ReceivedAt)
}

// applyItem writes one command. Outside isolation it returns any error as
// err. In isolation it runs the command in a savepoint and returns a data
// error of PostgreSQL as fault, after rolling back to the savepoint.
func (s *Sink) applyItem(ctx context.Context, tx pgx.Tx, cmd *schemas.TicketCommand, now time.Time, isolate bool) (fault, err error) {
	if !isolate {
		return nil, applyCommandPolicy(ctx, tx, cmd, now, s.cfg.ClosedPolicy)
	}

	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating a savepoint: %w", err)
	}
	applyErr := applyCommandPolicy(ctx, sp, cmd, now, s.cfg.ClosedPolicy)
	if applyErr == nil {
		if err := sp.Commit(ctx); err != nil {
			return nil, fmt.Errorf("releasing the savepoint: %w", err)
		}
		return nil, nil
	}
	if !isRecordFault(applyErr) {
		return nil, applyErr
	}
	if err := sp.Rollback(ctx); err != nil {
		return nil, errors.Join(applyErr, fmt.Errorf("rolling back to the savepoint: %w", err))
	}
	return fmt.Errorf("PostgreSQL rejected the command: %w", applyErr), nil
}
