package ticketing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailtriage/processors"
)

// errCrash stops a sink where a SIGKILL would.
var errCrash = errors.New("simulated crash")

// TestSinkCreateCommentTimeoutReplay runs, for each target, a create whose
// first request times out after the mock created the ticket, a follow-up,
// and a replay of both after an offset reset.
func TestSinkCreateCommentTimeoutReplay(t *testing.T) {
	for _, tc := range targetCases() {
		t.Run(tc.name, func(t *testing.T) {
			pool := testPool(t)
			brokers := startKafka(t)
			mock := startMock(t, tc.routes)
			mock.delayFirstCreate = 1500 * time.Millisecond
			target := tc.target(mock.srv.URL, &clientHolder{timeout: 400 * time.Millisecond})
			cfg := testConfig(brokers, pool, target)

			create, follow := createCommand("T-0AAAAAAAAA"), appendCommand("T-0AAAAAAAAA", 1)
			produce(t, brokers, create, follow)
			r := startSink(t, cfg, nil)
			waitFor(t, "both records applied", func() bool { return storedOffset(t, pool, cfg.Group) == 2 })

			tickets, _ := mock.snapshot()
			if len(tickets) != 1 {
				t.Fatalf("mock holds %d tickets after a timed-out create and its retry, expected 1", len(tickets))
			}
			if got := exactCount(mock, tc.createPrefix); got != 1 {
				t.Errorf("create requests = %d, expected 1: the retry must find the ticket by lookup instead of creating it", got)
			}
			checkTicketContent(t, tc.name, tickets[0])
			wantComment := "Any news?\n\nmailtriage-event: " + follow.EventID
			if len(tickets[0].comments) != 1 || tickets[0].comments[0] != wantComment {
				t.Errorf("comments = %q, expected exactly [%q]", tickets[0].comments, wantComment)
			}
			if state, id := ledgerTicket(t, pool, tc.name, create.TicketRef); state != stateCreated || id != tickets[0].id {
				t.Errorf("ledger ticket = (%s, %s), expected (created, %s)", state, id, tickets[0].id)
			}
			if st := r.sink.Stats(); st.FoundByLookup != 1 || st.Created != 0 || st.Commented != 1 {
				t.Errorf("stats %+v: expected FoundByLookup 1, Created 0 (the create timed out), Commented 1", st)
			}
			if err := r.stop(); err != nil {
				t.Fatalf("Run returned %v after cancel, expected nil", err)
			}

			// Replay: reset the stored offset and run a new sink.
			if _, err := pool.Exec(context.Background(), `UPDATE consumer_offsets SET next_offset = 0 WHERE consumer_group = $1`, cfg.Group); err != nil {
				t.Fatalf("resetting the offset: %v", err)
			}
			_, before := mock.snapshot()
			r2 := startSink(t, cfg, nil)
			waitFor(t, "the replay to reach the end", func() bool { return storedOffset(t, pool, cfg.Group) == 2 })
			tickets, after := mock.snapshot()
			if len(after) != len(before) {
				t.Errorf("the replay sent %d requests (%q), expected none", len(after)-len(before), after[len(before):])
			}
			if len(tickets) != 1 || len(tickets[0].comments) != 1 {
				t.Errorf("after the replay: %d tickets, comments %q; expected 1 ticket with 1 comment", len(tickets), tickets[0].comments)
			}
			if st := r2.sink.Stats(); st.Replayed != 2 {
				t.Errorf("replay stats %+v: expected Replayed 2", st)
			}
		})
	}
}

// checkTicketContent checks that a created ticket carries the redacted
// subject and the reply text only.
func checkTicketContent(t *testing.T, target string, tk mockTicket) {
	t.Helper()
	cmd := createCommand("T-0AAAAAAAAA")
	redacted, _ := processors.RedactText(cmd.Subject)
	if strings.Contains(tk.subject, "ana@customer.test") {
		t.Errorf("ticket subject %q contains the address", tk.subject)
	}
	wantSubject := redacted
	if target == "jira" {
		wantSubject = "[T-0AAAAAAAAA] " + redacted
	}
	if tk.subject != wantSubject {
		t.Errorf("ticket subject = %q, expected %q", tk.subject, wantSubject)
	}
	if tk.body != "Where is my invoice?" {
		t.Errorf("ticket body = %q, expected the reply text %q without the quote", tk.body, "Where is my invoice?")
	}
	if tk.key != "acme/T-0AAAAAAAAA" {
		t.Errorf("stored idempotency key = %q, expected %q", tk.key, "acme/T-0AAAAAAAAA")
	}
}

