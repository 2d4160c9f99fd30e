package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/testenv"
	"mailtriage/schemas"
)

// ticketStore creates a PostgreSQL schema of its own for the test,
// migrates it, inserts ticket T-1 of tenant acme in queue billing from a
// rule decision, and returns the DSN and a pool on it.
func ticketStore(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	base := testenv.PostgresDSN(t)
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	schema := "clitest_" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing the test DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	const insert = `WITH ticket AS (
		INSERT INTO tickets (tenant, ticket_ref, external_id, queue, priority, subject, created_at, updated_at,
			reason_kind, reason_rule_id, ruleset_version)
		VALUES ('acme', 'T-1', 'm1@example.test', 'billing', 'normal', 'Invoice [CARD]', now(), now(),
			'rule', 'billing-1', 'rs-7')
		RETURNING id)
	INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction, subject, text, reply_text, received_at)
	SELECT id, 'm1@example.test', 'ev-1', 'inbound', 'Invoice [CARD]', 'Where is my invoice?', '', now() FROM ticket`
	if _, err := pool.Exec(ctx, insert); err != nil {
		t.Fatalf("inserting ticket T-1: %v", err)
	}
	return dsn, pool
}

func TestTicketsReassignPrintsEventID(t *testing.T) {
	dsn, pool := ticketStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var stdout, stderr bytes.Buffer
	err := ticketsReassign(ctx, []string{"--postgres", dsn, "--tenant", "acme", "--ticket", "T-1",
		"--queue", "sales", "--priority", "high", "--actor", "dana"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("tickets reassign: %v", err)
	}
	want := schemas.FeedbackEventID("acme", "T-1", 1)
	if got := strings.TrimSpace(stdout.String()); got != want {
		t.Errorf("stdout: got %q, expected the feedback event ID %q", got, want)
	}
	if !strings.Contains(stderr.String(), "moved from billing/normal to sales/high") {
		t.Errorf("stderr: got %q, expected it to say billing/normal to sales/high", stderr.String())
	}

	var queue, priority, actor, source string
	err = pool.QueryRow(ctx, `SELECT t.queue, t.priority, e.payload->>'actor', e.payload->>'source'
		FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id AND e.kind = 'reassigned'
		WHERE t.ticket_ref = 'T-1'`).Scan(&queue, &priority, &actor, &source)
	if err != nil {
		t.Fatalf("reading the reassigned ticket: %v", err)
	}
	if queue != "sales" || priority != "high" || actor != "dana" || source != "cli" {
		t.Errorf("ticket %s/%s, event actor %q source %q; expected sales/high, dana, cli", queue, priority, actor, source)
	}

	var value []byte
	if err := pool.QueryRow(ctx, `SELECT record_value FROM feedback_outbox WHERE event_id = $1`, want).Scan(&value); err != nil {
		t.Fatalf("reading the outbox row: %v", err)
	}
	var ev schemas.FeedbackEvent
	if err := schemas.Unmarshal(value, &ev); err != nil {
		t.Fatalf("decoding the outbox row: %v", err)
	}
	if ev.Reason.Kind != "rule" || ev.Reason.RuleID != "billing-1" || ev.Reason.RulesetVersion != "rs-7" {
		t.Errorf("original decision: got %+v, expected rule billing-1 of ruleset rs-7", ev.Reason)
	}
	if ev.ReplyText != "Where is my invoice?" {
		t.Errorf("replyText: got %q, expected the message text, because its reply text is empty", ev.ReplyText)
	}
}

func TestTicketsReassignSameQueue(t *testing.T) {
	dsn, pool := ticketStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var stdout, stderr bytes.Buffer
	err := ticketsReassign(ctx, []string{"--postgres", dsn, "--tenant", "acme", "--ticket", "T-1",
		"--queue", "billing", "--actor", "dana"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("tickets reassign to the same queue: got %v, expected success without change", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: got %q, expected no event ID", stdout.String())
	}
	if want := "nothing changed: ticket acme/T-1 is already in queue billing with priority normal\n"; stderr.String() != want {
		t.Errorf("stderr: got %q, expected %q", stderr.String(), want)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM feedback_outbox").Scan(&n); err != nil || n != 0 {
		t.Errorf("outbox rows: got %d (%v), expected 0", n, err)
	}
}

func TestTicketsReassignErrors(t *testing.T) {
	dsn, _ := ticketStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown ticket", []string{"--ticket", "T-404", "--queue", "sales"}, "ticket not found: no ticket T-404 for tenant acme"},
		{"invalid queue", []string{"--ticket", "T-1", "--queue", "Sales Team"},
			`invalid queue "Sales Team": use 1 to 100 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit`},
		{"invalid priority", []string{"--ticket", "T-1", "--queue", "sales", "--priority", "p1"}, `invalid priority "p1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--postgres", dsn, "--tenant", "acme", "--actor", "dana"}, tc.args...)
			var stdout, stderr bytes.Buffer
			err := ticketsReassign(ctx, args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %v, expected it to contain %q", err, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, expected nothing", stdout.String())
			}
		})
	}

	var stdout, stderr bytes.Buffer
	err := ticketsReassign(ctx, []string{"--tenant", "acme"}, &stdout, &stderr)
	var usage *usageError
	if err == nil || errors.As(err, &usage) {
		t.Errorf("missing flags: got %v, expected a plain error", err)
	}
}
