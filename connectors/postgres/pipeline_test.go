package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// batchBuilder numbers the records of one partition from offset 0 on.
type batchBuilder struct {
	offset int64
	items  []item
}

func (b *batchBuilder) command(cmd schemas.TicketCommand) {
	b.items = append(b.items, item{rec: b.record(), cmd: &cmd})
}

func (b *batchBuilder) fault(cmd schemas.TicketCommand, fault error) {
	b.items = append(b.items, item{rec: b.record(), cmd: &cmd, fault: fault})
}

func (b *batchBuilder) marker() {
	b.items = append(b.items, item{rec: b.record(), control: true})
}

func (b *batchBuilder) record() *kgo.Record {
	rec := &kgo.Record{Topic: topics.Tickets, Partition: 0, Offset: b.offset}
	b.offset++
	return rec
}

// take returns the items added since the last take as one partition.
func (b *batchBuilder) take() []partitionItems {
	items := b.items
	b.items = nil
	return []partitionItems{{partition: 0, items: items}}
}

// pipelineBatches returns two batches: the first opens tickets A and B,
// and the second mixes every path of applyPartition. Its runs of creates
// end at a repeated ticket, an append, a dead letter and the end of the
// partition. It also has a transaction marker, a linked ticket, a replay
// that reroutes and one that changes nothing.
func pipelineBatches() [][]partitionItems {
	var b batchBuilder
	createA := command("acme", "A", ActionCreate, 0)
	createB := command("acme", "B", ActionCreate, 1)
	b.command(createA)
	b.command(createB)
	first := b.take()

	linked := command("acme", "D", ActionCreate, 3)
	linked.LinkedTicketRef = "A"
	createE := command("acme", "E", ActionCreate, 7)
	invalid := command("", "F", ActionCreate, 6)

	b.command(command("acme", "C", ActionCreate, 2))
	b.command(linked)
	b.command(rulesetB(createA))
	b.command(command("acme", "A", ActionCreate, 5))
	b.command(command("acme", "C", ActionCreate, 4))
	b.marker()
	b.fault(invalid, validateCommand(&invalid))
	b.command(createE)
	b.command(command("acme", "B", ActionAppend, 8))
	b.command(createB)
	b.command(rulesetB(createE))
	b.command(command("other", "C", ActionCreate, 9)) // the ticketRef of another tenant's ticket
	return [][]partitionItems{first, b.take()}
}

// applyAll applies batches with sink and checks what each counted.
func applyAll(t *testing.T, sink *Sink, batches [][]partitionItems, isolate bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := []batchResult{{applied: 2}, {applied: 10, markers: 1, deadLetters: 1}}
	for i, parts := range batches {
		res, err := sink.applyBatch(ctx, parts, isolate)
		if err != nil {
			t.Fatalf("applying batch %d (isolate %v): %v", i, isolate, err)
		}
		if res.applied != want[i].applied || res.markers != want[i].markers || res.deadLetters != want[i].deadLetters {
			t.Errorf("batch %d (isolate %v): applied %d, markers %d, dead letters %d; expected %d, %d, %d", i, isolate,
				res.applied, res.markers, res.deadLetters, want[i].applied, want[i].markers, want[i].deadLetters)
		}
	}
}

// The isolated path writes one command after another, so it is the
// reference for the pipelined one.
func TestPipelineMatchesOneByOne(t *testing.T) {
	now := time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)
	pipelined := newApplySink(t, nil, now)
	oneByOne := newApplySink(t, nil, now)
	applyAll(t, pipelined, pipelineBatches(), false)
	applyAll(t, oneByOne, pipelineBatches(), true)

	for _, query := range dumpQueries {
		got := dumpRows(t, pipelined.pool, query)
		want := dumpRows(t, oneByOne.pool, query)
		if got != want {
			t.Errorf("rows of %q differ:\npipelined:  %s\none by one: %s", query, got, want)
		}
	}
}

