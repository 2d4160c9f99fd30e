package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
)

// modelCommand is a create command whose decision came from the model,
// with three top labels and a threshold, as the audit trail records it.
func modelCommand(tenant, ref string) schemas.TicketCommand {
	cmd := command(tenant, ref, ActionCreate, 1)
	cmd.Queue = "billing"
	cmd.Priority = "normal"
	cmd.Subject = "Charged twice for [CARD]"
	cmd.Text = "Hello, I was charged twice.\n\n> earlier mail"
	cmd.ReplyText = "Hello, I was charged twice."
	cmd.Reason = schemas.Reason{
		Kind:           schemas.ReasonModel,
		RulesetVersion: "rs-7",
		ModelVersion:   "m-2025-03",
		TopLabels: []schemas.LabelScore{
			{Label: "billing", Probability: 0.71},
			{Label: "refunds", Probability: 0.2},
			{Label: "general", Probability: 0.05},
		},
		Threshold: 0.6,
		Detail:    "model confidence 0.71",
	}
	return cmd
}

// applyDirect migrates the test schema and applies cmds as the sink does,
// without Kafka.
func applyDirect(t *testing.T, pool *pgxpool.Pool, cmds ...schemas.TicketCommand) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, cmd := range cmds {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatalf("beginning a transaction: %v", err)
		}
		if err := applyCommand(ctx, tx, &cmd, time.Now()); err != nil {
			t.Fatalf("applying command %s: %v", cmd.EventID, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("committing command %s: %v", cmd.EventID, err)
		}
	}
}

func TestReassignRequestValidation(t *testing.T) {
	valid := ReassignRequest{Tenant: "acme", TicketRef: "T-1", Queue: "sales", Actor: "dana", Source: schemas.FeedbackSourceCLI}
	tests := []struct {
		name   string
		change func(*ReassignRequest)
		want   string
	}{
		{"no tenant", func(r *ReassignRequest) { r.Tenant = "" }, "missing tenant"},
		{"no ticket", func(r *ReassignRequest) { r.TicketRef = "" }, "missing ticket reference"},
		{"upper-case queue", func(r *ReassignRequest) { r.Queue = "Sales" }, `invalid queue "Sales": use 1 to 100 lower-case letters, digits, '.', '_' and '-'`},
		{"queue with space", func(r *ReassignRequest) { r.Queue = "sales team" }, `invalid queue "sales team"`},
		{"empty queue", func(r *ReassignRequest) { r.Queue = "" }, `invalid queue ""`},
		{"long queue", func(r *ReassignRequest) { r.Queue = strings.Repeat("q", 101) }, "invalid queue"},
		{"bad priority", func(r *ReassignRequest) { r.Priority = "asap" }, `invalid priority "asap": use one of low, normal, high, urgent`},
		{"no actor", func(r *ReassignRequest) { r.Actor = " " }, "missing actor"},
		{"address actor", func(r *ReassignRequest) { r.Actor = "dana@example.test" }, "looks like an email address"},
		{"bad source", func(r *ReassignRequest) { r.Source = "web" }, `invalid source "web": use cli, api or store`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := valid
			tc.change(&req)
			err := req.Validate()
			if !errors.Is(err, ErrInvalidReassign) {
				t.Fatalf("Validate() = %v, expected an error wrapping ErrInvalidReassign", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %q, expected it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "dana@example.test") {
				t.Errorf("Validate() = %q repeats the address", err)
			}
		})
	}
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate() of a valid request = %v, expected nil", err)
	}
}

