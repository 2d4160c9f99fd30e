package postgres

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaSnapshot lists the columns, constraints and indexes of the tables
// in the first schema of the search path, one line each, sorted.
func schemaSnapshot(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const query = `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '')
		FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`
	rows, err := pool.Query(ctx, query)
	if err != nil {
		t.Fatalf("reading the schema: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading the schema: %v", err)
	}
	slices.Sort(lines)
	return lines
}

// embeddedMigrationNames returns the file names of the embedded
// migrations in version order.
func embeddedMigrationNames(t *testing.T) []string {
	t.Helper()
	migrations, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatalf("loading the embedded migrations: %v", err)
	}
	names := make([]string, len(migrations))
	for i, m := range migrations {
		names[i] = m.file
	}
	if len(names) < 3 || names[0] != "0001_init.sql" || names[2] != "0003_reassign_feedback.sql" {
		t.Fatalf("embedded migrations %v do not start with 0001_init.sql, 0002_... and 0003_reassign_feedback.sql", names)
	}
	return names
}

func TestMigrateTwice(t *testing.T) {
	dsn := testSchema(t)
	pool := newPool(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	applied, err := Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	want := embeddedMigrationNames(t)
	if !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v, expected %v", applied, want)
	}
	before := schemaSnapshot(t, pool)
	for _, table := range []string{"tickets", "ticket_events", "ticket_messages", "consumer_offsets", "dead_letter_outbox", "feedback_outbox", "schema_migrations"} {
		if !slices.ContainsFunc(before, func(line string) bool { return strings.HasPrefix(line, "column "+table+".") }) {
			t.Errorf("table %s missing after Migrate", table)
		}
	}
	for _, index := range []string{"tickets_tenant_status_idx", "tickets_tenant_queue_idx", "tickets_created_at_idx"} {
		if !slices.ContainsFunc(before, func(line string) bool { return strings.Contains(line, "INDEX "+index+" ") }) {
			t.Errorf("index %s missing after Migrate", index)
		}
	}

	applied, err = Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, expected nothing", applied)
	}
	if after := schemaSnapshot(t, pool); !slices.Equal(before, after) {
		t.Errorf("second Migrate changed the schema:\nbefore %v\nafter  %v", before, after)
	}
	if got := count(t, pool, "SELECT count(*) FROM schema_migrations"); got != int64(len(want)) {
		t.Errorf("schema_migrations has %d rows, expected one per embedded file, %d", got, len(want))
	}
}

func TestMigrateConcurrentStarts(t *testing.T) {
	dsn := testSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const starts = 4
	var wg sync.WaitGroup
	results := make([][]string, starts)
	errs := make([]error, starts)
	for i := range starts {
		pool := newPool(t, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Migrate(ctx, pool)
		}()
	}
	wg.Wait()

	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
		total += len(results[i])
	}
	files := len(embeddedMigrationNames(t))
	if total != files {
		t.Errorf("concurrent Migrate calls applied %d files in all (%v), expected each of the %d files once", total, results, files)
	}
	if got := count(t, newPool(t, dsn), "SELECT count(*) FROM schema_migrations"); got != int64(files) {
		t.Errorf("schema_migrations has %d rows, expected %d", got, files)
	}
}

func TestMigrateFailureNamesFile(t *testing.T) {
	dsn := testSchema(t)
	pool := newPool(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	fsys := fstest.MapFS{
		"migrations/0001_first.sql":  {Data: []byte("CREATE TABLE first_table (id integer);")},
		"migrations/0002_broken.sql": {Data: []byte("CREATE TABLE second_table (id integer;")},
	}
	_, err := migrate(ctx, pool, fsys)
	if err == nil {
		t.Fatal("migrate with a broken file returned no error")
	}
	if !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Errorf("error %q does not name the file 0002_broken.sql", err)
	}
	if got := count(t, pool, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'first_table'"); got != 0 {
		t.Errorf("first_table exists after the failed run; the transaction should have rolled it back")
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"no version": {"migrations/init.sql": {Data: []byte("SELECT 1;")}},
		"same version": {
			"migrations/0001_a.sql": {Data: []byte("SELECT 1;")},
			"migrations/001_b.sql":  {Data: []byte("SELECT 1;")},
		},
		"empty": {"migrations/README": {Data: []byte("x")}},
	}
	for name, fsys := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := loadMigrations(fsys); err == nil {
				t.Errorf("loadMigrations accepted %v", fsys)
			}
		})
	}
}
