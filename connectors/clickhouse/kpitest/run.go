// Package kpitest holds a known run of mailtriage records, ready to
// produce to Kafka, with the KPI values that the ClickHouse sink and the
// KPI queries must give for it. The tests of the sink and of
// "mailtriage kpi" share it.
package kpitest

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// Start is the receipt time of the first message of the run.
var Start = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// decision describes one DecisionEvent of the run.
type decision struct {
	tenant, ticket, queue, reason string
	received                      time.Duration // after Start
	latency                       time.Duration // from receipt to decision
	followUp, duplicate           bool
}

// The decisions of the run. Tenant acme, on 2025-03-03, has 10 new
// tickets (6 rule, 2 model, 2 fallback), a follow-up and a duplicate.
// Tenant globex, on 2025-03-04, has 2 new tickets.
var decisions = []decision{
	{tenant: "acme", ticket: "T-B1", queue: "billing", reason: schemas.ReasonRule, received: 0, latency: 100 * time.Millisecond},
	{tenant: "acme", ticket: "T-B2", queue: "billing", reason: schemas.ReasonRule, received: 10 * time.Minute, latency: 200 * time.Millisecond},
	{tenant: "acme", ticket: "T-B3", queue: "billing", reason: schemas.ReasonRule, received: 20 * time.Minute, latency: 300 * time.Millisecond},
	{tenant: "acme", ticket: "T-B4", queue: "billing", reason: schemas.ReasonRule, received: 30 * time.Minute, latency: 400 * time.Millisecond},
	{tenant: "acme", ticket: "T-B5", queue: "billing", reason: schemas.ReasonModel, received: 40 * time.Minute, latency: 500 * time.Millisecond},
	{tenant: "acme", ticket: "T-B6", queue: "billing", reason: schemas.ReasonFallback, received: 50 * time.Minute, latency: 600 * time.Millisecond},
	{tenant: "acme", ticket: "T-B1", queue: "billing", reason: schemas.ReasonRule, received: 55 * time.Minute, latency: 600 * time.Millisecond, followUp: true},
	{tenant: "acme", ticket: "T-S1", queue: "support", reason: schemas.ReasonRule, received: 60 * time.Minute, latency: time.Second},
	{tenant: "acme", ticket: "T-S2", queue: "support", reason: schemas.ReasonRule, received: 70 * time.Minute, latency: 2 * time.Second},
	{tenant: "acme", ticket: "T-S3", queue: "support", reason: schemas.ReasonModel, received: 80 * time.Minute, latency: 4 * time.Second},
	{tenant: "acme", ticket: "T-S4", queue: "support", reason: schemas.ReasonFallback, received: 90 * time.Minute, latency: 4 * time.Second},
	{tenant: "acme", received: 15 * time.Minute, latency: 50 * time.Millisecond, duplicate: true},
	{tenant: "globex", ticket: "T-G1", queue: "billing", reason: schemas.ReasonRule, received: 24 * time.Hour, latency: 50 * time.Millisecond},
	{tenant: "globex", ticket: "T-G2", queue: "billing", reason: schemas.ReasonRule, received: 25 * time.Hour, latency: 50 * time.Millisecond},
}

// receivedAt returns the receipt time of the decision of ticket of tenant.
func receivedAt(tenant, ticket string) time.Time {
	for _, d := range decisions {
		if d.tenant == tenant && d.ticket == ticket && !d.followUp {
			return Start.Add(d.received)
		}
	}
	panic("kpitest: no decision of ticket " + tenant + "/" + ticket)
}

