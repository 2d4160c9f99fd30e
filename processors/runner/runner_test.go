package runner

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// emails returns n distinct messages over two tenants, keyed so that they
// spread over the input partitions.
func emails(t *testing.T, n int) []inbound {
	var out []inbound
	for i := range n {
		tenant := []string{"acme", "globex"}[i%2]
		out = append(out, emailRecord(t, testEmail(tenant, fmt.Sprintf("m%03d", i), fmt.Sprintf("subject %d", i)), -1))
	}
	return out
}

func expectOncePerMessage(t *testing.T, tickets []schemas.TicketCommand, in []inbound) {
	t.Helper()
	counts := countIDs(tickets, func(c schemas.TicketCommand) string { return c.EventID })
	for _, rec := range in {
		id := "ticket/" + rec.email.Key()
		if counts[id] != 1 {
			t.Errorf("ticket %s appears %d times, expected exactly once", id, counts[id])
		}
	}
	if len(tickets) != len(in) {
		t.Errorf("read %d ticket commands, expected %d", len(tickets), len(in))
	}
}

func TestRunnerExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	in := emails(t, 30)
	ends := produceInbound(ctx, t, brokers, in...)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v, expected nil after cancel", err)
	}

	expectOncePerMessage(t, decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)), in)
	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	if len(decisions) != len(in) {
		t.Errorf("read %d decision events, expected %d", len(decisions), len(in))
	}
	for id, n := range countIDs(decisions, func(d schemas.DecisionEvent) string { return d.EventID }) {
		if n != 1 {
			t.Errorf("decision %s appears %d times, expected once", id, n)
		}
	}
	if dlq := readTopic(ctx, t, brokers, topics.DLQ, true); len(dlq) != 0 {
		t.Errorf("DLQ holds %d records, expected none", len(dlq))
	}

	st := rr.Stats()
	if st.RecordsIn != 30 {
		t.Errorf("Stats.RecordsIn = %d, expected 30", st.RecordsIn)
	}
	if st.Outputs != 60 {
		t.Errorf("Stats.Outputs = %d, expected 60 (a ticket and a decision per message)", st.Outputs)
	}
	if st.Duplicates != 0 || st.DeadLetters != 0 {
		t.Errorf("Stats = %+v, expected no duplicates and no dead letters", st)
	}
	if st.Commits < 5 {
		t.Errorf("Stats.Commits = %d, expected at least 5 with 30 records and 7 records per poll", st.Commits)
	}

	// Every message left one dedupe fingerprint in the changelog.
	fingerprints := readTopic(ctx, t, brokers, topics.DedupeChangelog, true)
	if len(fingerprints) != 30 {
		t.Errorf("changelog holds %d records, expected 30", len(fingerprints))
	}
	for _, r := range fingerprints {
		if r.Value == nil {
			t.Errorf("changelog record %q is a tombstone, expected a dedupe entry", r.Key)
		}
	}
}

var errCrash = errors.New("simulated crash")

func TestRunnerCrashAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	in := emails(t, 40)
	ends := produceInbound(ctx, t, brokers, in...)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	cfg.MaxPollRecords = 5
	first := newRunner(t, cfg)
	processed := 0
	first.afterRecord = func(processors.Position) error {
		processed++
		if processed < 17 {
			return nil
		}
		// Give the producer time to send the batch's records so far, so
		// the open transaction holds data when the process dies.
		time.Sleep(300 * time.Millisecond)
		return errCrash
	}
	rr := startRunner(ctx, t, first)
	select {
	case err := <-rr.done:
		if !errors.Is(err, errCrash) {
			t.Fatalf("first Run returned %v, expected the simulated crash", err)
		}
		rr.done <- err
	case <-ctx.Done():
		t.Fatal("first runner did not reach the crash")
	}
	first.Close()
	before := first.Stats()
	if before.Commits == 0 || before.RecordsIn >= 17 {
		t.Fatalf("first runner stats %+v: expected some commits and fewer than 17 committed records", before)
	}

	second := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, second, ends)
	if err := second.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}

	expectOncePerMessage(t, decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)), in)
	if got := second.Stats().RecordsIn; got != 40-before.RecordsIn {
		t.Errorf("second runner processed %d records, expected the %d the first did not commit", got, 40-before.RecordsIn)
	}
	if n := len(readTopic(ctx, t, brokers, topics.Analytics, true)); n != 40 {
		t.Errorf("read_committed analytics holds %d records, expected 40", n)
	}
	// The crashed transaction did write records; read_committed hid them.
	if n := len(readTopic(ctx, t, brokers, topics.Tickets, false)); n <= 40 {
		t.Errorf("read_uncommitted tickets holds %d records, expected more than 40 including the aborted ones", n)
	}
}

func TestRunnerDuplicateAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	in := emails(t, 4)
	ends := produceInbound(ctx, t, brokers, append(in, in[0])...)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	first := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, first, ends)
	if err := first.stop(); err != nil {
		t.Fatalf("first Run returned %v", err)
	}
	if got := first.Stats().Duplicates; got != 1 {
		t.Errorf("first runner counted %d duplicates, expected 1", got)
	}

	// The same message again after a restart: only the restored dedupe
	// state can recognize it.
	ends = produceInbound(ctx, t, brokers, in[1])
	second := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, second, ends)
	if err := second.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}
	if st := second.Stats(); st.Duplicates != 1 || st.RecordsIn != 1 {
		t.Errorf("second runner stats %+v, expected 1 record, 1 duplicate", st)
	}

	expectOncePerMessage(t, decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)), in)
	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	dups := map[string]int{}
	for _, d := range decisions {
		if d.Duplicate {
			dups[d.MessageID]++
		}
	}
	if len(decisions) != 6 {
		t.Errorf("read %d decision events, expected 6 (one per input record)", len(decisions))
	}
	if dups[in[0].email.MessageID] != 1 || dups[in[1].email.MessageID] != 1 || len(dups) != 2 {
		t.Errorf("duplicate decisions by message %v, expected one each for %s and %s",
			dups, in[0].email.MessageID, in[1].email.MessageID)
	}
}

func TestRunnerDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)

	good1 := emailRecord(t, testEmail("acme", "good1", "hello"), 0)
	poison := inbound{raw: []byte("not avro"), key: "acme/poison", partition: 0}
	failing := testEmail("acme", "flaky", "boom")
	failing.Headers = []schemas.Header{{Name: "X-Fail", Value: "yes"}}
	bad := emailRecord(t, failing, 0)
	good2 := emailRecord(t, testEmail("acme", "good2", "hello again"), 0)
	// The same message without the header: the failed copy must not have
	// left its fingerprint behind, or this copy would count as a duplicate.
	fixed := emailRecord(t, testEmail("acme", "flaky", "boom"), 0)
	ends := produceInbound(ctx, t, brokers, good1, poison, bad, good2, fixed)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	expectOncePerMessage(t, decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)), []inbound{good1, good2, fixed})

	dlq := readTopic(ctx, t, brokers, topics.DLQ, true)
	if len(dlq) != 2 {
		t.Fatalf("DLQ holds %d records, expected 2", len(dlq))
	}
	want := []struct {
		stage, tenant string
		offset        int64
		in            inbound
	}{
		{StageDecode, "", 1, poison},
		{"classify", "acme", 2, bad},
	}
	for i, w := range want {
		rec := dlq[i]
		var dl schemas.DeadLetter
		if err := schemas.Unmarshal(rec.Value, &dl); err != nil {
			t.Fatalf("decoding dead letter %d: %v", i, err)
		}
		if dl.Stage != w.stage || dl.Tenant != w.tenant || dl.Error == "" {
			t.Errorf("dead letter %d: stage %q tenant %q error %q, expected stage %q tenant %q and an error",
				i, dl.Stage, dl.Tenant, dl.Error, w.stage, w.tenant)
		}
		if dl.SourceTopic != topics.Inbound || dl.SourcePartition != 0 || dl.SourceOffset != w.offset {
			t.Errorf("dead letter %d source %s/%d@%d, expected %s/0@%d", i, dl.SourceTopic, dl.SourcePartition, dl.SourceOffset, topics.Inbound, w.offset)
		}
		if dl.Attempts != 1 {
			t.Errorf("dead letter %d attempts %d, expected 1", i, dl.Attempts)
		}
		if string(dl.Payload) != string(w.in.raw) || string(dl.Key) != w.in.key || string(rec.Key) != w.in.key {
			t.Errorf("dead letter %d carries key %q (record key %q) and %d payload bytes, expected key %q and the %d original bytes",
				i, dl.Key, rec.Key, len(dl.Payload), w.in.key, len(w.in.raw))
		}
		if dl.EventID != deadLetterID(topics.Inbound, 0, w.offset) {
			t.Errorf("dead letter %d event ID %q, expected the one derived from its position", i, dl.EventID)
		}
		headers := map[string]string{}
		for _, h := range rec.Headers {
			headers[h.Key] = string(h.Value)
		}
		if headers[HeaderStage] != w.stage || headers[HeaderSourceOffset] != fmt.Sprint(w.offset) ||
			headers[HeaderSourceTopic] != topics.Inbound || headers[HeaderSourcePartition] != "0" ||
			headers[HeaderError] != dl.Error || headers[HeaderAttempts] != "1" || headers[HeaderTenant] != w.tenant {
			t.Errorf("dead letter %d headers %v do not repeat its context", i, headers)
		}
	}

	st := rr.Stats()
	if st.DeadLetters != 2 || st.RecordsIn != 5 || st.Duplicates != 0 {
		t.Errorf("Stats %+v, expected 5 records, 2 dead letters, no duplicates", st)
	}
}

func TestRunnerReplayAfterOffsetReset(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	in := emails(t, 10)
	ends := produceInbound(ctx, t, brokers, in...)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	first := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, first, ends)
	if err := first.stop(); err != nil {
		t.Fatalf("first Run returned %v", err)
	}
	firstDecisions := countIDs(decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true)),
		func(d schemas.DecisionEvent) string { return d.EventID })

	// Reset the group to the earliest offsets as an operator would.
	adm := newAdmin(t, brokers)
	starts, err := adm.ListStartOffsets(ctx, topics.Inbound)
	if err != nil {
		t.Fatalf("listing start offsets: %v", err)
	}
	resp, err := adm.CommitOffsets(ctx, testGroup, starts.Offsets())
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("resetting offsets: %v", err)
	}

	second := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, second, ends)
	if err := second.stop(); err != nil {
		t.Fatalf("second Run returned %v", err)
	}
	if st := second.Stats(); st.RecordsIn != 10 || st.Duplicates != 0 {
		t.Errorf("replay stats %+v, expected 10 records and no duplicates", st)
	}

	tickets := countIDs(decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)),
		func(c schemas.TicketCommand) string { return c.EventID })
	if len(tickets) != 10 {
		t.Errorf("tickets carry %d distinct event IDs, expected the 10 of the first run", len(tickets))
	}
	for id, n := range tickets {
		if n != 2 {
			t.Errorf("ticket %s appears %d times, expected twice (run and replay)", id, n)
		}
	}
	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	for _, d := range decisions {
		if d.Duplicate {
			t.Errorf("decision %s of the replay is marked duplicate", d.EventID)
		}
		if firstDecisions[d.EventID] != 1 {
			t.Errorf("decision %s of the replay has an event ID the first run did not produce", d.EventID)
		}
	}
	if len(decisions) != 20 {
		t.Errorf("read %d decisions, expected 20", len(decisions))
	}
}