func TestPipelineWritesEveryPath(t *testing.T) {
	sink := newApplySink(t, nil, time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC))
	applyAll(t, sink, pipelineBatches(), false)
	pool := sink.pool

	wantKinds := map[string][]string{
		"A": {EventCreated, EventRouted, EventRerouted, EventReplied},
		"B": {EventCreated, EventRouted, EventReplied},
		"C": {EventCreated, EventRouted, EventReplied},
		"D": {EventCreated, EventRouted},
		"E": {EventCreated, EventRouted, EventRerouted},
	}
	for ref, want := range wantKinds {
		if got := tenantEventKinds(t, pool, "acme", ref); !slices.Equal(got, want) {
			t.Errorf("events of %s: got %v, expected %v", ref, got, want)
		}
	}
	for _, ref := range []string{"A", "E"} {
		if got := ticketRouting(t, pool, ref).Queue; got != "sales" {
			t.Errorf("queue of %s after the replay: got %q, expected sales", ref, got)
		}
	}
	if got := count(t, pool, `SELECT count(*) FROM tickets WHERE ticket_ref = 'D' AND linked_ticket_ref = 'A'`); got != 1 {
		t.Errorf("tickets D linked to A: got %d, expected 1", got)
	}
	if got := count(t, pool, `SELECT count(*) FROM tickets WHERE tenant = 'other'`); got != 1 {
		t.Errorf("tickets of tenant other: got %d, expected 1", got)
	}
	if got := count(t, pool, `SELECT count(*) FROM dead_letter_outbox`); got != 1 {
		t.Errorf("dead letters: got %d, expected 1", got)
	}
	if got := count(t, pool, `SELECT next_offset FROM consumer_offsets WHERE consumer_group = 'apply-test'`); got != 14 {
		t.Errorf("stored offset: got %d, expected 14", got)
	}
}