// Records returns every record of the run, in the order a test produces
// them: decisions, reassignments, ticket events, an acknowledgement and a
// dead letter.
func Records() ([]*kgo.Record, error) {
	var out []*kgo.Record
	add := func(topic, key string, value any) error {
		data, err := schemas.Marshal(value)
		if err != nil {
			return fmt.Errorf("kpitest: encoding a record of %s: %w", topic, err)
		}
		out = append(out, &kgo.Record{Topic: topic, Key: []byte(key), Value: data})
		return nil
	}

	for i, d := range decisions {
		ev := decisionEvent(i, d)
		if err := add(topics.Analytics, ev.Tenant+"/"+ev.MessageID, &ev); err != nil {
			return nil, err
		}
	}
	for _, ev := range feedbackEvents() {
		if err := add(topics.Feedback, ev.Key(), &ev); err != nil {
			return nil, err
		}
	}
	for _, ev := range ticketEvents() {
		if err := add(topics.TicketEvents, ev.Key(), &ev); err != nil {
			return nil, err
		}
	}

	// The acknowledgement of T-B4, a minute after receipt, is an automatic
	// reply: it goes to the auto-replies topic, which the sink does not
	// read, and it is not a first response.
	ack := schemas.AutoReply{
		EventID: "ack-T-B4", Tenant: "acme", Kind: schemas.AutoReplyAcknowledgement, TicketRef: "T-B4", Queue: "billing",
		To: schemas.Address{Address: "customer@example.test"}, ReceivedAt: receivedAt("acme", "T-B4"),
		DecidedAt: receivedAt("acme", "T-B4").Add(time.Minute),
	}
	if err := add(topics.AutoReplies, ack.Key(), &ack); err != nil {
		return nil, err
	}

	// One inbound record of acme failed classification three times.
	dead := schemas.DeadLetter{
		EventID: "dead-1", Tenant: "acme", Stage: "classify", Error: "model unavailable",
		SourceTopic: topics.Inbound, SourcePartition: 0, SourceOffset: 42, Attempts: 3,
		FailedAt: Start.Add(2 * time.Hour), Key: []byte("acme/m-dead"), Payload: []byte("raw record bytes"),
	}
	if err := add(topics.DLQ, "acme/m-dead", &dead); err != nil {
		return nil, err
	}
	return out, nil
}

func decisionEvent(i int, d decision) schemas.DecisionEvent {
	received := Start.Add(d.received)
	ev := schemas.DecisionEvent{
		EventID:    fmt.Sprintf("decision-%02d", i),
		Tenant:     d.tenant,
		MessageID:  fmt.Sprintf("m%02d@example.test", i),
		TicketRef:  d.ticket,
		Queue:      d.queue,
		Priority:   "normal",
		Reason:     schemas.Reason{Kind: d.reason},
		Duplicate:  d.duplicate,
		FollowUp:   d.followUp,
		Source:     schemas.SourceImport,
		ReceivedAt: received,
		DecidedAt:  received.Add(d.latency),
	}
	if d.reason == schemas.ReasonRule {
		ev.Reason.RuleID = "r1"
	}
	return ev
}

// feedbackEvents returns the reassignments of the run: T-B1 moved to
// another queue 30 minutes after its decision (a misroute), T-S1 after
// two hours (too late to count), and T-B3 changed in priority only.
func feedbackEvents() []schemas.FeedbackEvent {
	reassign := func(ticket string, after time.Duration, from, to schemas.Assignment) schemas.FeedbackEvent {
		return schemas.FeedbackEvent{
			EventID: schemas.FeedbackEventID("acme", ticket, 1), Tenant: "acme", TicketRef: ticket,
			Actor: "operator", Source: schemas.FeedbackSourceCLI, At: receivedAt("acme", ticket).Add(after),
			From: from, To: to, Reason: schemas.Reason{Kind: schemas.ReasonRule},
		}
	}
	return []schemas.FeedbackEvent{
		reassign("T-B1", 30*time.Minute, schemas.Assignment{Queue: "billing", Priority: "normal"}, schemas.Assignment{Queue: "sales", Priority: "normal"}),
		reassign("T-S1", 2*time.Hour, schemas.Assignment{Queue: "support", Priority: "normal"}, schemas.Assignment{Queue: "billing", Priority: "normal"}),
		reassign("T-B3", 5*time.Minute, schemas.Assignment{Queue: "billing", Priority: "normal"}, schemas.Assignment{Queue: "billing", Priority: "high"}),
	}
}

