package slack

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema is the PostgreSQL schema of the ledger table when none is
// given.
const DefaultSchema = "public"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded SQL file, named NNNN_description.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// Migrate creates the ledger table slack_deliveries in schema (created if
// missing) and applies the migrations it has not applied yet, recording
// them in the table slack_migrations of the same schema. Concurrent calls
// are serialized with a transaction-scoped advisory lock, so several sink
// instances may start together.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultSchema
	}
	migrations, err := loadMigrations()
	if err != nil {
		return err
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return classify(fmt.Errorf("starting the migration transaction: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	steps := []struct{ what, sql string }{
		{"taking the migration lock", "SELECT pg_advisory_xact_lock(hashtext('mailtriage.slack.migrate'))"},
		{"creating schema " + schema, "CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{schema}.Sanitize()},
		{"setting the search path", "SET LOCAL search_path TO " + pgx.Identifier{schema}.Sanitize()},
		{"creating slack_migrations", `CREATE TABLE IF NOT EXISTS slack_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`},
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.sql); err != nil {
			return classify(fmt.Errorf("migrating the Slack ledger: %s: %w", s.what, err))
		}
	}

	for _, m := range migrations {
		var applied bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM slack_migrations WHERE version = $1)", m.version).Scan(&applied)
		if err != nil {
			return classify(fmt.Errorf("reading slack_migrations: %w", err))
		}
		if applied {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return classify(fmt.Errorf("applying migration %s: %w", m.name, err))
		}
		if _, err := tx.Exec(ctx, "INSERT INTO slack_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return classify(fmt.Errorf("recording migration %s: %w", m.name, err))
		}
	}

	if err := tx.Commit(ctx); err != nil {
		return classify(fmt.Errorf("committing the Slack ledger migrations: %w", err))
	}
	return nil
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing the embedded migrations: %w", err)
	}

	var out []migration
	for _, path := range names {
		name := strings.TrimPrefix(path, "migrations/")
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: the name must start with a version number and '_'", name)
		}
		data, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		out = append(out, migration{version: version, name: name, sql: string(data)})
	}
	if len(out) == 0 {
		return nil, errors.New("no embedded migrations found")
	}

	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}
