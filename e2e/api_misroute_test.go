package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/ticketapi"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// The mail of the misroute test: misrouteInvoices messages that the rules
// send to billing and misrouteOrders messages that they send to orders.
const (
	misrouteInvoices = 4
	misrouteOrders   = 2
)

// misrouteTokenName is the name of the test's API token. The feedback
// event names it in its actor, "api:" + name.
const misrouteTokenName = "e2e-agent"

// TestAPIReassignCountsAsMisroute processes the test's mail into tickets
// (PostgreSQL sink) and decisions (ClickHouse sink), moves one billing
// ticket to orders through POST /v1/tickets/{ref}/reassign, and checks
// that the PostgreSQL sink's feedback relay puts exactly one feedback
// event for it on the feedback topic, that the ClickHouse sink stores it,
// and that the KPI queries then give billing a misroute rate of exactly
// 1/4 = 0.25 and orders 0.
func TestAPIReassignCountsAsMisroute(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn, _ := testSchemaDSN(t)
	pool := newPool(t, dsn)
	chConn, chAddr, chDatabase, chDecisions := testClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	tenant := "misroute-" + suffix
	group := "mailtriage-e2e-misroute-" + suffix
	tables := clickhouse.Tables{
		Decisions:    chDecisions,
		Feedback:     "e2e_feedback_" + suffix,
		TicketEvents: "e2e_ticket_events_" + suffix,
		DeadLetters:  "e2e_dead_letters_" + suffix,
	}
	dropClickHouseTablesAtCleanup(t, chConn, chDatabase, tables.Feedback, tables.TicketEvents, tables.DeadLetters)

	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)
	tt := createRunTopics(ctx, t, adm, "e2e.misroute."+suffix)
	startTicketSink(ctx, t, adm, brokers, dsn, pool, group+"-postgres")
	startEventsClickHouseSink(ctx, t, adm, brokers, chAddr, chDatabase, tables, group+"-clickhouse")

	// Every message has the same receipt time, so all decisions fall on
	// one KPI day even when the test runs across midnight UTC.
	receivedAt := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	mail := misrouteMail(tenant, receivedAt)
	analyticsStart := endOffsets(ctx, t, adm, topics.Analytics)
	produceKeyed(ctx, t, brokers, tt.inbound, mail)
	inboundEnd := endOffsets(ctx, t, adm, tt.inbound)

	stop := startChainRunner(t, brokers, tt, group, dayRules(t, "misroute-v1", "refunds"))
	waitGroupAt(ctx, t, adm, group, tt.inbound, inboundEnd)
	stop()
	waitFor(ctx, t, "the tickets in PostgreSQL", func() (bool, string) {
		n := ticketCount(ctx, t, pool, tenant)
		return n >= len(mail), fmt.Sprintf("%d of %d tickets", n, len(mail))
	})
	waitFor(ctx, t, "the decisions in ClickHouse", func() (bool, string) {
		n, err := clickHouseCount(ctx, chConn, fmt.Sprintf("SELECT count() FROM `%s`.`%s` FINAL WHERE tenant = ?", chDatabase, tables.Decisions), tenant)
		if err != nil {
			return false, err.Error()
		}
		return n >= uint64(len(mail)), fmt.Sprintf("%d of %d rows", n, len(mail))
	})
	if got := queueCounts(ctx, t, pool, tenant); !equalCounts(got, map[string]int{"billing": misrouteInvoices, "orders": misrouteOrders}) {
		t.Fatalf("queues before the reassignment = %v, expected billing %d, orders %d", got, misrouteInvoices, misrouteOrders)
	}

	// The decision of the ticket that an agent moves: the first invoice.
	moved := mail[0]
	ref := processors.TicketRef(tenant, moved.MessageID)
	decision := decisionOf(ctx, t, brokers, adm, analyticsStart, tenant, moved.MessageID)
	if decision.Queue != "billing" || decision.TicketRef != ref {
		t.Fatalf("decision of %s: queue %s, ticket %s; expected billing and %s", moved.MessageID, decision.Queue, decision.TicketRef, ref)
	}

	token, err := ticketapi.CreateToken(ctx, pool, tenant, misrouteTokenName, nil)
	if err != nil {
		t.Fatalf("creating the API token: %v", err)
	}
	api, err := ticketapi.New(ticketapi.Config{Pool: pool, MessageIDDomain: "support.example.test", Logger: testLogger(t, "ticket-api")})
	if err != nil {
		t.Fatalf("creating the ticket API: %v", err)
	}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)

	feedbackStart := endOffsets(ctx, t, adm, topics.Feedback)
	result := reassignThroughAPI(ctx, t, server.URL, token, ref, "orders")
	wantEventID := schemas.FeedbackEventID(tenant, ref, 1)
	if result.Ticket.Queue != "orders" || result.Event.Kind != "reassigned" || result.Event.EventID != wantEventID {
		t.Fatalf("reassign response: ticket queue %s, event %s %s; expected orders, reassigned %s",
			result.Ticket.Queue, result.Event.Kind, result.Event.EventID, wantEventID)
	}

	// The running PostgreSQL sink drains feedback_outbox of the test
	// schema, as in production, and deletes a row once Kafka has it.
	waitFor(ctx, t, "the feedback relay to empty the outbox", func() (bool, string) {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM feedback_outbox`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 0, fmt.Sprintf("%d rows in feedback_outbox", n)
	})
	feedback := tenantFeedback(ctx, t, brokers, adm, feedbackStart, tenant)

	t.Run("feedback event on the topic", func(t *testing.T) {
		if len(feedback) != 1 {
			t.Fatalf("%d feedback events of tenant %s on %s, expected exactly 1", len(feedback), tenant, topics.Feedback)
		}
		ev := feedback[0]

		if ev.TicketRef != ref {
			t.Errorf("ticketRef = %s, expected %s", ev.TicketRef, ref)
		}
		if ev.EventID != wantEventID {
			t.Errorf("eventId = %s, expected %s (the first reassignment of the ticket)", ev.EventID, wantEventID)
		}
		if ev.Source != schemas.FeedbackSourceAPI {
			t.Errorf("source = %q, expected %q", ev.Source, schemas.FeedbackSourceAPI)
		}
		if want := "api:" + misrouteTokenName; ev.Actor != want {
			t.Errorf("actor = %q, expected %q", ev.Actor, want)
		}
		if ev.MessageID != moved.MessageID {
			t.Errorf("messageId = %s, expected %s", ev.MessageID, moved.MessageID)
		}

		wantFrom := schemas.Assignment{Queue: "billing", Priority: decision.Priority}
		if ev.From != wantFrom {
			t.Errorf("from = %+v, expected %+v", ev.From, wantFrom)
		}
		wantTo := schemas.Assignment{Queue: "orders", Priority: decision.Priority}
		if ev.To != wantTo {
			t.Errorf("to = %+v, expected %+v (the priority unchanged)", ev.To, wantTo)
		}

		checkSameReason(t, ev.Reason, decision.Reason)
		if ev.Reason.Kind != schemas.ReasonRule || ev.Reason.RuleID != "invoices" || ev.Reason.RulesetVersion != "misroute-v1" {
			t.Errorf("reason = %s/%s/%s, expected rule/invoices/misroute-v1", ev.Reason.Kind, ev.Reason.RuleID, ev.Reason.RulesetVersion)
		}
	})

	t.Run("misroute KPI", func(t *testing.T) {
		waitFor(ctx, t, "the feedback row in ClickHouse", func() (bool, string) {
			n, err := clickHouseCount(ctx, chConn, fmt.Sprintf("SELECT count() FROM `%s`.`%s` WHERE tenant = ?", chDatabase, tables.Feedback), tenant)
			if err != nil {
				return false, err.Error()
			}
			return n >= 1, fmt.Sprintf("%d feedback rows", n)
		})
		byQueue := queueKPIs(ctx, t, chConn, chDatabase, tables, tenant, receivedAt)
		day := receivedAt.Format(time.DateOnly)
		if len(byQueue) != 2 {
			t.Fatalf("KPI rows of %s on %s: %v, expected billing and orders", tenant, day, byQueue)
		}
		checkMisroute(t, byQueue["billing"], day, misrouteInvoices, 1, 0.25)
		checkMisroute(t, byQueue["orders"], day, misrouteOrders, 0, 0)
	})
}

// misrouteMail returns the test's mail of tenant, all received at
// receivedAt: misrouteInvoices invoice questions, then misrouteOrders
// order questions.
func misrouteMail(tenant string, receivedAt time.Time) []*schemas.InboundEmail {
	var mail []*schemas.InboundEmail
	for i := range misrouteInvoices + misrouteOrders {
		subject := "Invoice question"
		if i >= misrouteInvoices {
			subject = "Where is my order"
		}
		mail = append(mail, &schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  fmt.Sprintf("misroute-%02d@%s.example.test", i, tenant),
			Source:     schemas.SourceImport,
			ReceivedAt: receivedAt,
			From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.org", i)},
			To:         []schemas.Address{{Address: "support@example.com"}},
			Subject:    fmt.Sprintf("%s %d", subject, i),
			Text:       fmt.Sprintf("Hello, this is message %d.", i),
		})
	}
	return mail
}

// startEventsClickHouseSink runs the ClickHouse sink as group into tables
// of database, from the current end of the analytics, feedback, ticket
// events and DLQ topics.
func startEventsClickHouseSink(ctx context.Context, t *testing.T, adm *kadm.Client, brokers []string, addr, database string, tables clickhouse.Tables, group string) {
	t.Helper()
	seedGroup(ctx, t, adm, group, endOffsets(ctx, t, adm, topics.Analytics, topics.Feedback, topics.TicketEvents, topics.DLQ))
	sink, err := clickhouse.New(clickhouse.Config{
		Addr:              addr,
		Database:          database,
		Table:             tables.Decisions,
		FeedbackTable:     tables.Feedback,
		TicketEventsTable: tables.TicketEvents,
		DeadLettersTable:  tables.DeadLetters,
		KafkaOpts:         []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:             group,
		Logger:            testLogger(t, "sink-clickhouse"),
	})
	if err != nil {
		t.Fatalf("creating the ClickHouse sink: %v", err)
	}
	runSink(t, "clickhouse", sink.Run, func() { _ = sink.Close() })
}

// decisionOf returns the one decision event of messageID of tenant on the
// analytics topic after the offsets of start.
func decisionOf(ctx context.Context, t *testing.T, brokers []string, adm *kadm.Client, start kadm.ListedOffsets, tenant, messageID string) schemas.DecisionEvent {
	t.Helper()
	records := readRange(ctx, t, brokers, topics.Analytics, start, stableOffsets(ctx, t, adm, topics.Analytics))
	var found []schemas.DecisionEvent
	for _, ev := range decodeAll[schemas.DecisionEvent](t, schemas.NewSingleObject(), tenantRecords(records, tenant)) {
		if ev.MessageID == messageID {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d decision events of %s on %s, expected 1", len(found), messageID, topics.Analytics)
	}
	return found[0]
}

// reassignThroughAPI moves ticket ref to queue with POST
// /v1/tickets/{ref}/reassign on the API at baseURL and returns the
// decoded response. Any status but 200 fails the test.
func reassignThroughAPI(ctx context.Context, t *testing.T, baseURL, token, ref, queue string) ticketapi.ChangeResult {
	t.Helper()
	body := fmt.Sprintf(`{"queue":%q}`, queue)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/tickets/"+ref+"/reassign", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/tickets/%s/reassign: %v", ref, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the reassign response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/tickets/%s/reassign returned %d %s, expected 200", ref, resp.StatusCode, data)
	}
	var result ticketapi.ChangeResult
	if err := json.Unmarshal(data, &result); err != nil {
		t.Fatalf("decoding the reassign response: %v", err)
	}
	return result
}

// tenantFeedback returns the feedback events of tenant on the feedback
// topic between the offsets of start and its current last stable offsets.
func tenantFeedback(ctx context.Context, t *testing.T, brokers []string, adm *kadm.Client, start kadm.ListedOffsets, tenant string) []schemas.FeedbackEvent {
	t.Helper()
	records := readRange(ctx, t, brokers, topics.Feedback, start, stableOffsets(ctx, t, adm, topics.Feedback))
	return decodeAll[schemas.FeedbackEvent](t, schemas.NewSingleObject(), tenantRecords(records, tenant))
}

// checkSameReason compares the reason of a feedback event with the reason
// of the decision it corrects. The top labels are compared by length and
// content, because a decoded empty list may be nil on one side only.
func checkSameReason(t *testing.T, got, want schemas.Reason) {
	t.Helper()
	if got.Kind != want.Kind || got.RuleID != want.RuleID || got.RulesetVersion != want.RulesetVersion ||
		got.ModelVersion != want.ModelVersion || got.Threshold != want.Threshold || got.Detail != want.Detail {
		t.Errorf("reason = %+v, expected the decision's %+v", got, want)
	}
	if len(got.TopLabels) != len(want.TopLabels) {
		t.Errorf("reason has %d top labels, expected the decision's %d", len(got.TopLabels), len(want.TopLabels))
		return
	}
	for i := range got.TopLabels {
		if got.TopLabels[i] != want.TopLabels[i] {
			t.Errorf("top label %d = %+v, expected %+v", i, got.TopLabels[i], want.TopLabels[i])
		}
	}
}

// queueKPIs returns the KPIs of tenant on the UTC day of receivedAt, by
// queue, from the KPI queries over tables.
func queueKPIs(ctx context.Context, t *testing.T, conn driver.Conn, database string, tables clickhouse.Tables, tenant string, receivedAt time.Time) map[string]clickhouse.QueueKPI {
	t.Helper()
	queries, err := clickhouse.NewKPIQueries(conn, database, tables)
	if err != nil {
		t.Fatalf("creating the KPI queries: %v", err)
	}
	day := receivedAt.Truncate(24 * time.Hour)
	rows, err := queries.PerQueue(ctx, clickhouse.Filter{Tenant: tenant, From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatalf("computing the KPIs per queue: %v", err)
	}
	byQueue := map[string]clickhouse.QueueKPI{}
	for _, k := range rows {
		byQueue[k.Queue] = k
	}
	return byQueue
}

// checkMisroute checks the day, ticket count, misroute count and misroute
// rate of one queue's KPIs.
func checkMisroute(t *testing.T, k clickhouse.QueueKPI, day string, tickets, misrouted uint64, rate float64) {
	t.Helper()
	if k.Day != day {
		t.Errorf("queue %s: day %s, expected %s", k.Queue, k.Day, day)
	}
	if k.Tickets != tickets {
		t.Errorf("queue %s: %d tickets, expected %d", k.Queue, k.Tickets, tickets)
	}
	if k.Misrouted != misrouted {
		t.Errorf("queue %s: %d misrouted, expected %d", k.Queue, k.Misrouted, misrouted)
	}
	if k.MisrouteRate == nil {
		t.Errorf("queue %s: misroute rate is null, expected %v", k.Queue, rate)
	} else if *k.MisrouteRate != rate {
		t.Errorf("queue %s: misroute rate %v, expected exactly %v", k.Queue, *k.MisrouteRate, rate)
	}
}