// ticketEvents returns the ticket events of the run. The first replies
// come 600 s after receipt for T-B2 (an agent) and 2400 s for T-S2 (an
// API client). T-B2 has a note before its reply and a second reply
// later, T-B4 only a status change, and globex replies on a ticket
// reference that acme also uses.
func ticketEvents() []schemas.TicketEvent {
	event := func(tenant, ticket string, seq int64, kind, actor string, at time.Time) schemas.TicketEvent {
		ev := schemas.TicketEvent{
			EventID: schemas.TicketEventID(tenant, ticket, seq), Tenant: tenant, TicketRef: ticket,
			Kind: kind, ActorKind: actor, At: at,
		}
		if kind == schemas.TicketEventStatusChanged {
			ev.Status = "pending"
		}
		return ev
	}
	b2, s2, b4, b6 := receivedAt("acme", "T-B2"), receivedAt("acme", "T-S2"), receivedAt("acme", "T-B4"), receivedAt("acme", "T-B6")
	return []schemas.TicketEvent{
		event("acme", "T-B2", 1, schemas.TicketEventNote, schemas.ActorAgent, b2.Add(2*time.Minute)),
		event("acme", "T-B2", 2, schemas.TicketEventReplied, schemas.ActorAgent, b2.Add(10*time.Minute)),
		event("acme", "T-B2", 3, schemas.TicketEventReplied, schemas.ActorAgent, b2.Add(50*time.Minute)),
		event("acme", "T-S2", 1, schemas.TicketEventReplied, schemas.ActorAPI, s2.Add(40*time.Minute)),
		event("acme", "T-B4", 1, schemas.TicketEventStatusChanged, schemas.ActorAgent, b4.Add(time.Minute)),
		event("globex", "T-B6", 1, schemas.TicketEventReplied, schemas.ActorAgent, b6.Add(time.Minute)),
	}
}

// ExpectedJSON is the KPI report of the whole run, as "mailtriage kpi
// --json" prints it, with the reasons for each value:
//   - acme billing: 7 decisions (6 tickets and the follow-up of T-B1), 6
//     by a rule or the model: coverage 6/7. T-B1 was moved within the
//     hour: misroute 1/6. T-B2's first reply came after 600 s. Decision
//     latencies 100, 200, 300, 400, 500, 600 and 600 ms: p50 400; p95 lies
//     between the last two, both 600.
//   - acme support: 4 tickets, 3 routed: 0.75. T-S1 moved after 2 h: no
//     misroute. T-S2's reply came after 2400 s. Latencies 1000, 2000, 4000
//     and 4000 ms: p50 halfway between 2000 and 4000, p95 between the two
//     4000s.
//   - acme on 2025-03-03: 12 decision events with the duplicate, 1
//     duplicate, 1 dead letter after 3 attempts (2 retries).
//   - globex billing on 2025-03-04: 2 rule decisions of 50 ms, no reply
//     (the reply on its own T-B6 does not match acme's T-B6).
//
// The quantiles are exact: ClickHouse interpolates at rank q*(n-1), and
// every interpolation here is halfway or between equal values.
const ExpectedJSON = `{
  "queues": [
    {"day": "2025-03-03", "tenant": "acme", "queue": "billing", "decisions": 7, "routed": 6, "routingCoverage": 0.8571428571428571,
     "tickets": 6, "misrouted": 1, "misrouteRate": 0.16666666666666666, "responded": 1,
     "firstResponseP50Seconds": 600, "firstResponseP95Seconds": 600, "decisionLatencyP50Ms": 400, "decisionLatencyP95Ms": 600},
    {"day": "2025-03-03", "tenant": "acme", "queue": "support", "decisions": 4, "routed": 3, "routingCoverage": 0.75,
     "tickets": 4, "misrouted": 0, "misrouteRate": 0, "responded": 1,
     "firstResponseP50Seconds": 2400, "firstResponseP95Seconds": 2400, "decisionLatencyP50Ms": 3000, "decisionLatencyP95Ms": 4000},
    {"day": "2025-03-04", "tenant": "globex", "queue": "billing", "decisions": 2, "routed": 2, "routingCoverage": 1,
     "tickets": 2, "misrouted": 0, "misrouteRate": 0, "responded": 0,
     "firstResponseP50Seconds": null, "firstResponseP95Seconds": null, "decisionLatencyP50Ms": 50, "decisionLatencyP95Ms": 50}
  ],
  "tenants": [
    {"day": "2025-03-03", "tenant": "acme", "decisionEvents": 12, "duplicates": 1, "duplicateRate": 0.08333333333333333,
     "deadLetters": 1, "dlqRate": 0.08333333333333333, "deadLetterRetries": 2, "retryRate": 0.16666666666666666},
    {"day": "2025-03-04", "tenant": "globex", "decisionEvents": 2, "duplicates": 0, "duplicateRate": 0,
     "deadLetters": 0, "dlqRate": 0, "deadLetterRetries": 0, "retryRate": 0}
  ]
}`
