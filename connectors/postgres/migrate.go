package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the key of the transaction-level advisory lock that
// serializes migrations, so that two sinks starting together against one
// database do not both apply the same file. It is the first 8 bytes of
// "mailtriage" read as a big-endian integer, an arbitrary but fixed value.
const migrationLockKey int64 = 0x6d61696c74726961

// migrationName matches the file names of migrations: a version number,
// an underscore, a description and ".sql", such as "0001_init.sql".
var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)

// migration is one embedded SQL file.
type migration struct {
	version int
	file    string
	sql     string
}

// Migrate applies the embedded migrations that the database has not seen
// yet, in version order, and records each in schema_migrations. The tables
// go into the first schema of the connection's search_path.
//
// All pending files run in one transaction that first takes an advisory
// lock, so a concurrent Migrate waits and then finds nothing left to do,
// and a file that fails leaves the database as it was. The error names
// the file that failed.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (applied []string, err error) {
	return migrate(ctx, pool, migrationFiles)
}

// migrate applies the migrations found under migrations/ of fsys.
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) (applied []string, err error) {
	migrations, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("beginning the migration transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	if _, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		file       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err = tx.Exec(ctx, createTable); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	done, err := appliedVersions(ctx, tx)
	if err != nil {
		return nil, err
	}

	for _, m := range migrations {
		if _, ok := done[m.version]; ok {
			continue
		}
		// Exec without arguments uses the simple query protocol, which
		// accepts a file of several statements.
		if _, err = tx.Exec(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("applying migration %s: %w", m.file, err)
		}
		if _, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, file) VALUES ($1, $2)", m.version, m.file); err != nil {
			return nil, fmt.Errorf("recording migration %s: %w", m.file, err)
		}
		applied = append(applied, m.file)
	}

	if err = tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("committing the migrations %v: %w", applied, err)
	}
	return applied, nil
}

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(ctx context.Context, tx pgx.Tx) (map[int]struct{}, error) {
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	done := make(map[int]struct{}, len(versions))
	for _, v := range versions {
		done[int(v)] = struct{}{}
	}
	return done, nil
}

// loadMigrations reads the SQL files under migrations/ of fsys, sorted by
// version. A file name out of the NNNN_name.sql pattern or a version used
// twice is an error, because either would make the order ambiguous.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("listing the embedded migrations: %w", err)
	}
	var out []migration
	seen := make(map[int]string)
	for _, e := range entries {
		name := e.Name()
		match := migrationName.FindStringSubmatch(name)
		if match == nil {
			return nil, fmt.Errorf("invalid migration file name %q: use NNNN_description.sql in lower case", name)
		}
		version, err := strconv.Atoi(match[1])
		if err != nil {
			return nil, fmt.Errorf("invalid version in migration file name %q: %w", name, err)
		}
		if other, ok := seen[version]; ok {
			return nil, fmt.Errorf("migrations %s and %s share version %d: renumber one of them", other, name, version)
		}
		seen[version] = name

		body, err := fs.ReadFile(fsys, path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		out = append(out, migration{version: version, file: name, sql: string(body)})
	}
	if len(out) == 0 {
		return nil, errors.New("no embedded migrations found under migrations/")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}
