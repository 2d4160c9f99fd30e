package pgconsumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/ticketing/httpjson"
)

// TxFunc writes a record's ledger rows in tx.
type TxFunc func(ctx context.Context, tx pgx.Tx) error

// Begin opens the work on rec: in one transaction it locks the offset row
// of rec's partition and, unless the stored offset is already past rec,
// runs fn, typically to record the intent of an external call. It
// reports skip true, without running fn, when an earlier run finished
// rec. The offset does not move. fn may run more than once, because a
// failed transaction is retried until it commits or ctx ends (then Begin
// returns httpjson.ErrStopped).
func (c *Consumer) Begin(ctx context.Context, rec *kgo.Record, fn TxFunc) (skip bool, err error) {
	err = c.Retry(ctx, "recording the intent of a call", func(ctx context.Context) error {
		skip = false
		return c.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			stored, err := lockOffset(ctx, tx, c.cfg.Group, c.cfg.Topic, rec.Partition)
			if err != nil {
				return err
			}
			if rec.Offset < stored {
				skip = true
				return nil
			}
			if fn == nil {
				return nil
			}
			return fn(ctx, tx)
		})
	})
	return skip, err
}

// Finish ends the work on rec: in one transaction it runs fn, typically to
// record the outcome of an external call, and moves the stored offset of
// rec's partition past rec. An offset that another member already moved
// further stays where it is. fn may run more than once, like Begin's.
func (c *Consumer) Finish(ctx context.Context, rec *kgo.Record, fn TxFunc) error {
	return c.Retry(ctx, "storing the outcome and the offset", func(ctx context.Context) error {
		return c.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := lockOffset(ctx, tx, c.cfg.Group, c.cfg.Topic, rec.Partition); err != nil {
				return err
			}
			if fn != nil {
				if err := fn(ctx, tx); err != nil {
					return err
				}
			}
			return storeOffset(ctx, tx, c.cfg.Group, c.cfg.Topic, rec.Partition, rec.Offset+1)
		})
	})
}

// FinishDead ends the work on rec like Finish, and writes a dead letter
// for it with cause in the same transaction. It then produces the dead
// letter.
func (c *Consumer) FinishDead(ctx context.Context, rec *kgo.Record, tenant string, cause error, attempts int, fn TxFunc) error {
	dl := c.newDeadLetter(rec, tenant, cause, attempts)
	err := c.Finish(ctx, rec, func(ctx context.Context, tx pgx.Tx) error {
		if fn != nil {
			if err := fn(ctx, tx); err != nil {
				return err
			}
		}
		return c.insertOutbox(ctx, tx, dl)
	})
	if err != nil {
		return err
	}
	c.cfg.Metrics.DeliveryError()
	c.log.Error("record sent to the dead-letter topic", "tenant", tenant, "partition", rec.Partition,
		"offset", rec.Offset, "attempts", attempts, "error", dl.errorText)
	return c.FlushOutbox(ctx)
}

// KeyLock runs fn while holding the PostgreSQL session advisory lock of
// key, so that two sink instances never work on one external object at
// the same time, as during a rebalance that moves a partition whose
// record is still being handled. The lock goes with the session, so a
// crashed process releases it. It returns fn's error, or
// httpjson.ErrStopped when ctx ended while waiting for the lock.
func (c *Consumer) KeyLock(ctx context.Context, key string, fn func() error) error {
	var conn *pgxpool.Conn
	err := c.Retry(ctx, "taking the advisory lock of an external object", func(opCtx context.Context) error {
		var err error
		conn, err = c.pool.Acquire(opCtx)
		if err != nil {
			return fmt.Errorf("acquiring a connection: %w", err)
		}
		if _, err := conn.Exec(opCtx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", key); err != nil {
			conn.Release()
			return fmt.Errorf("taking the advisory lock: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
		defer cancel()
		if _, err := conn.Exec(unlockCtx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key); err != nil {
			// Closing the session releases the lock for sure.
			c.log.Warn("releasing an advisory lock failed; closing its connection", "error", err)
			_ = conn.Conn().Close(unlockCtx)
		}
		conn.Release()
	}()
	return fn()
}

// inTx runs fn in a transaction and commits it.
func (c *Consumer) inTx(ctx context.Context, fn TxFunc) error {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// lockOffset locks the offset row of one partition until the end of tx
// and returns the stored next offset, creating the row at 0 when the
// partition has none.
func lockOffset(ctx context.Context, tx pgx.Tx, group, topic string, partition int32) (int64, error) {
	const upsert = `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
		VALUES ($1, $2, $3, 0)
		ON CONFLICT (consumer_group, topic, partition)
		DO UPDATE SET next_offset = consumer_offsets.next_offset
		RETURNING next_offset`
	var next int64
	if err := tx.QueryRow(ctx, upsert, group, topic, partition).Scan(&next); err != nil {
		return 0, fmt.Errorf("locking the offset of %s/%d: %w", topic, partition, err)
	}
	return next, nil
}

// storeOffset moves the stored next offset of one partition to next,
// unless it is already further.
func storeOffset(ctx context.Context, tx pgx.Tx, group, topic string, partition int32, next int64) error {
	const update = `UPDATE consumer_offsets SET next_offset = GREATEST(next_offset, $4), updated_at = now()
		WHERE consumer_group = $1 AND topic = $2 AND partition = $3`
	if _, err := tx.Exec(ctx, update, group, topic, partition, next); err != nil {
		return fmt.Errorf("storing offset %d of %s/%d: %w", next, topic, partition, err)
	}
	return nil
}

// IsStopped reports whether err means that the context ended first.
func IsStopped(err error) bool { return errors.Is(err, httpjson.ErrStopped) }
