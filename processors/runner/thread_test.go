package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/state"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// threadChain is the real dedupe, the stand-in classifier and the real
// Thread.
func threadChain(t *testing.T) processors.Chain {
	t.Helper()
	thread, err := processors.NewThread(processors.ThreadConfig{AddressSalt: "runner-test"})
	if err != nil {
		t.Fatal(err)
	}
	return append(testChain(t), thread)
}

func threadConfig(t *testing.T, brokers []string) Config {
	cfg := testConfig(brokers)
	cfg.Chain = threadChain(t)
	cfg.Outputs = processors.Outputs
	return cfg
}

func mailFrom(id, from, subject string, inReplyTo ...string) schemas.InboundEmail {
	e := testEmail("acme", id, subject)
	e.From = &schemas.Address{Address: from}
	e.To = []schemas.Address{{Address: "support@acme.test"}}
	for _, irt := range inReplyTo {
		e.InReplyTo = append(e.InReplyTo, irt+"@example.test")
	}
	return e
}

// ticketsByMessage returns the committed ticket commands by message ID.
func ticketsByMessage(ctx context.Context, t *testing.T, brokers []string) map[string]schemas.TicketCommand {
	t.Helper()
	out := make(map[string]schemas.TicketCommand)
	for _, cmd := range decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)) {
		out[cmd.MessageID] = cmd
	}
	return out
}

// A reply that a new runner instance processes after the original's
// transaction committed joins the original's ticket: the new instance
// restored the thread index from its topic, and the reply came in on
// another input partition than the original.
func TestRunnerThreadIndexSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	cfg := threadConfig(t, brokers)

	orig := mailFrom("orig", "alice@customer.test", "Invoice")
	ends := produceInbound(ctx, t, brokers, emailRecord(t, orig, 0))
	first := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, first, ends)
	if err := first.stop(); err != nil {
		t.Fatalf("first Run returned %v", err)
	}

	reply := mailFrom("reply", "alice@customer.test", "Re: Invoice", "orig")
	stranger := mailFrom("stranger", "mallory@attacker.test", "Re: Invoice", "orig")
	ends = produceInbound(ctx, t, brokers, emailRecord(t, reply, 1), emailRecord(t, stranger, 2))
	second := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, second, ends)
	if err := second.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}

	origRef := processors.TicketRef("acme", orig.MessageID)
	tickets := ticketsByMessage(ctx, t, brokers)
	if got := tickets[orig.MessageID]; got.Action != "create" || got.TicketRef != origRef {
		t.Errorf("original: action %q ref %q, expected create of %s", got.Action, got.TicketRef, origRef)
	}
	if got := tickets[reply.MessageID]; got.Action != "append" || got.TicketRef != origRef {
		t.Errorf("reply: action %q ref %q (%s), expected append to %s", got.Action, got.TicketRef, got.Reason.Detail, origRef)
	}
	strangerRef := processors.TicketRef("acme", stranger.MessageID)
	if got := tickets[stranger.MessageID]; got.Action != "create" || got.TicketRef != strangerRef || got.LinkedTicketRef != origRef {
		t.Errorf("stranger: action %q ref %q linked %q, expected create of %s linked to %s",
			got.Action, got.TicketRef, got.LinkedTicketRef, strangerRef, origRef)
	}

	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	followUps := 0
	for _, d := range decisions {
		if d.FollowUp {
			followUps++
			if d.MessageID != reply.MessageID {
				t.Errorf("decision of %s is a follow-up, expected only the reply", d.MessageID)
			}
		}
	}
	if followUps != 1 {
		t.Errorf("%d decisions are follow-ups, expected 1", followUps)
	}
}