func TestRunnerOversizedOutputGoesToDLQ(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)
	small := emailRecord(t, testEmail("acme", "small", "hello"), 0)
	huge := emailRecord(t, testEmail("acme", "huge", "huge"), 0)
	after := emailRecord(t, testEmail("acme", "after", "hello"), 0)
	ends := produceInbound(ctx, t, brokers, small, huge, after)

	cfg := testConfig(brokers)
	cfg.Chain = testChain(t)
	cfg.ClientOpts = append(cfg.ClientOpts, kgo.ProducerBatchMaxBytes(16<<10))
	cfg.Outputs = func(m *processors.Message, now time.Time) []processors.Output {
		outs := testOutputs(m, now)
		if m.Email.Subject == "huge" {
			big := make([]byte, 64<<10)
			for i := range big {
				big[i] = 'x'
			}
			outs[0].Value.(*schemas.DecisionEvent).Subject = string(big)
		}
		return outs
	}
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	expectOncePerMessage(t, decodeTickets(t, readTopic(ctx, t, brokers, topics.Tickets, true)), []inbound{small, after})
	dlq := readTopic(ctx, t, brokers, topics.DLQ, true)
	if len(dlq) != 1 {
		t.Fatalf("DLQ holds %d records, expected 1", len(dlq))
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(dlq[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Stage != StageProduce || dl.SourceOffset != 1 || string(dl.Payload) != string(huge.raw) {
		t.Errorf("dead letter stage %q offset %d, %d payload bytes; expected %q, 1 and the original record",
			dl.Stage, dl.SourceOffset, len(dl.Payload), StageProduce)
	}
	if st := rr.Stats(); st.Aborts < 1 || st.DeadLetters != 1 {
		t.Errorf("Stats %+v, expected an abort and 1 dead letter", st)
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	valid := testConfig([]string{"127.0.0.1:1"})
	valid.Chain = processors.Chain{classifier{}}
	cases := []struct {
		name   string
		change func(*Config)
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }},
		{"empty broker", func(c *Config) { c.Brokers = []string{""} }},
		{"no group", func(c *Config) { c.Group = "" }},
		{"no transactional ID", func(c *Config) { c.TransactionalID = "" }},
		{"no input topic", func(c *Config) { c.InputTopic = "" }},
		{"no chain", func(c *Config) { c.Chain = nil }},
		{"nil processor", func(c *Config) { c.Chain = processors.Chain{nil} }},
		{"no outputs", func(c *Config) { c.Outputs = nil }},
		{"negative poll size", func(c *Config) { c.MaxPollRecords = -1 }},
		{"changelog is input", func(c *Config) { c.ChangelogTopic = c.InputTopic }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.change(&cfg)
			if r, err := New(cfg); err == nil {
				r.Close()
				t.Error("New accepted the config, expected an error")
			}
		})
	}

	r, err := New(valid)
	if err != nil {
		t.Fatalf("New rejected a valid config: %v", err)
	}
	r.Close()
	r.Close() // Close is idempotent
}

// TestRestoreContextEndsOnClose checks that a restore's context ends when
// the runner closes, although the rebalance callback's context lives on.
func TestRestoreContextEndsOnClose(t *testing.T) {
	closing, closeRunner := context.WithCancel(context.Background())
	ctx, cancel := restoreContext(context.Background(), closing, time.Hour)
	defer cancel()
	if err := ctx.Err(); err != nil {
		t.Fatalf("restore context ended before Close: %v", err)
	}
	closeRunner()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("restore context still live 5s after Close, expected it to end at once")
	}

	ctx, cancel = restoreContext(context.Background(), context.Background(), 10*time.Millisecond)
	defer cancel()
	select {
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("restore context ended with %v, expected the timeout", ctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("restore context still live 5s after its 10ms timeout")
	}
}
