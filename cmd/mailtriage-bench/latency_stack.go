package main

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/topics"
)

// writtenColumn is the column that the latency run adds to ticket_messages
// in its own schema: the time the sink inserted the row, inside its
// transaction. The sink names its columns, so it never sets this one.
const writtenColumn = "bench_written_at"

// prepareSchema creates schema, migrates it as the PostgreSQL sink would,
// adds writtenColumn and points group's stored offsets at the current end
// of the tickets topic, so that the sink applies only this run's
// commands. It returns the DSN whose search_path is schema.
func prepareSchema(ctx context.Context, baseDSN, schema, group string, adm *kadm.Client) (string, error) {
	admin, err := pgxpool.New(ctx, baseDSN)
	if err != nil {
		return "", fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("creating schema %s: %w", schema, err)
	}

	u, err := url.Parse(baseDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("MAILTRIAGE_POSTGRES_DSN is not a postgres:// URL; the latency run adds search_path to it")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connecting to schema %s: %w", schema, err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return "", fmt.Errorf("migrating schema %s: %w", schema, err)
	}
	alter := "ALTER TABLE ticket_messages ADD COLUMN " + writtenColumn + " timestamptz NOT NULL DEFAULT clock_timestamp()"
	if _, err := pool.Exec(ctx, alter); err != nil {
		return "", fmt.Errorf("adding %s to ticket_messages: %w", writtenColumn, err)
	}

	ends, err := adm.ListEndOffsets(ctx, topics.Tickets)
	if err != nil {
		return "", fmt.Errorf("listing the end offsets of %s: %w", topics.Tickets, err)
	}
	next := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
	if err := postgres.SeedOffsets(ctx, pool, group, topics.Tickets, next); err != nil {
		return "", err
	}
	return dsn, nil
}

// dropSchema removes the run's schema and everything in it.
func dropSchema(ctx context.Context, baseDSN, schema string) error {
	admin, err := pgxpool.New(ctx, baseDSN)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return fmt.Errorf("dropping schema %s: %w", schema, err)
	}
	return nil
}

// seedProcessGroup commits the current end offsets of the inbound topic
// for group, so that the processor starts after the records already there.
func seedProcessGroup(ctx context.Context, adm *kadm.Client, group string) error {
	ends, err := adm.ListEndOffsets(ctx, topics.Inbound)
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", topics.Inbound, err)
	}
	if err := adm.CommitAllOffsets(ctx, group, ends.Offsets()); err != nil {
		return fmt.Errorf("seeding the offsets of group %s: %w", group, err)
	}
	return nil
}

// newAdmin returns an admin client on brokers and the function that
// closes it.
func newAdmin(brokers []string) (*kadm.Client, func(), error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, nil, fmt.Errorf("creating the Kafka admin client: %w", err)
	}
	return kadm.NewClient(client), client.Close, nil
}

// freeAddress returns a loopback address with a port that was free a
// moment ago.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