// An aborted transaction's thread index writes are never visible: not to
// a read_committed reader of the topic and not to a table restored from
// it. The first transaction aborts because one output is too large; the
// retry dead-letters that message and commits the other one, whose entry
// then appears once.
func TestRunnerAbortedThreadWritesInvisible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	cfg := threadConfig(t, brokers)
	cfg.ClientOpts = append(cfg.ClientOpts, kgo.ProducerBatchMaxBytes(16<<10))
	cfg.Outputs = func(m *processors.Message, now time.Time) []processors.Output {
		outs := processors.Outputs(m, now)
		if m.Email.Subject != "huge" {
			return outs
		}
		for i, o := range outs {
			if d, ok := o.Value.(schemas.DecisionEvent); ok {
				d.Subject = strings.Repeat("x", 64<<10)
				outs[i].Value = d
			}
		}
		return outs
	}

	orig := mailFrom("orig", "alice@customer.test", "Invoice")
	huge := mailFrom("huge", "alice@customer.test", "huge")
	ends := produceInbound(ctx, t, brokers, emailRecord(t, orig, 0), emailRecord(t, huge, 0))
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if st := rr.Stats(); st.Aborts < 1 || st.DeadLetters != 1 {
		t.Fatalf("Stats %+v, expected an aborted transaction and 1 dead letter", st)
	}

	const origKey, hugeKey = "thread/msg/acme/orig@example.test", "thread/msg/acme/huge@example.test"
	uncommitted := readTopic(ctx, t, brokers, topics.ThreadIndex, false)
	committed := readTopic(ctx, t, brokers, topics.ThreadIndex, true)
	if n := countKey(uncommitted, hugeKey); n != 1 {
		t.Errorf("read_uncommitted thread index holds %d records of %s, expected the 1 the aborted transaction wrote", n, hugeKey)
	}
	if n := countKey(committed, hugeKey); n != 0 {
		t.Errorf("read_committed thread index holds %d records of %s, expected none", n, hugeKey)
	}
	if n := countKey(uncommitted, origKey); n != 2 {
		t.Errorf("read_uncommitted thread index holds %d records of %s, expected 2 (aborted and committed)", n, origKey)
	}
	if n := countKey(committed, origKey); n != 1 {
		t.Errorf("read_committed thread index holds %d records of %s, expected 1", n, origKey)
	}

	table, err := state.NewGlobalTable(state.GlobalTableConfig{Topic: topics.ThreadIndex, ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}})
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	if err := table.Restore(ctx); err != nil {
		t.Fatalf("restoring the thread index: %v", err)
	}
	if _, ok := table.Get(hugeKey); ok {
		t.Errorf("restored thread index holds %s, written only by the aborted transaction", hugeKey)
	}
	if _, ok := table.Get(origKey); !ok {
		t.Errorf("restored thread index lacks %s, expected the committed entry", origKey)
	}
	// One committed message: its message entry and its ticket entry.
	if n := table.Len(); n != 2 {
		t.Errorf("restored thread index holds %d keys, expected 2", n)
	}
}

func countKey(recs []*kgo.Record, key string) int {
	n := 0
	for _, r := range recs {
		if string(r.Key) == key {
			n++
		}
	}
	return n
}

// A dead-lettered message leaves nothing in the thread index.
func TestRunnerDeadLetterWritesNoThreadEntry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	cfg := threadConfig(t, brokers)
	// Thread runs before the classifier here, so its writes exist when
	// the classifier fails.
	thread := cfg.Chain[len(cfg.Chain)-1]
	cfg.Chain = processors.Chain{cfg.Chain[0], thread, classifier{}}

	bad := mailFrom("bad", "alice@customer.test", "boom")
	bad.Headers = []schemas.Header{{Name: "X-Fail", Value: "1"}}
	good := mailFrom("good", "alice@customer.test", "fine")
	ends := produceInbound(ctx, t, brokers, emailRecord(t, bad, 0), emailRecord(t, good, 0))
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	for _, r := range readTopic(ctx, t, brokers, topics.ThreadIndex, true) {
		if strings.Contains(string(r.Key), "bad@") {
			t.Errorf("thread index holds %s of the dead-lettered message, expected nothing", r.Key)
		}
	}
	if n := countKey(readTopic(ctx, t, brokers, topics.ThreadIndex, true), "thread/msg/acme/good@example.test"); n != 1 {
		t.Errorf("thread index holds %d entries of the good message, expected 1", n)
	}
}

// A reply fetched in the same batch as the message it replies to joins
// that message's ticket, even when its partition comes first: the batch
// is processed oldest record first.
func TestRunnerReplyInSameBatchJoins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	cfg := threadConfig(t, brokers)

	orig := mailFrom("orig", "alice@customer.test", "Invoice")
	reply := mailFrom("reply", "alice@customer.test", "Re: Invoice", "orig")
	ends := produceInbound(ctx, t, brokers, emailRecord(t, orig, 2), emailRecord(t, reply, 0))
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	origRef := processors.TicketRef("acme", orig.MessageID)
	if got := ticketsByMessage(ctx, t, brokers)[reply.MessageID]; got.Action != "append" || got.TicketRef != origRef {
		t.Errorf("reply: action %q ref %q (%s), expected append to %s", got.Action, got.TicketRef, got.Reason.Detail, origRef)
	}
}