// TestSinkCrashAfterCreate stops the sink between the external create and
// the ledger commit; the next run must find the ticket by lookup.
func TestSinkCrashAfterCreate(t *testing.T) {
	for _, tc := range targetCases() {
		t.Run(tc.name, func(t *testing.T) {
			pool := testPool(t)
			brokers := startKafka(t)
			mock := startMock(t, tc.routes)
			target := tc.target(mock.srv.URL, &clientHolder{timeout: 2 * time.Second})
			cfg := testConfig(brokers, pool, target)
			create := createCommand("T-0BBBBBBBBB")
			produce(t, brokers, create)

			r := startSink(t, cfg, func(op string) error {
				if op == "create" {
					return errCrash
				}
				return nil
			})
			select {
			case err := <-r.done:
				if !errors.Is(err, errCrash) {
					t.Fatalf("Run returned %v, expected the simulated crash", err)
				}
				r.done <- err
				r.sink.Close() // leave the group, as the exit of a crashed process does
			case <-time.After(20 * time.Second):
				t.Fatal("the sink did not stop at the simulated crash within 20s")
			}
			if state, _ := ledgerTicket(t, pool, tc.name, create.TicketRef); state != stateCreating {
				t.Fatalf("ledger state after the crash = %q, expected creating", state)
			}
			if got := storedOffset(t, pool, cfg.Group); got > 0 {
				t.Fatalf("stored offset after the crash = %d, expected 0 or none", got)
			}

			r2 := startSink(t, cfg, nil)
			waitFor(t, "the record applied after the restart", func() bool { return storedOffset(t, pool, cfg.Group) == 1 })
			tickets, _ := mock.snapshot()
			if len(tickets) != 1 {
				t.Fatalf("mock holds %d tickets after the crash and restart, expected 1", len(tickets))
			}
			if got := exactCount(mock, tc.createPrefix); got != 1 {
				t.Errorf("create requests = %d, expected 1", got)
			}
			if state, id := ledgerTicket(t, pool, tc.name, create.TicketRef); state != stateCreated || id != tickets[0].id {
				t.Errorf("ledger ticket = (%s, %s), expected (created, %s)", state, id, tickets[0].id)
			}
			if st := r2.sink.Stats(); st.FoundByLookup != 1 || st.Created != 0 {
				t.Errorf("restart stats %+v: expected FoundByLookup 1 and Created 0", st)
			}
		})
	}
}

// TestSinkCrashAfterComment stops the sink between the comment post and
// the ledger commit; the next run must find the comment by lookup.
func TestSinkCrashAfterComment(t *testing.T) {
	for _, tc := range targetCases() {
		t.Run(tc.name, func(t *testing.T) {
			pool := testPool(t)
			brokers := startKafka(t)
			mock := startMock(t, tc.routes)
			target := tc.target(mock.srv.URL, &clientHolder{timeout: 2 * time.Second})
			cfg := testConfig(brokers, pool, target)
			create, follow := createCommand("T-0CCCCCCCCC"), appendCommand("T-0CCCCCCCCC", 1)
			produce(t, brokers, create, follow)

			r := startSink(t, cfg, func(op string) error {
				if op == "comment" {
					return errCrash
				}
				return nil
			})
			select {
			case err := <-r.done:
				if !errors.Is(err, errCrash) {
					t.Fatalf("Run returned %v, expected the simulated crash", err)
				}
				r.done <- err
				r.sink.Close() // leave the group, as the exit of a crashed process does
			case <-time.After(20 * time.Second):
				t.Fatal("the sink did not stop at the simulated crash within 20s")
			}
			if state := ledgerComment(t, pool, tc.name, follow.EventID); state != statePosting {
				t.Fatalf("comment ledger state after the crash = %q, expected posting", state)
			}

			startSink(t, cfg, nil)
			waitFor(t, "both records applied after the restart", func() bool { return storedOffset(t, pool, cfg.Group) == 2 })
			tickets, _ := mock.snapshot()
			if len(tickets) != 1 || len(tickets[0].comments) != 1 {
				t.Fatalf("after the restart: %d tickets with comments %v, expected 1 ticket with 1 comment", len(tickets), tickets)
			}
			if got := exactCount(mock, tc.commentPrefix); got != 1 {
				t.Errorf("comment requests = %d, expected 1", got)
			}
			if state := ledgerComment(t, pool, tc.name, follow.EventID); state != statePosted {
				t.Errorf("comment ledger state = %q, expected posted", state)
			}
		})
	}
}
