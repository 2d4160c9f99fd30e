package offsets

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresStore keeps positions in the consumer_offsets table of the
// PostgreSQL sink, keyed by consumer group (the sink's connector name),
// topic and partition. The sink writes that table in the transaction
// that applies each batch, and seeks to it when partitions are assigned.
type PostgresStore struct {
	Conn *pgx.Conn
}

// Name returns "PostgreSQL".
func (PostgresStore) Name() string { return "PostgreSQL" }

// Fetch reads the stored positions of group.
func (s PostgresStore) Fetch(ctx context.Context, group, topic string) (Positions, error) {
	query := `SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer_group = $1`
	args := []any{group}
	if topic != "" {
		query += ` AND topic = $2`
		args = append(args, topic)
	}
	rows, err := s.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading consumer_offsets: %w", describePostgresError(err))
	}
	defer rows.Close()

	out := make(Positions)
	for rows.Next() {
		var t string
		var partition int32
		var next int64
		if err := rows.Scan(&t, &partition, &next); err != nil {
			return nil, fmt.Errorf("reading consumer_offsets: %w", err)
		}
		out.set(t, partition, next)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading consumer_offsets: %w", describePostgresError(err))
	}
	return out, nil
}

// Commit writes positions in one transaction, adding the rows of
// partitions that have none.
func (s PostgresStore) Commit(ctx context.Context, group string, positions Positions) error {
	const upsert = `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (consumer_group, topic, partition)
		DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`
	return pgx.BeginFunc(ctx, s.Conn, func(tx pgx.Tx) error {
		for topic, parts := range positions {
			for p, next := range parts {
				if _, err := tx.Exec(ctx, upsert, group, topic, p, next); err != nil {
					return fmt.Errorf("storing offset %d of %s/%d for group %s: %w", next, topic, p, group, describePostgresError(err))
				}
			}
		}
		return nil
	})
}

// describePostgresError adds the likely cause to the error of a missing
// table and returns other errors unchanged.
func describePostgresError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("table consumer_offsets not found: point --postgres at the database of the PostgreSQL sink, which creates the table when it first starts: %w", err)
	}
	return err
}
