package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SeedOffsets sets where a connector starts in topic when it has no stored
// offset yet: next maps each partition to the offset of the first record
// to apply. A partition that already has a stored offset keeps it, so
// seeding never moves a running connector. Without a seed, a connector
// starts at the beginning of the log. Run Migrate first.
func SeedOffsets(ctx context.Context, pool *pgxpool.Pool, group, topic string, next map[int32]int64) error {
	const insert = `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (consumer_group, topic, partition) DO NOTHING`

	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seeding the offsets of %s on %s: %w", group, topic, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	for partition, offset := range next {
		if offset < 0 {
			return fmt.Errorf("seeding the offsets of %s on %s: offset %d of partition %d is negative: give the next offset to apply", group, topic, offset, partition)
		}
		if _, err := tx.Exec(ctx, insert, group, topic, partition, offset); err != nil {
			return fmt.Errorf("seeding offset %d of %s/%d for %s: %w", offset, topic, partition, group, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seeding the offsets of %s on %s: %w", group, topic, err)
	}
	return nil
}
