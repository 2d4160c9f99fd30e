package slack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/internal/testenv"
)

// newTestPool connects to the test PostgreSQL server and creates a schema
// of its own for the test, dropped when the test ends.
func newTestPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	t.Cleanup(pool.Close)

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "slack_test_" + hex.EncodeToString(suffix)
	if err := Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("migrating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return pool, schema
}

// newTestPostgresLedger returns a PostgresLedger in a schema of the test.
func newTestPostgresLedger(t *testing.T) *PostgresLedger {
	t.Helper()
	pool, schema := newTestPool(t)
	return NewPostgresLedger(pool, schema)
}

// TestLedgerProtocol runs the same protocol steps on both implementations.
func TestLedgerProtocol(t *testing.T) {
	ledgers := map[string]func(t *testing.T) Ledger{
		"memory":   func(*testing.T) Ledger { return NewMemoryLedger() },
		"postgres": func(t *testing.T) Ledger { return newTestPostgresLedger(t) },
	}
	for name, newLedger := range ledgers {
		t.Run(name, func(t *testing.T) {
			t.Run("claim new entry", func(t *testing.T) { testClaimNew(t, newLedger(t)) })
			t.Run("claim existing entries", func(t *testing.T) { testClaimExisting(t, newLedger(t)) })
			t.Run("recover pending", func(t *testing.T) { testRecoverPending(t, newLedger(t)) })
			t.Run("release", func(t *testing.T) { testRelease(t, newLedger(t)) })
			t.Run("outcome after unknown", func(t *testing.T) { testOutcomeAfterUnknown(t, newLedger(t)) })
		})
	}
}

func mustLookup(ctx context.Context, t *testing.T, l Ledger, id string) Entry {
	t.Helper()
	e, ok, err := l.Lookup(ctx, id)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", id, err)
	}
	if !ok {
		t.Fatalf("Lookup(%s) found nothing, expected an entry", id)
	}
	return e
}

func mustClaim(ctx context.Context, t *testing.T, l Ledger, id string) Claim {
	t.Helper()
	c, err := l.Claim(ctx, id, "acme")
	if err != nil {
		t.Fatalf("Claim(%s): %v", id, err)
	}
	return c
}

func testClaimNew(t *testing.T, l Ledger) {
	ctx := context.Background()
	if c := mustClaim(ctx, t, l, "e1"); !c.Claimed {
		t.Fatalf("Claim of a new event = %+v, expected Claimed", c)
	}
	e := mustLookup(ctx, t, l, "e1")
	if e.Status != StatusPending || e.Attempts != 1 || e.Tenant != "acme" {
		t.Errorf("new entry = %+v, expected pending, 1 attempt, tenant acme", e)
	}
	if e.CreatedAt.IsZero() || e.UpdatedAt.IsZero() {
		t.Errorf("new entry has no timestamps: %+v", e)
	}

	if err := l.RecordAttempt(ctx, "e1", 3); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	if e := mustLookup(ctx, t, l, "e1"); e.Attempts != 3 {
		t.Errorf("attempts after RecordAttempt(3) = %d", e.Attempts)
	}
	if err := l.MarkDelivered(ctx, "e1", 3); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	if e := mustLookup(ctx, t, l, "e1"); e.Status != StatusDelivered || e.Attempts != 3 {
		t.Errorf("entry after MarkDelivered = %+v, expected delivered after 3 attempts", e)
	}
	if _, ok, err := l.Lookup(ctx, "missing"); ok || err != nil {
		t.Errorf("Lookup of a missing event = found %v, error %v; expected not found, nil", ok, err)
	}
}

func testClaimExisting(t *testing.T, l Ledger) {
	ctx := context.Background()
	for _, id := range []string{"delivered", "failed", "pending"} {
		mustClaim(ctx, t, l, id)
	}
	if err := l.MarkDelivered(ctx, "delivered", 1); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFailed(ctx, "failed", 2, "400 invalid_payload"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		id           string
		wantPrevious Status
		wantNow      Status
	}{
		{"delivered", StatusDelivered, StatusDelivered},
		{"failed", StatusFailed, StatusFailed},
		{"pending", StatusPending, StatusUnknown}, // left by another process
	} {
		t.Run(tc.id, func(t *testing.T) {
			c := mustClaim(ctx, t, l, tc.id)
			if c.Claimed || c.Previous != tc.wantPrevious {
				t.Errorf("Claim = %+v, expected not claimed with previous %s", c, tc.wantPrevious)
			}
			if e := mustLookup(ctx, t, l, tc.id); e.Status != tc.wantNow {
				t.Errorf("status after Claim = %s, expected %s", e.Status, tc.wantNow)
			}
		})
	}
	if e := mustLookup(ctx, t, l, "failed"); e.LastError != "400 invalid_payload" || e.Attempts != 2 {
		t.Errorf("failed entry = %+v, expected its error and 2 attempts", e)
	}
	// An unknown entry is final for Claim too.
	if c := mustClaim(ctx, t, l, "pending"); c.Claimed || c.Previous != StatusUnknown {
		t.Errorf("Claim of an unknown entry = %+v, expected not claimed with previous unknown", c)
	}
}

