package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func TestCreateThenAppend(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	logs := &syncBuffer{}

	create := command("acme", "T-1", ActionCreate, 0)
	follow := command("acme", "T-1", ActionAppend, 5)
	follow.InReplyTo = []string{create.MessageID}
	other := command("acme", "T-2", ActionCreate, 1)
	produce(t, brokers,
		commandRecord(t, topics.Tickets, create),
		commandRecord(t, topics.Tickets, other),
		commandRecord(t, topics.Tickets, follow))

	cfg := testConfig(dsn, brokers, logs)
	stop := runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 3, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, expected nil after cancel", err)
	}

	if got := count(t, pool, "SELECT count(*) FROM tickets"); got != 2 {
		t.Errorf("tickets: got %d, expected 2", got)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.ticket_ref = 'T-1'"); got != 2 {
		t.Errorf("messages of T-1: got %d, expected 2", got)
	}

	var externalID, queue, status, requester, reasonKind, ruleID, rulesetVersion string
	var tags []string
	var createdAt, updatedAt time.Time
	err := pool.QueryRow(context.Background(), `SELECT external_id, queue, status, requester_address, tags,
		reason_kind, reason_rule_id, ruleset_version, created_at, updated_at
		FROM tickets WHERE tenant = 'acme' AND ticket_ref = 'T-1'`).Scan(
		&externalID, &queue, &status, &requester, &tags, &reasonKind, &ruleID, &rulesetVersion, &createdAt, &updatedAt)
	if err != nil {
		t.Fatalf("reading ticket T-1: %v", err)
	}
	if externalID != create.MessageID {
		t.Errorf("external_id: got %q, expected the first message ID %q", externalID, create.MessageID)
	}
	if queue != "billing" || status != "open" || requester != "customer@example.test" {
		t.Errorf("queue, status, requester: got %q, %q, %q, expected billing, open, customer@example.test", queue, status, requester)
	}
	if !slices.Equal(tags, []string{"invoice"}) {
		t.Errorf("tags: got %v, expected [invoice]", tags)
	}
	if reasonKind != "rule" || ruleID != "billing-1" || rulesetVersion != "rs-7" {
		t.Errorf("reason: got %q, %q, %q, expected rule, billing-1, rs-7", reasonKind, ruleID, rulesetVersion)
	}
	if !createdAt.Equal(create.ReceivedAt) {
		t.Errorf("created_at: got %v, expected the first message's receive time %v", createdAt, create.ReceivedAt)
	}
	if !updatedAt.Equal(follow.ReceivedAt) {
		t.Errorf("updated_at: got %v, expected the follow-up's receive time %v", updatedAt, follow.ReceivedAt)
	}

	kinds := eventKinds(t, pool, "T-1")
	if want := []string{"created", "routed", "replied"}; !slices.Equal(kinds, want) {
		t.Errorf("events of T-1: got %v, expected %v", kinds, want)
	}

	var attachments []schemas.Attachment
	var rawKey string
	err = pool.QueryRow(context.Background(),
		`SELECT attachments, raw_storage_key FROM ticket_messages WHERE event_id = $1`, follow.EventID).Scan(&attachments, &rawKey)
	if err != nil {
		t.Fatalf("reading the follow-up message: %v", err)
	}
	if len(attachments) != 1 || attachments[0].StorageKey != "att/"+"T-1-append-5" {
		t.Errorf("attachments: got %+v, expected one with storage key att/T-1-append-5", attachments)
	}
	if rawKey != "raw/T-1-append-5" {
		t.Errorf("raw_storage_key: got %q, expected raw/T-1-append-5", rawKey)
	}
}

