package postgres

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/schemas"
)

// rulesetB returns cmd as the processor decides it again with a ruleset
// that sends the message to another queue.
func rulesetB(cmd schemas.TicketCommand) schemas.TicketCommand {
	cmd.Queue = "sales"
	cmd.Priority = "high"
	cmd.Tags = []string{"lead"}
	cmd.Reason = schemas.Reason{Kind: schemas.ReasonRule, RuleID: "sales-1", RulesetVersion: "rs-8", Detail: "rule sales-1 matched"}
	return cmd
}

// ticketRouting reads the routing columns of ticket ref.
func ticketRouting(t *testing.T, pool *pgxpool.Pool, ref string) routing {
	t.Helper()
	var r routing
	err := pool.QueryRow(context.Background(), `SELECT queue, priority, tags, reason_kind, reason_rule_id, ruleset_version, model_version
		FROM tickets WHERE ticket_ref = $1`, ref).
		Scan(&r.Queue, &r.Priority, &r.Tags, &r.ReasonKind, &r.RuleID, &r.RulesetVersion, &r.ModelVersion)
	if err != nil {
		t.Fatalf("reading the routing of %s: %v", ref, err)
	}
	return r
}

func TestReplayWithNewRoutingReroutes(t *testing.T) {
	pool := newPool(t, testSchema(t))
	first := command("acme", "T-REROUTE001", ActionCreate, 0)
	applyDirect(t, pool, first)
	replay := rulesetB(first)
	applyDirect(t, pool, replay)

	got := ticketRouting(t, pool, "T-REROUTE001")
	if want := routingOf(&replay); !reflect.DeepEqual(got, want) {
		t.Errorf("routing after the replay = %+v, expected %+v", got, want)
	}
	events := eventPayloads(t, pool, "T-REROUTE001", EventRerouted)
	if len(events) != 1 {
		t.Fatalf("%d rerouted events, expected 1", len(events))
	}
	ev := events[0]
	from, _ := ev["from"].(map[string]any)
	to, _ := ev["to"].(map[string]any)
	if ev["applied"] != true || ev["skippedBecause"] != nil {
		t.Errorf("applied = %v, skippedBecause = %v; expected true and none", ev["applied"], ev["skippedBecause"])
	}
	if from["queue"] != "billing" || from["rulesetVersion"] != "rs-7" {
		t.Errorf("from = %v, expected queue billing and ruleset rs-7", from)
	}
	if to["queue"] != "sales" || to["rulesetVersion"] != "rs-8" {
		t.Errorf("to = %v, expected queue sales and ruleset rs-8", to)
	}

	// The same decision replayed again adds nothing, and no message or
	// other event appeared.
	applyDirect(t, pool, replay)
	if n := len(eventPayloads(t, pool, "T-REROUTE001", EventRerouted)); n != 1 {
		t.Errorf("%d rerouted events after a second replay, expected 1", n)
	}
	if kinds := eventKinds(t, pool, "T-REROUTE001"); !slices.Equal(kinds, []string{"created", "routed", "rerouted"}) {
		t.Errorf("events %v, expected created, routed, rerouted", kinds)
	}
	if n := count(t, pool, "SELECT count(*) FROM ticket_messages"); n != 1 {
		t.Errorf("%d ticket messages, expected 1", n)
	}
}

// A replay whose new ruleset version decides the same queue, priority
// and tags leaves the ticket and its reason as they were.
func TestReplayWithSameRoutingWritesNothing(t *testing.T) {
	pool := newPool(t, testSchema(t))
	first := command("acme", "T-REROUTE002", ActionCreate, 0)
	sameOutcome := first
	sameOutcome.Reason = schemas.Reason{Kind: schemas.ReasonRule, RuleID: "billing-2", RulesetVersion: "rs-8"}
	applyDirect(t, pool, first, first, sameOutcome)

	if got, want := ticketRouting(t, pool, "T-REROUTE002"), routingOf(&first); !reflect.DeepEqual(got, want) {
		t.Errorf("routing = %+v, expected the first decision %+v", got, want)
	}
	if kinds := eventKinds(t, pool, "T-REROUTE002"); !slices.Equal(kinds, []string{"created", "routed"}) {
		t.Errorf("events %v, expected created, routed", kinds)
	}
}

func TestReplayedAppendKeepsRouting(t *testing.T) {
	pool := newPool(t, testSchema(t))
	create := command("acme", "T-REROUTE003", ActionCreate, 0)
	follow := command("acme", "T-REROUTE003", ActionAppend, 1)
	applyDirect(t, pool, create, follow, rulesetB(follow))

	if got, want := ticketRouting(t, pool, "T-REROUTE003"), routingOf(&create); !reflect.DeepEqual(got, want) {
		t.Errorf("routing = %+v, expected the create's %+v", got, want)
	}
	if n := len(eventPayloads(t, pool, "T-REROUTE003", EventRerouted)); n != 0 {
		t.Errorf("%d rerouted events, expected none for a replayed append", n)
	}
}

func TestReplayKeepsRoutingOfTouchedTicket(t *testing.T) {
	cases := []struct {
		name  string
		touch func(t *testing.T, pool *pgxpool.Pool, ref string)
		queue string // the queue the ticket keeps
		why   string
	}{
		{
			name: "reassigned",
			touch: func(t *testing.T, pool *pgxpool.Pool, ref string) {
				_, err := Reassign(context.Background(), pool, ReassignRequest{
					Tenant: "acme", TicketRef: ref, Queue: "refunds", Actor: "operator-1", Source: schemas.FeedbackSourceCLI,
				})
				if err != nil {
					t.Fatalf("reassigning %s: %v", ref, err)
				}
			},
			queue: "refunds",
			why:   RerouteSkippedReassigned,
		},
		{
			name:  "closed",
			touch: func(t *testing.T, pool *pgxpool.Pool, ref string) { closeTicket(t, pool, "acme", ref) },
			queue: "billing",
			why:   RerouteSkippedStatus,
		},
		{
			name: "answered",
			touch: func(t *testing.T, pool *pgxpool.Pool, ref string) {
				_, err := pool.Exec(context.Background(), `INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction, received_at)
					SELECT id, 'answer@example.test', 'ev-answer', 'outbound', now() FROM tickets WHERE ticket_ref = $1`, ref)
				if err != nil {
					t.Fatalf("adding an outbound message to %s: %v", ref, err)
				}
			},
			queue: "billing",
			why:   RerouteSkippedOutbound,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool := newPool(t, testSchema(t))
			ref := "T-TOUCHED001"
			first := command("acme", ref, ActionCreate, 0)
			applyDirect(t, pool, first)
			c.touch(t, pool, ref)
			applyDirect(t, pool, rulesetB(first), rulesetB(first))

			got := ticketRouting(t, pool, ref)
			if got.Queue != c.queue {
				t.Errorf("queue = %s, expected %s kept", got.Queue, c.queue)
			}
			if got.RulesetVersion != "rs-7" {
				t.Errorf("ruleset version = %s, expected rs-7 kept", got.RulesetVersion)
			}
			events := eventPayloads(t, pool, ref, EventRerouted)
			if len(events) != 1 {
				t.Fatalf("%d rerouted events, expected 1", len(events))
			}
			if events[0]["applied"] != false || events[0]["skippedBecause"] != c.why {
				t.Errorf("applied = %v, skippedBecause = %v; expected false and %s", events[0]["applied"], events[0]["skippedBecause"], c.why)
			}
		})
	}
}
