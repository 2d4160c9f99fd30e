package smtpsink

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/topics"
)

func TestSinkSendsOnePerCommand(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cmds := []struct{ i int }{{1}, {2}, {3}}
	for _, c := range cmds {
		produceCommands(t, brokers, testCommand(c.i, "customer"+string(rune('0'+c.i))+"@customer.test"))
	}

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "three sends", func() bool { return s.Stats().Sent == 3 })
	stop()

	got := relay.delivered()
	if len(got) != 3 {
		t.Fatalf("relay got %d messages, expected 3", len(got))
	}
	pool := newPool(t, dsn)
	for _, c := range cmds {
		cmd := testCommand(c.i, "customer"+string(rune('0'+c.i))+"@customer.test")
		row, ok := readLedger(t, pool, cmd.EventID)
		if !ok || row.state != StateSent || row.attempts != 1 {
			t.Errorf("ledger row of %s = %+v (found %v), expected sent after 1 attempt", cmd.EventID, row, ok)
		}
		if ref, ok := processors.TicketRefFromMessageID(row.msgID); !ok || ref != cmd.TicketRef {
			t.Errorf("ledger Message-ID %q carries %q, expected %s", row.msgID, ref, cmd.TicketRef)
		}
	}

	msg := got[0]
	if msg.mailFrom != "" {
		t.Errorf("MAIL FROM = %q, expected the null reverse-path", msg.mailFrom)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(msg.data))
	if err != nil {
		t.Fatalf("parsing the sent message: %v", err)
	}
	checks := map[string]string{
		"Auto-Submitted":               "auto-replied",
		"X-Auto-Response-Suppress":     "All",
		processors.AutoReplyLoopHeader: "acme",
	}
	for name, want := range checks {
		if got := env.GetHeader(name); got != want {
			t.Errorf("header %s = %q, expected %q", name, got, want)
		}
	}
	ref, ok := processors.TicketRefFromMessageID(env.GetHeader("Message-ID"))
	if !ok {
		t.Fatalf("Message-ID %q is not one the sink mints", env.GetHeader("Message-ID"))
	}
	inReplyTo := env.GetHeader("In-Reply-To")
	if want := "<inbound-" + ref + "@mail.customer.test>"; inReplyTo != want {
		t.Errorf("In-Reply-To = %q, expected %q", inReplyTo, want)
	}
	if refs := env.GetHeader("References"); refs != inReplyTo {
		t.Errorf("References = %q, expected %q", refs, inReplyTo)
	}
	if subject := env.GetHeader("Subject"); !strings.HasPrefix(subject, "[#"+ref+"] Re: ") {
		t.Errorf("Subject = %q, expected [#%s] Re: and the original subject", subject, ref)
	}
	if !strings.HasPrefix(env.Root.ContentType, "multipart/alternative") {
		t.Errorf("Content-Type = %q, expected multipart/alternative", env.Root.ContentType)
	}
	if !strings.Contains(env.Text, ref) || !strings.Contains(env.HTML, "<strong>"+ref+"</strong>") {
		t.Errorf("text or HTML part lacks the ticket reference %s:\n%s\n%s", ref, env.Text, env.HTML)
	}
}

func TestSinkReplayNotResent(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cmd := testCommand(1, "ana@customer.test")
	// The same command twice on the topic, as a processor replay writes it.
	produceCommands(t, brokers, cmd, cmd)

	cfg := testConfig(t, brokers, dsn, relay.addr)
	s, stop := runSink(t, cfg)
	waitFor(t, "one send and one replay", func() bool { st := s.Stats(); return st.Sent == 1 && st.Replayed == 1 })
	stop()

	// An operator resets the offsets: the sink reads both records again.
	pool := newPool(t, dsn)
	if _, err := pool.Exec(context.Background(), `DELETE FROM consumer_offsets WHERE consumer_group = $1`, cfg.Group); err != nil {
		t.Fatalf("resetting the stored offsets: %v", err)
	}
	s2, stop2 := runSink(t, cfg)
	waitFor(t, "two replays", func() bool { return s2.Stats().Replayed == 2 })
	stop2()

	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay got %d messages, expected 1", n)
	}
	if st := s2.Stats(); st.Sent != 0 {
		t.Errorf("second run sent %d, expected 0", st.Sent)
	}
}

func TestSinkRateLimitPerRecipient(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	first, second := testCommand(1, "ana@customer.test"), testCommand(2, "ANA@customer.test")
	other := testCommand(3, "ben@customer.test")
	produceCommands(t, brokers, first, second, other)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "two sends and one suppression", func() bool { st := s.Stats(); return st.Sent == 2 && st.Suppressed == 1 })
	stop()

	pool := newPool(t, dsn)
	row, _ := readLedger(t, pool, second.EventID)
	if row.state != StateSuppressed || row.reason != SuppressRateLimitRecipient {
		t.Errorf("second command's row = %+v, expected suppressed by %s", row, SuppressRateLimitRecipient)
	}
	var toAna int
	for _, m := range relay.delivered() {
		if strings.EqualFold(m.rcptTo[0], "ana@customer.test") {
			toAna++
		}
	}
	if toAna != 1 {
		t.Errorf("ana got %d replies, expected 1", toAna)
	}
}