func testRecoverPending(t *testing.T, l Ledger) {
	ctx := context.Background()
	for _, id := range []string{"p1", "p2", "done"} {
		mustClaim(ctx, t, l, id)
	}
	if err := l.MarkDelivered(ctx, "done", 1); err != nil {
		t.Fatal(err)
	}

	recovered, err := l.RecoverPending(ctx)
	if err != nil {
		t.Fatalf("RecoverPending: %v", err)
	}
	got := map[string]Status{}
	for _, e := range recovered {
		got[e.EventID] = e.Status
	}
	if len(got) != 2 || got["p1"] != StatusUnknown || got["p2"] != StatusUnknown {
		t.Errorf("RecoverPending returned %v, expected p1 and p2 as unknown", got)
	}
	if e := mustLookup(ctx, t, l, "done"); e.Status != StatusDelivered {
		t.Errorf("delivered entry became %s", e.Status)
	}
	again, err := l.RecoverPending(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second RecoverPending returned %d entries (error %v), expected none", len(again), err)
	}
}

func testRelease(t *testing.T, l Ledger) {
	ctx := context.Background()
	mustClaim(ctx, t, l, "waiting")
	mustClaim(ctx, t, l, "done")
	if err := l.MarkDelivered(ctx, "done", 1); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{"waiting", "done"} {
		if err := l.Release(ctx, id); err != nil {
			t.Fatalf("Release(%s): %v", id, err)
		}
	}
	if _, ok, _ := l.Lookup(ctx, "waiting"); ok {
		t.Errorf("released pending entry still exists")
	}
	if e := mustLookup(ctx, t, l, "done"); e.Status != StatusDelivered {
		t.Errorf("Release changed a delivered entry to %s", e.Status)
	}
	if c := mustClaim(ctx, t, l, "waiting"); !c.Claimed {
		t.Errorf("Claim after Release = %+v, expected Claimed", c)
	}
}

func testOutcomeAfterUnknown(t *testing.T, l Ledger) {
	ctx := context.Background()
	mustClaim(ctx, t, l, "slow")
	if _, err := l.RecoverPending(ctx); err != nil { // another instance started meanwhile
		t.Fatal(err)
	}
	if err := l.MarkDelivered(ctx, "slow", 1); err != nil {
		t.Fatal(err)
	}
	if e := mustLookup(ctx, t, l, "slow"); e.Status != StatusDelivered {
		t.Errorf("MarkDelivered on an unknown entry left %s, expected delivered", e.Status)
	}
	if err := l.MarkFailed(ctx, "slow", 1, "late"); err != nil {
		t.Fatal(err)
	}
	if e := mustLookup(ctx, t, l, "slow"); e.Status != StatusDelivered {
		t.Errorf("MarkFailed overwrote a delivered entry with %s", e.Status)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	pool, schema := newTestPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var versions int
	err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "slack_migrations"}.Sanitize()).Scan(&versions)
	if err != nil {
		t.Fatal(err)
	}
	migrations, _ := loadMigrations()
	if versions != len(migrations) {
		t.Errorf("slack_migrations has %d rows, expected %d", versions, len(migrations))
	}
	var key string
	err = pool.QueryRow(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary`, pgx.Identifier{schema, "slack_deliveries"}.Sanitize()).Scan(&key)
	if err != nil || key != "event_id" {
		t.Errorf("primary key of slack_deliveries = %q (error %v), expected event_id", key, err)
	}
}

func TestPostgresLedgerPermanentError(t *testing.T) {
	pool, schema := newTestPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	l := NewPostgresLedger(pool, schema+"_missing")
	_, err := l.Claim(ctx, "e1", "acme")
	if !errors.Is(err, ErrLedgerPermanent) {
		t.Errorf("Claim on a missing table returned %v, expected ErrLedgerPermanent", err)
	}
}

func TestClassifyLedgerErrors(t *testing.T) {
	for _, tc := range []struct {
		code      string
		permanent bool
	}{
		{"08006", false}, // connection failure
		{"57P01", false}, // admin shutdown
		{"40001", false}, // serialization failure
		{"53300", false}, // too many connections
		{"42P01", true},  // undefined table
		{"42501", true},  // insufficient privilege
		{"23514", true},  // check violation
	} {
		t.Run(tc.code, func(t *testing.T) {
			err := classify(&pgconn.PgError{Code: tc.code})
			if got := errors.Is(err, ErrLedgerPermanent); got != tc.permanent {
				t.Errorf("classify(%s) permanent = %v, expected %v", tc.code, got, tc.permanent)
			}
		})
	}
	if errors.Is(classify(errors.New("dial tcp: connection refused")), ErrLedgerPermanent) {
		t.Errorf("a network error was classified permanent")
	}
}
