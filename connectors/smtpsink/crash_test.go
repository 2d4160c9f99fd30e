package smtpsink

import (
	"context"
	"testing"
	"time"
)

// TestSinkSendingRowNeverResent plays a crash between the claim's commit
// and the relay's reply: the row is left sending and the stored offset is
// before the record, as if the claim of a later run raced it. The next run
// marks the row unknown at start-up and sends nothing.
func TestSinkSendingRowNeverResent(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cfg := testConfig(t, brokers, dsn, relay.addr)
	cmd := testCommand(1, "ana@customer.test")

	// The first run only creates the tables.
	_, stop := runSink(t, cfg)
	stop()
	pool := newPool(t, dsn)
	_, err := pool.Exec(context.Background(), `INSERT INTO autoreply_deliveries
		(event_id, tenant, ticket_ref, recipient_hash, state, source_partition, source_offset, created_at, updated_at)
		VALUES ($1, 'acme', $2, 'x', 'sending', 0, 0, now(), now())`, cmd.EventID, cmd.TicketRef)
	if err != nil {
		t.Fatalf("inserting the sending row: %v", err)
	}
	produceCommands(t, brokers, cmd)

	s, stop2 := runSink(t, cfg)
	waitFor(t, "the record to be handled", func() bool { return s.Stats().Replayed == 1 })
	stop2()

	if n := len(relay.delivered()); n != 0 {
		t.Errorf("relay got %d messages, expected 0: a sending row is never sent again", n)
	}
	if st := s.Stats(); st.Unknown != 1 {
		t.Errorf("Unknown = %d, expected 1 from start-up recovery", st.Unknown)
	}
	row, _ := readLedger(t, pool, cmd.EventID)
	if row.state != StateUnknown {
		t.Errorf("row state = %s, expected unknown", row.state)
	}
}

// TestSinkStopDuringRetryReleases stops the sink while a reply waits
// between two retries. The claim is undone, so the next run sends it once.
func TestSinkStopDuringRetryReleases(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cmd := testCommand(1, "ana@customer.test")
	produceCommands(t, brokers, cmd)

	down := testConfig(t, brokers, dsn, closedPort(t))
	down.Retry = RetryPolicy{MaxAttempts: 100, BaseDelay: 200 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
	s, stop := runSink(t, down)
	waitFor(t, "a retry", func() bool { return s.Stats().Retries >= 1 })
	stop()

	pool := newPool(t, dsn)
	if row, ok := readLedger(t, pool, cmd.EventID); ok {
		t.Fatalf("ledger row after a stop during retries = %+v, expected none", row)
	}

	up := testConfig(t, brokers, dsn, relay.addr)
	s2, stop2 := runSink(t, up)
	waitFor(t, "the send", func() bool { return s2.Stats().Sent == 1 })
	stop2()
	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay got %d messages, expected 1", n)
	}
}
