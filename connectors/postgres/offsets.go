package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// storedOffsets is the group's AdjustFetchOffsetsFn: it replaces the
// offsets of newly assigned partitions with those stored in
// consumer_offsets. A partition without a stored offset starts at the
// beginning of the log. While PostgreSQL is unreachable it retries until
// ctx ends, which happens when the group starts the next rebalance.
func (s *Sink) storedOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	partitions, ok := assigned[s.cfg.Topic]
	if !ok {
		return assigned, nil
	}

	var stored map[int32]int64
	for attempt := 1; ; attempt++ {
		var err error
		stored, err = s.loadOffsets(ctx)
		if err == nil {
			break
		}
		if !s.waitRetry(ctx, "reading stored offsets failed; retrying", attempt, err) {
			return nil, ctx.Err()
		}
	}

	seeks := make(map[int32]int64, len(partitions))
	for p := range partitions {
		next, ok := stored[p]
		if !ok {
			partitions[p] = kgo.NewOffset().AtStart()
			seeks[p] = -2 // kgo's marker for the start of the log
			continue
		}
		// Epoch -1 turns off the client's data loss detection, which
		// would compare against a leader epoch that PostgreSQL does not
		// store.
		partitions[p] = kgo.NewOffset().At(next).WithEpoch(-1)
		seeks[p] = next
	}
	s.log.Info("partitions assigned; seeking to stored offsets", "offsets", seeks)
	return assigned, nil
}

// loadOffsets reads the stored next offsets of every partition of the
// topic for this connector.
func (s *Sink) loadOffsets(ctx context.Context) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`,
		s.cfg.Group, s.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("reading consumer_offsets: %w", err)
	}
	defer rows.Close()

	out := make(map[int32]int64)
	for rows.Next() {
		var partition int32
		var next int64
		if err := rows.Scan(&partition, &next); err != nil {
			return nil, fmt.Errorf("reading consumer_offsets: %w", err)
		}
		out[partition] = next
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading consumer_offsets: %w", err)
	}
	return out, nil
}

// lockOffset locks the offset row of one partition for the rest of tx and
// returns the stored next offset, creating the row at 0 when the
// partition has none yet. Holding the lock until COMMIT makes batches of
// the same partition run one after another, even from two members of the
// group during a rebalance.
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

// storeOffset sets the stored next offset of one partition.
func storeOffset(ctx context.Context, tx pgx.Tx, group, topic string, partition int32, next int64) error {
	const update = `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
		WHERE consumer_group = $1 AND topic = $2 AND partition = $3`
	if _, err := tx.Exec(ctx, update, group, topic, partition, next); err != nil {
		return fmt.Errorf("storing offset %d of %s/%d: %w", next, topic, partition, err)
	}
	return nil
}