func TestReassignWritesTicketEventAndOutbox(t *testing.T) {
	pool := newPool(t, testSchema(t))
	cmd := modelCommand("acme", "T-1")
	applyDirect(t, pool, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ev, err := Reassign(ctx, pool, ReassignRequest{
		Tenant: "acme", TicketRef: "T-1", Queue: "refunds", Priority: "high", Actor: "dana", Source: schemas.FeedbackSourceCLI,
	})
	if err != nil {
		t.Fatalf("Reassign: %v", err)
	}

	if ev.EventID != schemas.FeedbackEventID("acme", "T-1", 1) {
		t.Errorf("event ID: got %s, expected the ID of the first reassignment of acme/T-1", ev.EventID)
	}
	if ev.From != (schemas.Assignment{Queue: "billing", Priority: "normal"}) || ev.To != (schemas.Assignment{Queue: "refunds", Priority: "high"}) {
		t.Errorf("from %+v to %+v, expected billing/normal to refunds/high", ev.From, ev.To)
	}
	if ev.MessageID != cmd.MessageID || ev.Subject != cmd.Subject || ev.ReplyText != cmd.ReplyText {
		t.Errorf("message fields: got %q %q %q, expected %q %q %q", ev.MessageID, ev.Subject, ev.ReplyText, cmd.MessageID, cmd.Subject, cmd.ReplyText)
	}
	for _, diff := range reasonDiffs(ev.Reason, cmd.Reason) {
		t.Error(diff)
	}

	var queue, priority string
	if err := pool.QueryRow(ctx, `SELECT queue, priority FROM tickets WHERE ticket_ref = 'T-1'`).Scan(&queue, &priority); err != nil {
		t.Fatalf("reading the ticket: %v", err)
	}
	if queue != "refunds" || priority != "high" {
		t.Errorf("ticket: queue %q priority %q, expected refunds high", queue, priority)
	}

	var payload map[string]any
	err = pool.QueryRow(ctx, `SELECT payload FROM ticket_events WHERE kind = 'reassigned' AND event_id = $1`, ev.EventID).Scan(&payload)
	if err != nil {
		t.Fatalf("reading the reassigned event: %v", err)
	}
	body, _ := json.Marshal(payload)
	want := `{"actor":"dana","feedbackEventId":"` + ev.EventID + `","from":{"priority":"normal","queue":"billing"},"source":"cli","to":{"priority":"high","queue":"refunds"}}`
	if string(body) != want {
		t.Errorf("event payload:\n got %s\n expected %s", body, want)
	}

	var key, value []byte
	if err := pool.QueryRow(ctx, `SELECT record_key, record_value FROM feedback_outbox WHERE event_id = $1`, ev.EventID).Scan(&key, &value); err != nil {
		t.Fatalf("reading the outbox row: %v", err)
	}
	var decoded schemas.FeedbackEvent
	if err := schemas.Unmarshal(value, &decoded); err != nil {
		t.Fatalf("decoding the outbox value: %v", err)
	}
	if string(key) != "acme/T-1" || decoded.EventID != ev.EventID || decoded.To.Queue != "refunds" {
		t.Errorf("outbox row: key %q, event %s to %s, expected acme/T-1, %s to refunds", key, decoded.EventID, decoded.To.Queue, ev.EventID)
	}
}

func TestReassignRejections(t *testing.T) {
	pool := newPool(t, testSchema(t))
	applyDirect(t, pool, modelCommand("acme", "T-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := ReassignRequest{Tenant: "acme", TicketRef: "T-1", Queue: "billing", Actor: "dana", Source: schemas.FeedbackSourceCLI}

	_, err := Reassign(ctx, pool, req)
	if !errors.Is(err, ErrNoChange) {
		t.Errorf("same queue: got %v, expected ErrNoChange", err)
	} else if !strings.Contains(err.Error(), "already in queue billing with priority normal") {
		t.Errorf("same queue: message %q does not name the queue and priority", err)
	}

	req.Priority = "normal"
	if _, err := Reassign(ctx, pool, req); !errors.Is(err, ErrNoChange) {
		t.Errorf("same queue and priority: got %v, expected ErrNoChange", err)
	}

	missing := req
	missing.TicketRef = "T-404"
	missing.Queue = "sales"
	_, err = Reassign(ctx, pool, missing)
	if !errors.Is(err, ErrTicketNotFound) || !strings.Contains(err.Error(), "T-404") {
		t.Errorf("unknown ticket: got %v, expected ErrTicketNotFound naming T-404", err)
	}

	otherTenant := missing
	otherTenant.TicketRef = "T-1"
	otherTenant.Tenant = "globex"
	if _, err := Reassign(ctx, pool, otherTenant); !errors.Is(err, ErrTicketNotFound) {
		t.Errorf("ticket of another tenant: got %v, expected ErrTicketNotFound", err)
	}

	if got := count(t, pool, "SELECT count(*) FROM ticket_events WHERE kind = 'reassigned'"); got != 0 {
		t.Errorf("reassigned events after rejected requests: got %d, expected 0", got)
	}
	if got := count(t, pool, "SELECT count(*) FROM feedback_outbox"); got != 0 {
		t.Errorf("outbox rows after rejected requests: got %d, expected 0", got)
	}
}

// reasonDiffs compares two reasons field by field.
func reasonDiffs(got, want schemas.Reason) []string {
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		return []string{"reason:\n got      " + string(gotJSON) + "\n expected " + string(wantJSON)}
	}
	return nil
}

// feedbackRecord is one record of the feedback topic.
type feedbackRecord struct {
	key   string
	event schemas.FeedbackEvent
}

// readFeedback reads topic from the start to its end offsets at the time
// of the call, read_committed.
func readFeedback(t *testing.T, brokers []string, topic string) []feedbackRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := newAdmin(t, brokers).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	partitions := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			partitions[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(partitions) == 0 {
		return nil
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: partitions}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatalf("creating the feedback consumer: %v", err)
	}
	defer cl.Close()

	var out []feedbackRecord
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: timed out with partitions %v unread", topic, remaining)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			if rec.Offset+1 >= remaining[rec.Partition] {
				delete(remaining, rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			var ev schemas.FeedbackEvent
			if err := schemas.Unmarshal(rec.Value, &ev); err != nil {
				t.Errorf("decoding a feedback event at offset %d: %v", rec.Offset, err)
				return
			}
			out = append(out, feedbackRecord{key: string(rec.Key), event: ev})
		})
	}
	return out
}

