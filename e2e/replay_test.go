package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/offsets"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// dayRules is a ruleset of the replay test: invoices to billing, orders
// to orders, and refunds to refundQueue.
func dayRules(t *testing.T, version, refundQueue string) processors.Chain {
	t.Helper()
	text := fmt.Sprintf(`
version: %q
rules:
  - id: invoices
    description: Invoice questions go to billing.
    when:
      subject_keywords: [invoice]
    then:
      queue: billing
  - id: orders
    description: Order questions go to orders.
    when:
      subject_keywords: [order]
    then:
      queue: orders
  - id: refunds
    description: Refund requests.
    when:
      subject_keywords: [refund]
    then:
      queue: %s
`, version, refundQueue)
	rules, err := processors.ParseRules(version+".yaml", []byte(text))
	if err != nil {
		t.Fatalf("parsing ruleset %s: %v", version, err)
	}
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: rules})
	if err != nil {
		t.Fatalf("building the chain of ruleset %s: %v", version, err)
	}
	return chain
}

// Size of the day of mail: dayMessages messages, a third each about
// invoices, orders and refunds.
const dayMessages = 30

// TestOffsetResetReplaysDayWithNewRules processes a day of mail with
// ruleset A, which sends refunds to billing, and stops the processor.
// It resets the group to the start of the day with the offsets package
// and runs ruleset B, which sends refunds to a queue of their own. Untouched
// tickets must follow B, a ticket that a person reassigned in between
// must keep its queue, and nothing may double: tickets, messages, Slack
// posts and analytics rows.
func TestOffsetResetReplaysDayWithNewRules(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn, schema := testSchemaDSN(t)
	pool := newPool(t, dsn)
	chConn, chAddr, chDatabase, chTable := testClickHouse(t)
	slackServer := newSlackCapture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	tenant := "replay-" + suffix
	group := "mailtriage-e2e-replay-" + suffix
	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)
	tt := createRunTopics(ctx, t, adm, "e2e.replay."+suffix)
	startTicketSink(ctx, t, adm, brokers, dsn, pool, group+"-postgres")
	startSlackSink(ctx, t, adm, brokers, pool, schema, group+"-slack", tenant, slackServer.srv.URL+"/services/T000/B000/replay")
	startClickHouseSink(ctx, t, adm, brokers, chAddr, chDatabase, chTable, group+"-clickhouse")

	// A day of mail, received yesterday between 00:00 and 22:30 UTC.
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	subjects := []string{"Invoice question", "Where is my order", "Refund request"}
	var mail []*schemas.InboundEmail
	for i := range dayMessages {
		mail = append(mail, &schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  fmt.Sprintf("day-%02d@%s.example.test", i, tenant),
			Source:     schemas.SourceImport,
			ReceivedAt: day.Add(time.Duration(i) * 45 * time.Minute),
			From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.org", i)},
			To:         []schemas.Address{{Address: "support@example.com"}},
			Subject:    fmt.Sprintf("%s %d", subjects[i%3], i),
			Text:       fmt.Sprintf("Hello, this is message %d of the day.", i),
		})
	}
	resetTo := time.Now().Add(-time.Second)
	produceKeyed(ctx, t, brokers, tt.inbound, mail)
	inboundEnd := endOffsets(ctx, t, adm, tt.inbound)

	// Ruleset A.
	started := time.Now()
	stop := startChainRunner(t, brokers, tt, group, dayRules(t, "day-a", "billing"))
	waitGroupAt(ctx, t, adm, group, tt.inbound, inboundEnd)
	stop()
	waitFor(ctx, t, "the tickets of ruleset A", func() (bool, string) {
		n := ticketCount(ctx, t, pool, tenant)
		return n >= dayMessages, fmt.Sprintf("%d of %d tickets", n, dayMessages)
	})
	waitFor(ctx, t, "the Slack posts of ruleset A", func() (bool, string) {
		n := len(slackServer.bodies())
		return n >= dayMessages, fmt.Sprintf("%d of %d posts", n, dayMessages)
	})
	t.Logf("ruleset A: %d messages to tickets and posts in %v", dayMessages, time.Since(started).Round(time.Millisecond))
	if got := queueCounts(ctx, t, pool, tenant); !equalCounts(got, map[string]int{"billing": 20, "orders": 10}) {
		t.Fatalf("queues after ruleset A = %v, expected billing 20, orders 10", got)
	}

	// A person moves one refund ticket before the replay.
	touched := mail[2]
	touchedRef := processors.TicketRef(tenant, touched.MessageID)
	_, err := postgres.Reassign(ctx, pool, postgres.ReassignRequest{
		Tenant: tenant, TicketRef: touchedRef, Queue: "vip", Actor: "operator-e2e", Source: schemas.FeedbackSourceCLI,
	})
	if err != nil {
		t.Fatalf("reassigning ticket %s: %v", touchedRef, err)
	}
	messagesBefore := ticketMessageCount(ctx, t, pool, tenant)

	// The reset, as "mailtriage offsets reset --to-datetime" does it.
	ticketsStart := endOffsets(ctx, t, adm, topics.Tickets)
	notificationsStart := endOffsets(ctx, t, adm, topics.Notifications)
	plan := resetGroup(ctx, t, adm, group, tt.inbound, resetTo)
	var moved int64
	for _, m := range plan.Moves {
		moved -= m.Diff()
		if m.New != m.Start {
			t.Errorf("partition %d resets to %d, expected its log start %d (the whole day)", m.Partition, m.New, m.Start)
		}
	}
	if moved != dayMessages {
		t.Errorf("the reset moves back %d records in total, expected %d", moved, dayMessages)
	}

	// Ruleset B.
	started = time.Now()
	startChainRunner(t, brokers, tt, group, dayRules(t, "day-b", "refunds"))
	waitGroupAt(ctx, t, adm, group, tt.inbound, inboundEnd)
	ticketsEnd := stableOffsets(ctx, t, adm, topics.Tickets)
	ticketsTarget := dataEnds(ctx, t, brokers, topics.Tickets, ticketsStart, ticketsEnd)
	waitFor(ctx, t, "the PostgreSQL sink to apply the replay", func() (bool, string) {
		return sinkCaughtUp(ctx, t, pool, group+"-postgres", ticketsTarget)
	})
	t.Logf("ruleset B: replay of %d messages applied in %v", dayMessages, time.Since(started).Round(time.Millisecond))

	t.Run("dedupe takes the replay for a replay", func(t *testing.T) {
		commands := decodeAll[schemas.TicketCommand](t, schemas.NewSingleObject(),
			tenantRecords(readRange(ctx, t, brokers, topics.Tickets, ticketsStart, ticketsEnd), tenant))
		if len(commands) != dayMessages {
			t.Errorf("the replay produced %d ticket commands, expected %d (one per message, none dropped as a duplicate)", len(commands), dayMessages)
		}
		for _, c := range commands {
			if c.Reason.RulesetVersion != "day-b" || c.Action != "create" {
				t.Errorf("replayed command of %s: action %s, ruleset %q; expected create and day-b", c.MessageID, c.Action, c.Reason.RulesetVersion)
			}
		}
	})

	t.Run("tickets follow ruleset B", func(t *testing.T) {
		want := map[string]int{"billing": 10, "orders": 10, "refunds": 9, "vip": 1}
		if got := queueCounts(ctx, t, pool, tenant); !equalCounts(got, want) {
			t.Errorf("queues after ruleset B = %v, expected %v", got, want)
		}
		if n := ticketCount(ctx, t, pool, tenant); n != dayMessages {
			t.Errorf("%d tickets, expected %d unchanged", n, dayMessages)
		}
		if n := ticketMessageCount(ctx, t, pool, tenant); n != messagesBefore || n != dayMessages {
			t.Errorf("%d ticket messages, expected %d unchanged", n, messagesBefore)
		}
	})

	t.Run("rerouted events", func(t *testing.T) {
		events := reroutedEvents(ctx, t, pool, tenant)
		if len(events) != dayMessages/3 {
			t.Fatalf("%d rerouted events, expected %d (one per refund ticket)", len(events), dayMessages/3)
		}
		for ref, ev := range events {
			from, _ := ev["from"].(map[string]any)
			to, _ := ev["to"].(map[string]any)
			if from["rulesetVersion"] != "day-a" || to["rulesetVersion"] != "day-b" || to["queue"] != "refunds" {
				t.Errorf("ticket %s: rerouted from %v to %v, expected day-a to day-b, queue refunds", ref, from, to)
			}
			if ref == touchedRef {
				if ev["applied"] != false || ev["skippedBecause"] != postgres.RerouteSkippedReassigned || from["queue"] != "vip" {
					t.Errorf("reassigned ticket: applied %v, skippedBecause %v, from queue %v; expected false, %s, vip",
						ev["applied"], ev["skippedBecause"], from["queue"], postgres.RerouteSkippedReassigned)
				}
				continue
			}
			if ev["applied"] != true || from["queue"] != "billing" {
				t.Errorf("ticket %s: applied %v, from queue %v; expected true and billing", ref, ev["applied"], from["queue"])
			}
		}
	})

	t.Run("slack posts once", func(t *testing.T) {
		target := dataEnds(ctx, t, brokers, topics.Notifications, notificationsStart, stableOffsets(ctx, t, adm, topics.Notifications))
		waitCommitted(ctx, t, adm, group+"-slack", topics.Notifications, target)
		posts := slackServer.bodies()
		if len(posts) != dayMessages {
			t.Errorf("%d Slack posts, expected %d (the replay posts nothing)", len(posts), dayMessages)
		}
	})

	t.Run("analytics takes ruleset B", func(t *testing.T) {
		table := fmt.Sprintf("`%s`.`%s`", chDatabase, chTable)
		waitFor(ctx, t, "ClickHouse rows of ruleset B", func() (bool, string) {
			var n uint64
			err := chConn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL WHERE tenant = ? AND ruleset_version = 'day-b'", tenant).Scan(&n)
			if err != nil {
				return false, err.Error()
			}
			return n >= dayMessages, fmt.Sprintf("%d of %d rows", n, dayMessages)
		})

		rows, err := chConn.Query(ctx, "SELECT queue, ruleset_version, duplicate, count() FROM "+table+" FINAL WHERE tenant = ? GROUP BY queue, ruleset_version, duplicate", tenant)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var queue, version string
			var duplicate uint8
			var n uint64
			if err := rows.Scan(&queue, &version, &duplicate, &n); err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprintf("%s/%s/dup=%d", queue, version, duplicate)] = int(n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"billing/day-b/dup=0": 10, "orders/day-b/dup=0": 10, "refunds/day-b/dup=0": 10}
		if !equalCounts(got, want) {
			t.Errorf("ClickHouse FINAL rows by queue/ruleset/duplicate = %v, expected %v (one row per message, B's decision)", got, want)
		}
	})
}

