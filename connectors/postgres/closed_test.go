package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func TestParseClosedPolicy(t *testing.T) {
	p, err := ParseClosedPolicy(" billing=new, sales=reopen ,*=new")
	if err != nil {
		t.Fatalf("ParseClosedPolicy: %v", err)
	}
	for queue, want := range map[string]string{"billing": PolicyNew, "sales": PolicyReopen, "general": PolicyNew} {
		if got := p.For(queue); got != want {
			t.Errorf("For(%q) = %q, expected %q", queue, got, want)
		}
	}
	if got := p.String(); got != "billing=new,sales=reopen,*=new" {
		t.Errorf("String = %q, expected billing=new,sales=reopen,*=new", got)
	}

	zero, err := ParseClosedPolicy("")
	if err != nil {
		t.Fatalf("ParseClosedPolicy of an empty string: %v", err)
	}
	if got := zero.For("billing"); got != PolicyReopen {
		t.Errorf("empty policy For(billing) = %q, expected the default reopen", got)
	}

	for _, bad := range []string{"billing", "billing=close", "=new", "billing=new,billing=reopen"} {
		if _, err := ParseClosedPolicy(bad); err == nil {
			t.Errorf("ParseClosedPolicy(%q) succeeded, expected an error", bad)
		}
	}
	cfg := Config{DSN: "postgres://x@127.0.0.1/db", KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")},
		ClosedPolicy: ClosedPolicy{Queues: map[string]string{"billing": "close"}}}
	if _, err := cfg.withDefaults(); err == nil {
		t.Error("a config with closed-ticket policy \"close\" was accepted, expected an error")
	}
}

// applyWithPolicy applies cmds as the sink does, each in its own
// transaction, with policy.
func applyWithPolicy(t *testing.T, pool *pgxpool.Pool, policy ClosedPolicy, cmds ...schemas.TicketCommand) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, cmd := range cmds {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatalf("beginning a transaction: %v", err)
		}
		if err := applyCommandPolicy(ctx, tx, &cmd, time.Now(), policy); err != nil {
			t.Fatalf("applying command %s: %v", cmd.EventID, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("committing command %s: %v", cmd.EventID, err)
		}
	}
}

func closeTicket(t *testing.T, pool *pgxpool.Pool, tenant, ref string) {
	t.Helper()
	tag, err := pool.Exec(context.Background(), `UPDATE tickets SET status = 'closed' WHERE tenant = $1 AND ticket_ref = $2`, tenant, ref)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("closing ticket %s: %v (%d rows)", ref, err, tag.RowsAffected())
	}
}

type ticketRow struct {
	status, queue, priority, linked string
	messages                        int64
}

func readTicket(t *testing.T, pool *pgxpool.Pool, tenant, ref string) (ticketRow, bool) {
	t.Helper()
	var r ticketRow
	err := pool.QueryRow(context.Background(), `SELECT status, queue, priority, linked_ticket_ref,
		(SELECT count(*) FROM ticket_messages m WHERE m.ticket_id = t.id)
		FROM tickets t WHERE tenant = $1 AND ticket_ref = $2`, tenant, ref).
		Scan(&r.status, &r.queue, &r.priority, &r.linked, &r.messages)
	if err != nil {
		return ticketRow{}, false
	}
	return r, true
}