// TestReassignReachesFeedbackTopic runs the sink against the local Kafka
// broker: a ticket created from a model decision is reassigned, and the
// sink's relay produces exactly one feedback event with the original
// decision.
func TestReassignReachesFeedbackTopic(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn := testSchema(t)
	suffix := randomSuffix(t)
	topic := "mailtriage.tickets.v1.reassigntest-" + suffix
	dlqTopic := "mailtriage.dlq.v1.reassigntest-" + suffix
	feedbackTopic := "mailtriage.feedback.v1.reassigntest-" + suffix
	createTopics(t, brokers, topic, dlqTopic, feedbackTopic)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := newAdmin(t, brokers).DeleteTopics(ctx, topic, dlqTopic, feedbackTopic); err != nil {
			t.Logf("deleting test topics: %v", err)
		}
	})

	cmd := modelCommand("acme", "T-1")
	produce(t, brokers, commandRecord(t, topic, cmd))

	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sink log:\n%s", logs.String())
		}
	})
	cfg := testConfig(dsn, brokers, logs)
	cfg.Topic, cfg.DLQTopic, cfg.FeedbackTopic = topic, dlqTopic, feedbackTopic
	cfg.Group = "reassigntest-" + suffix
	cfg.FeedbackInterval = 100 * time.Millisecond
	runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 1, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev, err := Reassign(ctx, pool, ReassignRequest{
		Tenant: "acme", TicketRef: "T-1", Queue: "refunds", Actor: "dana", Source: schemas.FeedbackSourceCLI,
	})
	if err != nil {
		t.Fatalf("Reassign: %v", err)
	}

	waitFor(t, 30*time.Second, "the feedback outbox to empty", func() (bool, error) {
		var n int64
		err := pool.QueryRow(ctx, "SELECT count(*) FROM feedback_outbox").Scan(&n)
		return err == nil && n == 0, err
	})
	// Several more relay passes run in this time, and none may send the
	// event again.
	time.Sleep(5 * cfg.FeedbackInterval)

	records := readFeedback(t, brokers, feedbackTopic)
	if len(records) != 1 {
		t.Fatalf("feedback topic has %d records, expected exactly 1", len(records))
	}
	got := records[0]
	if got.key != "acme/T-1" {
		t.Errorf("record key: got %q, expected acme/T-1", got.key)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"eventId", got.event.EventID, ev.EventID},
		{"tenant", got.event.Tenant, "acme"},
		{"ticketRef", got.event.TicketRef, "T-1"},
		{"messageId", got.event.MessageID, cmd.MessageID},
		{"actor", got.event.Actor, "dana"},
		{"source", got.event.Source, "cli"},
		{"at", got.event.At, ev.At},
		{"from", got.event.From, schemas.Assignment{Queue: "billing", Priority: "normal"}},
		{"to", got.event.To, schemas.Assignment{Queue: "refunds", Priority: "normal"}},
		{"subject", got.event.Subject, cmd.Subject},
		{"replyText", got.event.ReplyText, cmd.ReplyText},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, expected %v", c.name, c.got, c.want)
		}
	}
	for _, diff := range reasonDiffs(got.event.Reason, cmd.Reason) {
		t.Error(diff)
	}
}