// eventKinds returns the event kinds of ticket ref in insertion order.
func eventKinds(t *testing.T, pool *pgxpool.Pool, ref string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.ticket_ref = $1 ORDER BY e.id`, ref)
	if err != nil {
		t.Fatalf("reading events of %s: %v", ref, err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatalf("reading events of %s: %v", ref, err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

func TestAppendWithoutTicketCreatesIt(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	follow := command("acme", "T-9", ActionAppend, 3)
	produce(t, brokers, commandRecord(t, topics.Tickets, follow))

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 1, 30*time.Second)

	if got := count(t, pool, "SELECT count(*) FROM tickets WHERE ticket_ref = 'T-9'"); got != 1 {
		t.Errorf("tickets T-9: got %d, expected 1", got)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_messages"); got != 1 {
		t.Errorf("messages: got %d, expected 1", got)
	}
	if kinds := eventKinds(t, pool, "T-9"); !slices.Equal(kinds, []string{"created", "routed"}) {
		t.Errorf("events of T-9: got %v, expected [created routed]", kinds)
	}
}

func TestReplayAfterOffsetResetAddsNothing(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	var records []*kgo.Record
	for i := range 40 {
		ref := "T-" + string(rune('a'+i%20))
		action := ActionCreate
		if i >= 20 {
			action = ActionAppend
		}
		records = append(records, commandRecord(t, topics.Tickets, command("acme", ref, action, i)))
	}
	produce(t, brokers, records...)

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	stop := runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 40, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	snapshot := func() [3]int64 {
		return [3]int64{
			count(t, pool, "SELECT count(*) FROM tickets"),
			count(t, pool, "SELECT count(*) FROM ticket_messages"),
			count(t, pool, "SELECT count(*) FROM ticket_events"),
		}
	}
	before := snapshot()
	if want := [3]int64{20, 40, 60}; before != want {
		t.Fatalf("tickets, messages, events after the first run: got %v, expected %v", before, want)
	}

	// An operator resets the offsets: the next run reads the topic again
	// from the start.
	if _, err := pool.Exec(context.Background(), "DELETE FROM consumer_offsets"); err != nil {
		t.Fatalf("resetting offsets: %v", err)
	}
	runSink(t, cfg)
	waitApplied(t, pool, cfg.Group, 40, 30*time.Second)

	if after := snapshot(); after != before {
		t.Errorf("tickets, messages, events after the replay: got %v, expected %v unchanged", after, before)
	}
}

func TestBadRecordsGoToDLQ(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)

	good1 := command("acme", "T-1", ActionCreate, 0)
	unknown := command("acme", "T-1", "merge", 1)
	nul := command("acme", "T-1", ActionAppend, 2)
	nul.Subject = "broken \x00 subject"
	good2 := command("acme", "T-1", ActionAppend, 3)
	key := []byte("acme/T-1")
	records := []*kgo.Record{
		commandRecord(t, topics.Tickets, good1),
		{Topic: topics.Tickets, Key: key, Value: []byte("not avro")},
		commandRecord(t, topics.Tickets, unknown),
		commandRecord(t, topics.Tickets, nul),
		commandRecord(t, topics.Tickets, good2),
	}
	produce(t, brokers, records...)

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, int64(len(records)), 30*time.Second)

	if got := count(t, pool, "SELECT count(*) FROM ticket_messages"); got != 2 {
		t.Errorf("messages: got %d, expected the 2 good commands", got)
	}
	dead := readDLQ(t, brokers, topics.DLQ, 3)
	offsets := make([]int64, 0, len(dead))
	for _, d := range dead {
		dl := d.letter
		offsets = append(offsets, dl.SourceOffset)
		if dl.Stage != Stage || dl.SourceTopic != topics.Tickets {
			t.Errorf("dead letter at offset %d: stage %q, source topic %q, expected %q, %q", dl.SourceOffset, dl.Stage, dl.SourceTopic, Stage, topics.Tickets)
		}
		if dl.Error == "" || dl.EventID == "" || len(dl.Payload) == 0 {
			t.Errorf("dead letter at offset %d lacks error, event ID or payload: %+v", dl.SourceOffset, dl)
		}
		if got := d.headers[runner.HeaderStage]; got != Stage {
			t.Errorf("dead letter at offset %d: stage header %q, expected %q", dl.SourceOffset, got, Stage)
		}
	}
	slices.Sort(offsets)
	// Records 1, 2 and 3 of the partition: the undecodable value, the
	// unknown action and the NUL byte that PostgreSQL rejects.
	if want := []int64{1, 2, 3}; !slices.Equal(offsets, want) {
		t.Errorf("dead letter source offsets: got %v, expected %v", offsets, want)
	}
	waitFor(t, 10*time.Second, "the outbox to empty", func() (bool, error) {
		return count(t, pool, "SELECT count(*) FROM dead_letter_outbox") == 0, nil
	})
}

// dlqRecord is a decoded dead letter with its headers.
type dlqRecord struct {
	letter  schemas.DeadLetter
	headers map[string]string
}

// readDLQ reads want records from topic, failing the test after 30 s.
func readDLQ(t *testing.T, brokers []string, topic string, want int) []dlqRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("creating the DLQ consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out []dlqRecord
	for len(out) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d dead letters from %s, expected %d", len(out), topic, want)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			var d dlqRecord
			if err := schemas.Unmarshal(rec.Value, &d.letter); err != nil {
				t.Errorf("decoding a dead letter: %v", err)
				return
			}
			d.headers = make(map[string]string)
			for _, h := range rec.Headers {
				d.headers[h.Key] = string(h.Value)
			}
			out = append(out, d)
		})
	}
	return out
}

func TestAbortedTransactionIsSkipped(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("sink-test-producer"))
	if err != nil {
		t.Fatalf("creating the transactional producer: %v", err)
	}
	defer producer.Close()
	send := func(commit bool, cmds ...schemas.TicketCommand) {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("beginning a transaction: %v", err)
		}
		for _, cmd := range cmds {
			if err := producer.ProduceSync(ctx, commandRecord(t, topics.Tickets, cmd)).FirstErr(); err != nil {
				t.Fatalf("producing %s: %v", cmd.EventID, err)
			}
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("ending a transaction: %v", err)
		}
	}
	send(true, command("acme", "T-1", ActionCreate, 0))
	send(false, command("acme", "T-2", ActionCreate, 1), command("acme", "T-1", ActionAppend, 2))
	send(true, command("acme", "T-3", ActionCreate, 3))

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	runSink(t, cfg)
	pool := newPool(t, dsn)
	// The stored offsets reach the end of the partitions, which lies past
	// the transaction markers.
	waitApplied(t, pool, cfg.Group, endOffsetTotal(t, newAdmin(t, brokers), topics.Tickets), 30*time.Second)

	var refs []string
	rows, err := pool.Query(ctx, "SELECT ticket_ref FROM tickets ORDER BY ticket_ref")
	if err != nil {
		t.Fatalf("reading tickets: %v", err)
	}
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			t.Fatalf("reading tickets: %v", err)
		}
		refs = append(refs, ref)
	}
	if want := []string{"T-1", "T-3"}; !slices.Equal(refs, want) {
		t.Errorf("tickets: got %v, expected %v without the aborted T-2", refs, want)
	}
	if got := count(t, pool, "SELECT count(*) FROM ticket_messages"); got != 2 {
		t.Errorf("messages: got %d, expected 2 without the aborted append", got)
	}
}

func TestStoredOffsetsSurviveRestart(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	produce(t, brokers, commandRecord(t, topics.Tickets, command("acme", "T-1", ActionCreate, 0)))

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	stop := runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 1, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("first Run: %v", err)
	}

	// Remove the row so that a re-read of offset 0 would show: the event
	// ID guard would otherwise hide it. Only the stored offset keeps the
	// second run from reading it again.
	if _, err := pool.Exec(context.Background(), "DELETE FROM tickets"); err != nil {
		t.Fatalf("deleting tickets: %v", err)
	}
	produce(t, brokers, commandRecord(t, topics.Tickets, command("acme", "T-2", ActionCreate, 1)))
	runSink(t, cfg)
	waitApplied(t, pool, cfg.Group, 2, 30*time.Second)

	var refs []string
	rows, err := pool.Query(context.Background(), "SELECT ticket_ref FROM tickets")
	if err != nil {
		t.Fatalf("reading tickets: %v", err)
	}
	for rows.Next() {
		var ref string
		_ = rows.Scan(&ref)
		refs = append(refs, ref)
	}
	if !slices.Equal(refs, []string{"T-2"}) {
		t.Errorf("tickets after restart: got %v, expected only T-2: the sink must resume at the stored offset", refs)
	}
}

func TestEventPayloadsAreJSON(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	cmd := command("acme", "T-1", ActionCreate, 0)
	produce(t, brokers, commandRecord(t, topics.Tickets, cmd))

	cfg := testConfig(dsn, brokers, &syncBuffer{})
	runSink(t, cfg)
	pool := newPool(t, dsn)
	waitApplied(t, pool, cfg.Group, 1, 30*time.Second)

	var payload []byte
	err := pool.QueryRow(context.Background(), `SELECT payload FROM ticket_events WHERE kind = 'routed'`).Scan(&payload)
	if err != nil {
		t.Fatalf("reading the routed event: %v", err)
	}
	var routed struct {
		Queue  string         `json:"queue"`
		Reason schemas.Reason `json:"reason"`
	}
	if err := json.Unmarshal(payload, &routed); err != nil {
		t.Fatalf("decoding the routed payload %s: %v", payload, err)
	}
	if routed.Queue != "billing" || routed.Reason.RuleID != "billing-1" {
		t.Errorf("routed payload: got queue %q rule %q, expected billing and billing-1", routed.Queue, routed.Reason.RuleID)
	}
}