// tenantEventKinds returns the event kinds of ticket ref of tenant in
// insertion order.
func tenantEventKinds(t *testing.T, pool *pgxpool.Pool, tenant, ref string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
		WHERE t.tenant = $1 AND t.ticket_ref = $2 ORDER BY e.id`, tenant, ref)
	if err != nil {
		t.Fatalf("reading the events of %s/%s: %v", tenant, ref, err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading the events of %s/%s: %v", tenant, ref, err)
	}
	return kinds
}

// The statement that writes a command builds the event IDs itself, so
// they are checked against the form the other event writers use.
func TestCommandEventIDs(t *testing.T) {
	sink := newApplySink(t, nil, time.Now())
	create := command("acme", "T-1", ActionCreate, 0)
	reply := command("acme", "T-1", ActionCreate, 1)
	var b batchBuilder
	b.command(create)
	b.command(reply)
	ctx := context.Background()
	if _, err := sink.applyBatch(ctx, b.take(), false); err != nil {
		t.Fatalf("applying the batch: %v", err)
	}

	rows, err := sink.pool.Query(ctx, `SELECT event_id FROM ticket_events ORDER BY id`)
	if err != nil {
		t.Fatalf("reading the events: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading the events: %v", err)
	}
	want := []string{create.EventID + "/" + EventCreated, create.EventID + "/" + EventRouted, reply.EventID + "/" + EventReplied}
	if !slices.Equal(got, want) {
		t.Errorf("event IDs: got %v, expected %v", got, want)
	}
}

// dumpQueries return the rows that the sink writes as one JSON text each,
// without the generated IDs, in an order that does not depend on them.
var dumpQueries = []string{
	`SELECT json_agg(t ORDER BY t.tenant, t.ticket_ref) FROM (
		SELECT tenant, ticket_ref, external_id, status, queue, priority, tags,
			requester_name, requester_address, subject, created_at, updated_at,
			reason_kind, reason_rule_id, ruleset_version, model_version,
			reason_top_labels, reason_threshold, reason_detail, linked_ticket_ref
		FROM tickets) t`,
	`SELECT json_agg(m ORDER BY m.event_id) FROM (
		SELECT t.tenant, t.ticket_ref, m.message_id, m.event_id, m.direction, m.subject,
			m.text, m.reply_text, m.attachments, m.raw_storage_key, m.received_at
		FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id) m`,
	`SELECT json_agg(e ORDER BY e.event_id) FROM (
		SELECT t.tenant, t.ticket_ref, e.kind, e.event_id, e.payload, e.at,
			row_number() OVER (PARTITION BY e.ticket_id ORDER BY e.id) AS position
		FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id) e`,
	`SELECT json_agg(d ORDER BY d.event_id) FROM (
		SELECT consumer_group, event_id, topic, record_key, record_value, headers
		FROM dead_letter_outbox) d`,
	`SELECT json_agg(o ORDER BY o.partition) FROM (
		SELECT consumer_group, topic, partition, next_offset FROM consumer_offsets) o`,
}

// dumpRows runs one of dumpQueries.
func dumpRows(t *testing.T, pool *pgxpool.Pool, query string) string {
	t.Helper()
	var text *string
	if err := pool.QueryRow(context.Background(), "SELECT ("+query+")::text").Scan(&text); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	if text == nil {
		return "null"
	}
	return *text
}

// A command that PostgreSQL rejects fails the whole pipeline, and the
// retry in isolation sends only that command to the dead letters.
func TestPipelineRejectedCommandIsIsolated(t *testing.T) {
	sink := newApplySink(t, nil, time.Now())
	nul := command("acme", "Y", ActionCreate, 1)
	nul.Subject = "broken \x00 subject"
	var b batchBuilder
	b.command(command("acme", "X", ActionCreate, 0))
	b.command(nul)
	b.command(command("acme", "Z", ActionCreate, 2))
	parts := b.take()
	ctx := context.Background()

	_, err := sink.applyBatch(ctx, parts, false)
	if !isRecordFault(err) {
		t.Fatalf("pipelined batch: got error %v, expected one that isRecordFault accepts", err)
	}
	if got := count(t, sink.pool, `SELECT count(*) FROM tickets`); got != 0 {
		t.Errorf("tickets after the failed batch: got %d, expected 0", got)
	}

	res, err := sink.applyBatch(ctx, parts, true)
	if err != nil {
		t.Fatalf("isolated batch: %v", err)
	}
	if res.applied != 2 || res.deadLetters != 1 {
		t.Errorf("isolated batch: applied %d, dead letters %d; expected 2 and 1", res.applied, res.deadLetters)
	}
	if got := count(t, sink.pool, `SELECT count(*) FROM tickets WHERE ticket_ref IN ('X', 'Z')`); got != 2 {
		t.Errorf("tickets X and Z: got %d, expected 2", got)
	}
}

func TestPipelineSplitsLongRun(t *testing.T) {
	sink := newApplySink(t, nil, time.Now())
	n := 2*maxCreateRun + 1
	var b batchBuilder
	for i := range n {
		b.command(command("acme", fmt.Sprintf("L-%d", i), ActionCreate, i))
	}
	res, err := sink.applyBatch(context.Background(), b.take(), false)
	if err != nil {
		t.Fatalf("applying %d creates: %v", n, err)
	}
	if res.applied != n {
		t.Errorf("applied %d commands, expected %d", res.applied, n)
	}
	if got := count(t, sink.pool, `SELECT count(*) FROM tickets`); got != int64(n) {
		t.Errorf("tickets: got %d, expected %d", got, n)
	}
	if got := count(t, sink.pool, `SELECT count(*) FROM ticket_events`); got != int64(2*n) {
		t.Errorf("events: got %d, expected %d", got, 2*n)
	}
}

// JSON has no NaN, so the routed payload stores 0 in its place, and
// neither the create nor a follow-up with the same reason fails.
func TestNaNReasonIsStoredAsZero(t *testing.T) {
	sink := newApplySink(t, nil, time.Now())
	reason := schemas.Reason{
		Kind: schemas.ReasonModel, ModelVersion: "m-1", Threshold: math.NaN(),
		TopLabels: []schemas.LabelScore{{Label: "billing", Probability: math.Inf(1)}},
	}
	create := command("acme", "N", ActionCreate, 0)
	create.Reason = reason
	follow := command("acme", "N", ActionAppend, 1)
	follow.Reason = reason
	var b batchBuilder
	b.command(create)
	b.command(follow)

	res, err := sink.applyBatch(context.Background(), b.take(), false)
	if err != nil {
		t.Fatalf("applying the batch: %v", err)
	}
	if res.applied != 2 {
		t.Errorf("applied %d commands, expected 2", res.applied)
	}
	routed := eventPayloads(t, sink.pool, "N", EventRouted)
	if len(routed) != 1 {
		t.Fatalf("%d routed events, expected 1", len(routed))
	}
	stored, _ := routed[0]["reason"].(map[string]any)
	labels, _ := stored["topLabels"].([]any)
	if stored["threshold"] != 0.0 {
		t.Errorf("threshold in the routed payload: got %v, expected 0", stored["threshold"])
	}
	if len(labels) != 1 {
		t.Fatalf("top labels in the routed payload: got %v, expected one", labels)
	}
	if label, _ := labels[0].(map[string]any); label["probability"] != 0.0 {
		t.Errorf("probability in the routed payload: got %v, expected 0", label["probability"])
	}
}