// eventPayloads returns the payloads of ticket ref's events of kind.
func eventPayloads(t *testing.T, pool *pgxpool.Pool, ref, kind string) []map[string]any {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT e.payload FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.ticket_ref = $1 AND e.kind = $2 ORDER BY e.id`, ref, kind)
	if err != nil {
		t.Fatalf("reading %s events of %s: %v", kind, ref, err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestClosedTicketPolicies(t *testing.T) {
	cases := []struct {
		name   string
		policy ClosedPolicy
	}{
		{name: "reopen by default", policy: ClosedPolicy{}},
		{name: "new for the queue", policy: ClosedPolicy{Queues: map[string]string{"billing": PolicyNew}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool := newPool(t, testSchema(t))
			applyDirect(t, pool) // migrates

			create := command("acme", "T-CLOSED0001", ActionCreate, 0)
			create.Priority = "high"
			applyWithPolicy(t, pool, c.policy, create)
			closeTicket(t, pool, "acme", "T-CLOSED0001")

			follow := command("acme", "T-CLOSED0001", ActionAppend, 1)
			follow.Queue, follow.Priority = "sales", "low" // the ticket's values must win
			applyWithPolicy(t, pool, c.policy, follow)
			// A replay of the follow-up changes nothing, even after the
			// ticket was closed again.
			if c.policy.For("billing") == PolicyReopen {
				closeTicket(t, pool, "acme", "T-CLOSED0001")
			}
			applyWithPolicy(t, pool, c.policy, follow)

			closed, ok := readTicket(t, pool, "acme", "T-CLOSED0001")
			if !ok {
				t.Fatal("the original ticket is missing")
			}
			newRef := processors.TicketRef("acme", follow.MessageID)
			fresh, freshExists := readTicket(t, pool, "acme", newRef)

			switch c.policy.For("billing") {
			case PolicyReopen:
				if closed.messages != 2 {
					t.Errorf("reopened ticket has %d messages, expected 2", closed.messages)
				}
				if closed.status != "closed" {
					t.Errorf("status after the replay and the second close = %q, expected closed (the replay must not reopen)", closed.status)
				}
				reopened := eventPayloads(t, pool, "T-CLOSED0001", EventReopened)
				if len(reopened) != 1 || reopened[0]["policy"] != PolicyReopen || reopened[0]["previousStatus"] != "closed" {
					t.Errorf("reopened events %v, expected one with policy reopen and previous status closed", reopened)
				}
				if kinds := eventKinds(t, pool, "T-CLOSED0001"); !slices.Equal(kinds, []string{"created", "routed", "reopened", "replied"}) {
					t.Errorf("events %v, expected created, routed, reopened, replied", kinds)
				}
				if freshExists {
					t.Errorf("ticket %s exists, expected no new ticket under reopen", newRef)
				}

			case PolicyNew:
				if closed.status != "closed" || closed.messages != 1 {
					t.Errorf("closed ticket: status %q, %d messages; expected closed with its 1 message", closed.status, closed.messages)
				}
				if !freshExists {
					t.Fatalf("no ticket %s, expected a new one under the message's own reference", newRef)
				}
				if fresh.status != "open" || fresh.messages != 1 || fresh.linked != "T-CLOSED0001" {
					t.Errorf("new ticket: status %q, %d messages, linked %q; expected open, 1, T-CLOSED0001", fresh.status, fresh.messages, fresh.linked)
				}
				if fresh.queue != "billing" || fresh.priority != "high" {
					t.Errorf("new ticket queue %q priority %q, expected the closed ticket's billing and high", fresh.queue, fresh.priority)
				}
				linked := eventPayloads(t, pool, "T-CLOSED0001", EventLinked)
				if len(linked) != 1 || linked[0]["newTicketRef"] != newRef || linked[0]["policy"] != PolicyNew {
					t.Errorf("linked events %v, expected one naming %s with policy new", linked, newRef)
				}
				created := eventPayloads(t, pool, newRef, EventCreated)
				if len(created) != 1 || created[0]["linkedTicketRef"] != "T-CLOSED0001" {
					t.Errorf("created events of the new ticket %v, expected one linked to T-CLOSED0001", created)
				}
			}
		})
	}
}

// An append to an open ticket, and an append to a ticket the database does
// not have, are not touched by the policy.
func TestClosedPolicyIgnoresOpenAndMissingTickets(t *testing.T) {
	pool := newPool(t, testSchema(t))
	applyDirect(t, pool)
	newEverywhere := ClosedPolicy{Default: PolicyNew}

	applyWithPolicy(t, pool, newEverywhere,
		command("acme", "T-OPEN000001", ActionCreate, 0),
		command("acme", "T-OPEN000001", ActionAppend, 1),
		command("acme", "T-MISSING001", ActionAppend, 2))

	if open, _ := readTicket(t, pool, "acme", "T-OPEN000001"); open.messages != 2 || open.status != "open" {
		t.Errorf("open ticket: %d messages, status %q; expected 2 and open", open.messages, open.status)
	}
	if missing, ok := readTicket(t, pool, "acme", "T-MISSING001"); !ok || missing.messages != 1 {
		t.Errorf("append to a missing ticket: found %v with %d messages, expected the ticket created with 1", ok, missing.messages)
	}
	if got := count(t, pool, "SELECT count(*) FROM tickets"); got != 2 {
		t.Errorf("tickets: %d, expected 2", got)
	}
}

// A create that the processor linked to an earlier ticket stores the link.
func TestCreateStoresLinkedTicketRef(t *testing.T) {
	pool := newPool(t, testSchema(t))
	linked := command("acme", "T-LINKED0001", ActionCreate, 0)
	linked.LinkedTicketRef = "T-EARLIER001"
	applyDirect(t, pool, linked)

	row, ok := readTicket(t, pool, "acme", "T-LINKED0001")
	if !ok || row.linked != "T-EARLIER001" {
		t.Errorf("linked_ticket_ref = %q (found %v), expected T-EARLIER001", row.linked, ok)
	}
}

// The sink applies the policy it is configured with.
func TestSinkAppliesClosedPolicy(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	logs := &syncBuffer{}
	pool := newPool(t, dsn)

	create := command("acme", "T-SINK000001", ActionCreate, 0)
	produce(t, brokers, commandRecord(t, topics.Tickets, create))
	cfg := testConfig(dsn, brokers, logs)
	cfg.ClosedPolicy = ClosedPolicy{Queues: map[string]string{"billing": PolicyNew}}
	stop := runSink(t, cfg)
	waitApplied(t, pool, cfg.Group, 1, 30*time.Second)
	closeTicket(t, pool, "acme", "T-SINK000001")

	follow := command("acme", "T-SINK000001", ActionAppend, 1)
	produce(t, brokers, commandRecord(t, topics.Tickets, follow))
	waitFor(t, 30*time.Second, "the follow-up's new ticket", func() (bool, error) {
		_, ok := readTicket(t, pool, "acme", processors.TicketRef("acme", follow.MessageID))
		return ok, nil
	})
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if row, _ := readTicket(t, pool, "acme", processors.TicketRef("acme", follow.MessageID)); row.linked != "T-SINK000001" {
		t.Errorf("new ticket linked to %q, expected T-SINK000001", row.linked)
	}
}