func TestSinkTenantCap(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	produceCommands(t, brokers, testCommand(1, "a@customer.test"), testCommand(2, "b@customer.test"), testCommand(3, "c@customer.test"))

	cfg := testConfig(t, brokers, dsn, relay.addr)
	cfg.Limits.PerTenant = []Limit{{Max: 2, Window: time.Hour}}
	s, stop := runSink(t, cfg)
	waitFor(t, "two sends and one suppression", func() bool { st := s.Stats(); return st.Sent == 2 && st.Suppressed == 1 })
	stop()

	pool := newPool(t, dsn)
	var reason string
	if err := pool.QueryRow(context.Background(), `SELECT reason FROM autoreply_deliveries WHERE state = 'suppressed'`).Scan(&reason); err != nil {
		t.Fatalf("reading the suppressed row: %v", err)
	}
	if reason != SuppressRateLimitTenant {
		t.Errorf("reason = %q, expected %s", reason, SuppressRateLimitTenant)
	}
}

func TestSinkSuppressionList(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cfg := testConfig(t, brokers, dsn, relay.addr)

	// The first run creates the tables; the list entry is added after.
	s, stop := runSink(t, cfg)
	waitFor(t, "the sink to start", func() bool { return s.client != nil })
	pool := newPool(t, dsn)
	if err := Suppress(context.Background(), pool, "acme", " <Ana@Customer.test> ", "asked to stop"); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	listed, allTenants := testCommand(1, "ana@customer.test"), testCommand(2, "ops@blocked.test")
	if err := Suppress(context.Background(), pool, AllTenants, "ops@blocked.test", "abuse"); err != nil {
		t.Fatalf("Suppress for all tenants: %v", err)
	}
	produceCommands(t, brokers, listed, allTenants, testCommand(3, "ben@customer.test"))
	waitFor(t, "one send and two suppressions", func() bool { st := s.Stats(); return st.Sent == 1 && st.Suppressed == 2 })
	stop()

	for _, cmd := range []string{listed.EventID, allTenants.EventID} {
		row, _ := readLedger(t, pool, cmd)
		if row.state != StateSuppressed || row.reason != SuppressListed {
			t.Errorf("row of %s = %+v, expected suppressed by %s", cmd, row, SuppressListed)
		}
	}
	if got := relay.delivered(); len(got) != 1 || got[0].rcptTo[0] != "ben@customer.test" {
		t.Errorf("relay got %d messages, expected only ben's", len(got))
	}
}

func TestSinkRetriesTemporaryFailure(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	relay.tempFails = 2
	cmd := testCommand(1, "ana@customer.test")
	produceCommands(t, brokers, cmd)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "the send", func() bool { return s.Stats().Sent == 1 })
	stop()

	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay accepted %d messages, expected 1", n)
	}
	if st := s.Stats(); st.Retries != 2 {
		t.Errorf("Retries = %d, expected 2", st.Retries)
	}
	row, _ := readLedger(t, newPool(t, dsn), cmd.EventID)
	if row.state != StateSent || row.attempts != 3 {
		t.Errorf("ledger row = %+v, expected sent after 3 attempts", row)
	}
}

func TestSinkPermanentRejectDeadLetters(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	relay.reject = true
	cmd := testCommand(1, "ana@customer.test")
	produceCommands(t, brokers, cmd)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "the dead letter", func() bool { return s.Stats().DeadLettered == 1 })
	stop()

	row, _ := readLedger(t, newPool(t, dsn), cmd.EventID)
	if row.state != StateFailed || row.attempts != 1 || !strings.Contains(row.reason, "550") {
		t.Errorf("ledger row = %+v, expected failed after 1 attempt with the 550 reply", row)
	}
	if n := relay.sessionCount(); n != 1 {
		t.Errorf("relay saw %d sessions, expected 1: a 5xx is not retried", n)
	}
	checkDeadLetter(t, brokers, "550")
}

func TestSinkRelayDownDeadLetters(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	down := closedPort(t)
	relayless := testConfig(t, brokers, dsn, down)
	cmd := testCommand(1, "ana@customer.test")
	produceCommands(t, brokers, cmd)

	s, stop := runSink(t, relayless)
	waitFor(t, "the dead letter", func() bool { return s.Stats().DeadLettered == 1 })
	stop()

	if st := s.Stats(); st.Retries != 2 || st.Failed != 1 {
		t.Errorf("Retries %d, Failed %d; expected 2 retries and 1 failure", st.Retries, st.Failed)
	}
	row, _ := readLedger(t, newPool(t, dsn), cmd.EventID)
	if row.state != StateFailed || row.attempts != 3 {
		t.Errorf("ledger row = %+v, expected failed after 3 attempts", row)
	}
	checkDeadLetter(t, brokers, "connecting to the relay")
}

// closedPort returns a loopback address where nothing listens: a port
// that was free a moment ago.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("closing the port: %v", err)
	}
	return addr
}

// checkDeadLetter reads the DLQ topic and checks that it holds one dead
// letter of this sink whose error contains want.
func checkDeadLetter(t *testing.T, brokers []string, want string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.DLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("creating the DLQ consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetches := cl.PollFetches(ctx)
	records := fetches.Records()
	if len(records) != 1 {
		t.Fatalf("DLQ holds %d records, expected 1", len(records))
	}
	headers := map[string]string{}
	for _, h := range records[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers[runner.HeaderStage] != Stage || !strings.Contains(headers[runner.HeaderError], want) {
		t.Errorf("dead letter stage %q error %q, expected %s and an error containing %q",
			headers[runner.HeaderStage], headers[runner.HeaderError], Stage, want)
	}
}
