package e2e

import (
	"context"
	"fmt"
	"testing"

	"mailtriage/topics"
)

// faultTotals are the counts of a scenario's tenant in every store.
type faultTotals struct {
	tickets, distinctTickets int // PostgreSQL tickets and distinct first message IDs
	deadLetters              int // records of the tenant on the DLQ topic
	rows, distinctRows       uint64
	delivered, unknown       int // Slack ledger rows by status
	failed, pending          int
	posts, distinctPosts     int // posts the Slack capture server accepted
}

// settle waits until the processor committed every input, then until
// PostgreSQL, ClickHouse and the Slack ledger account for every message,
// and returns the totals. Every wait ends with ctx.
func (run *faultRun) settle(ctx context.Context, t *testing.T, posts func() []string) faultTotals {
	t.Helper()
	waitFor(ctx, t, "the processor to commit every input", func() (bool, string) {
		sum, done, err := run.processed(ctx)
		if err != nil {
			return false, err.Error()
		}
		return done, fmt.Sprintf("%d of %d inputs committed", sum, run.n)
	})
	var tot faultTotals
	dead, polls := run.deadLetters(ctx, t), 0
	waitFor(ctx, t, "every message in the stores", func() (bool, string) {
		// The sinks dead-letter late, so the DLQ is read again every
		// 25 polls (about 5 s).
		if polls++; polls%25 == 0 {
			dead = run.deadLetters(ctx, t)
		}
		var err error
		tot, err = run.totals(ctx, posts)
		tot.deadLetters = dead
		if err != nil {
			return false, err.Error()
		}
		done := tot.tickets+tot.deadLetters >= run.n && tot.rows >= uint64(run.n) &&
			tot.delivered+tot.unknown+tot.failed >= run.n-tot.deadLetters && tot.pending == 0
		return done, fmt.Sprintf("%+v", tot)
	})
	return tot
}

// totals reads the counts of the tenant from every store.
func (run *faultRun) totals(ctx context.Context, posts func() []string) (faultTotals, error) {
	var tot faultTotals
	err := run.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT external_id) FROM tickets WHERE tenant = $1`, run.tenant).
		Scan(&tot.tickets, &tot.distinctTickets)
	if err != nil {
		return tot, fmt.Errorf("counting tickets: %w", err)
	}
	err = run.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'unknown'),
		count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'pending')
		FROM slack_deliveries WHERE tenant = $1`, run.tenant).Scan(&tot.delivered, &tot.unknown, &tot.failed, &tot.pending)
	if err != nil {
		return tot, fmt.Errorf("counting Slack deliveries: %w", err)
	}
	table := fmt.Sprintf("`%s`.`%s`", run.chDB, run.chTable)
	err = run.ch.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+table+" FINAL WHERE tenant = ?", run.tenant).
		Scan(&tot.rows, &tot.distinctRows)
	if err != nil {
		return tot, fmt.Errorf("counting ClickHouse rows: %w", err)
	}
	all := posts()
	seen := map[string]bool{}
	for _, p := range all {
		seen[p] = true
	}
	tot.posts, tot.distinctPosts = len(all), len(seen)
	return tot, nil
}

// deadLetters counts the tenant's records on the DLQ topic since the
// start of the run, read_committed.
func (run *faultRun) deadLetters(ctx context.Context, t *testing.T) int {
	t.Helper()
	end := stableOffsets(ctx, t, run.adm, topics.DLQ)
	return len(tenantRecords(readRange(ctx, t, run.brokers, topics.DLQ, run.start, end), run.tenant))
}

// check waits for the stores and checks that every message is accounted
// for exactly once. Tickets plus dead letters must equal N, and ClickHouse
// FINAL must contain N distinct rows. Slack must have at most one post and
// exactly one delivered or unknown ledger row per ticket.
func (run *faultRun) check(ctx context.Context, t *testing.T, posts func() []string) {
	t.Helper()
	tot := run.settle(ctx, t, posts)
	tot.deadLetters = run.deadLetters(ctx, t)
	// Read again: the last wait may have ended between two stores.
	final, err := run.totals(ctx, posts)
	if err != nil {
		t.Fatal(err)
	}
	final.deadLetters = tot.deadLetters
	t.Logf("totals of %d messages: %+v", run.n, final)

	if final.tickets+final.deadLetters != run.n {
		t.Errorf("%d tickets + %d dead letters = %d, expected %d", final.tickets, final.deadLetters, final.tickets+final.deadLetters, run.n)
	}
	if final.tickets != final.distinctTickets {
		t.Errorf("%d tickets for %d distinct messages: some message has two tickets", final.tickets, final.distinctTickets)
	}
	if final.rows != uint64(run.n) || final.distinctRows != uint64(run.n) {
		t.Errorf("ClickHouse FINAL has %d rows with %d distinct event IDs, expected %d of each", final.rows, final.distinctRows, run.n)
	}
	if final.posts != final.distinctPosts {
		t.Errorf("Slack got %d posts of which %d distinct: some ticket was posted twice", final.posts, final.distinctPosts)
	}
	// A sink killed between a post and its ledger update leaves the
	// delivery unknown and does not post it again, so the accepted posts
	// lie between the delivered rows and the delivered plus unknown rows.
	if final.delivered+final.unknown != final.tickets {
		t.Errorf("Slack ledger: %d delivered + %d unknown = %d, expected %d (one per ticket)", final.delivered, final.unknown, final.delivered+final.unknown, final.tickets)
	}
	if final.posts < final.delivered || final.posts > final.delivered+final.unknown {
		t.Errorf("Slack accepted %d posts, expected between %d delivered and %d delivered + unknown", final.posts, final.delivered, final.delivered+final.unknown)
	}
	if final.failed != 0 || final.pending != 0 {
		t.Errorf("Slack ledger: %d failed, %d pending; expected none", final.failed, final.pending)
	}
}