// produceKeyed writes mail to topic, partitioned by the key
// tenant/messageId as the ingress roles write it.
func produceKeyed(ctx context.Context, t *testing.T, brokers []string, topic string, mail []*schemas.InboundEmail) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	records := make([]*kgo.Record, len(mail))
	for i, e := range mail {
		records[i] = &kgo.Record{Topic: topic, Key: []byte(e.Key()), Value: encodeEmail(t, e)}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d messages to %s: %v", len(records), topic, err)
	}
}

// resetGroup moves group in topic back to the first offsets at or after
// at, once the group has no members, and returns the plan it applied.
func resetGroup(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, at time.Time) offsets.Plan {
	t.Helper()
	waitFor(ctx, t, "group "+group+" to have no members", func() (bool, string) {
		g, err := offsets.DescribeGroup(ctx, adm, group)
		if err != nil {
			return false, err.Error()
		}
		if err := g.CheckStopped(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	store := offsets.KafkaStore{Admin: adm}
	plan, err := offsets.PlanReset(ctx, adm, store, group, topic, offsets.ToDatetime(at))
	if err != nil {
		t.Fatalf("planning the reset of %s: %v", group, err)
	}
	var out strings.Builder
	if err := offsets.WritePlan(&out, plan); err != nil {
		t.Fatal(err)
	}
	t.Logf("offset reset plan:\n%s", out.String())
	if err := offsets.Apply(ctx, store, plan); err != nil {
		t.Fatalf("applying the reset of %s: %v", group, err)
	}
	return plan
}

// queueCounts returns the number of tickets of tenant per queue.
func queueCounts(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant string) map[string]int {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT queue, count(*) FROM tickets WHERE tenant = $1 GROUP BY queue`, tenant)
	if err != nil {
		t.Fatalf("counting tickets per queue: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var queue string
		var n int
		if err := rows.Scan(&queue, &n); err != nil {
			t.Fatal(err)
		}
		out[queue] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ticketMessageCount returns the number of ticket messages of tenant.
func ticketMessageCount(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.tenant = $1`, tenant).Scan(&n)
	if err != nil {
		t.Fatalf("counting ticket messages: %v", err)
	}
	return n
}

// reroutedEvents returns the payload of each rerouted event of tenant by
// ticket reference. It fails the test when a ticket has two.
func reroutedEvents(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant string) map[string]map[string]any {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT t.ticket_ref, e.payload FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.tenant = $1 AND e.kind = $2`, tenant, postgres.EventRerouted)
	if err != nil {
		t.Fatalf("reading rerouted events: %v", err)
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var ref string
		var payload map[string]any
		if err := rows.Scan(&ref, &payload); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[ref]; dup {
			t.Errorf("ticket %s has two rerouted events, expected one", ref)
		}
		out[ref] = payload
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