// TestFeedbackRelayCrashSendsAgain stops a relay after Kafka acknowledged
// the event and before the outbox row was deleted, as a crash there
// would. The next relay sends the event again with the same ID, so the
// event is repeated and never lost.
func TestFeedbackRelayCrashSendsAgain(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	pool := newPool(t, testSchema(t))
	feedbackTopic := "mailtriage.feedback.v1.relaytest-" + randomSuffix(t)
	createTopics(t, brokers, feedbackTopic)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := newAdmin(t, brokers).DeleteTopics(ctx, feedbackTopic); err != nil {
			t.Logf("deleting test topics: %v", err)
		}
	})
	applyDirect(t, pool, modelCommand("acme", "T-1"), modelCommand("acme", "T-2"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer client.Close()

	first, err := Reassign(ctx, pool, ReassignRequest{Tenant: "acme", TicketRef: "T-1", Queue: "refunds", Actor: "dana", Source: schemas.FeedbackSourceStore})
	if err != nil {
		t.Fatalf("Reassign T-1: %v", err)
	}

	crashed := NewFeedbackRelay(pool, client, feedbackTopic, nil)
	errCrash := errors.New("simulated crash after the produce")
	crashed.afterProduce = func() error { return errCrash }
	if _, err := crashed.Drain(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("Drain with a crash after the produce: got %v, expected the simulated crash", err)
	}
	if got := count(t, pool, "SELECT count(*) FROM feedback_outbox"); got != 1 {
		t.Fatalf("outbox rows after the crash: got %d, expected the unsent row to stay", got)
	}

	second, err := Reassign(ctx, pool, ReassignRequest{Tenant: "acme", TicketRef: "T-2", Queue: "sales", Actor: "api:tok-1", Source: schemas.FeedbackSourceAPI})
	if err != nil {
		t.Fatalf("Reassign T-2: %v", err)
	}
	restarted := NewFeedbackRelay(pool, client, feedbackTopic, nil)
	sent, err := restarted.Drain(ctx)
	if err != nil {
		t.Fatalf("Drain after the restart: %v", err)
	}
	if sent != 2 {
		t.Errorf("Drain after the restart sent %d events, expected 2 (the repeated one and the new one)", sent)
	}
	if sent, err := restarted.Drain(ctx); err != nil || sent != 0 {
		t.Errorf("Drain of an empty outbox: sent %d, %v; expected 0, nil", sent, err)
	}
	if got := count(t, pool, "SELECT count(*) FROM feedback_outbox"); got != 0 {
		t.Errorf("outbox rows after the restart: got %d, expected 0", got)
	}

	perID := map[string]int{}
	for _, r := range readFeedback(t, brokers, feedbackTopic) {
		perID[r.event.EventID]++
	}
	if perID[first.EventID] != 2 {
		t.Errorf("copies of the event sent before the crash: got %d, expected 2 with the same event ID", perID[first.EventID])
	}
	if perID[second.EventID] != 1 {
		t.Errorf("copies of the event written after the crash: got %d, expected 1", perID[second.EventID])
	}
	if len(perID) != 2 {
		t.Errorf("distinct event IDs on the topic: got %d (%v), expected 2", len(perID), perID)
	}
}

// TestFeedbackRelayWaitsForLock checks that a relay sends nothing while
// another holds the outbox lock, so that two sinks never interleave the
// events of one ticket.
func TestFeedbackRelayWaitsForLock(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	pool := newPool(t, testSchema(t))
	applyDirect(t, pool, modelCommand("acme", "T-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Reassign(ctx, pool, ReassignRequest{Tenant: "acme", TicketRef: "T-1", Queue: "refunds", Actor: "dana", Source: schemas.FeedbackSourceCLI}); err != nil {
		t.Fatalf("Reassign: %v", err)
	}

	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("beginning the lock holder: %v", err)
	}
	defer func() { _ = holder.Rollback(context.Background()) }()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", feedbackLockKey); err != nil {
		t.Fatalf("taking the outbox lock: %v", err)
	}

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer client.Close()
	relay := NewFeedbackRelay(pool, client, "mailtriage.feedback.v1.never-created", nil)
	sent, err := relay.Drain(ctx)
	if err != nil || sent != 0 {
		t.Errorf("Drain while the lock is held: sent %d, %v; expected 0, nil", sent, err)
	}
	if got := count(t, pool, "SELECT count(*) FROM feedback_outbox"); got != 1 {
		t.Errorf("outbox rows: got %d, expected the row to wait for the lock holder", got)
	}
}
