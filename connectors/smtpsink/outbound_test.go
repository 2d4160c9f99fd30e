package smtpsink

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// startKafkaOutbound starts an in-process kfake broker with the
// auto-reply, outbound and dead-letter topics.
func startKafkaOutbound(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics.AutoReplies, topics.Outbound, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// testAgentReply returns an agent reply on the ticket of testCommand(i),
// to recipient, with a Message-ID minted as the ticket API mints it.
func testAgentReply(t *testing.T, i int, recipient string) schemas.OutboundMessage {
	t.Helper()
	ref := testCommand(i, recipient).TicketRef
	messageID, err := processors.NewMessageID(ref, "acme.test")
	if err != nil {
		t.Fatalf("NewMessageID: %v", err)
	}
	return schemas.OutboundMessage{
		EventID:   "reply-" + ref + "-" + recipient,
		Tenant:    "acme",
		Kind:      schemas.OutboundKindAgentReply,
		TicketRef: ref,
		MessageID: messageID,
		To:        schemas.Address{Name: "Ana Lima", Address: recipient},
		Subject:   "Re: [#" + ref + "] Question about my order",
		Text:      "Your order ships today.",
		HTML:      "<p>Your order ships today.</p>",
		InReplyTo: "second-" + ref + "@mail.customer.test",
		References: []string{
			"inbound-" + ref + "@mail.customer.test",
			"second-" + ref + "@mail.customer.test",
		},
		Actor:     "agent:maria",
		CreatedAt: time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC),
	}
}

// produceOutbound writes the agent replies to the outbound topic under
// their keys.
func produceOutbound(t *testing.T, brokers []string, msgs ...schemas.OutboundMessage) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	for i := range msgs {
		value, err := schemas.Marshal(&msgs[i])
		if err != nil {
			t.Fatalf("encoding %s: %v", msgs[i].EventID, err)
		}
		rec := &kgo.Record{Topic: topics.Outbound, Key: []byte(msgs[i].Key()), Value: value}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatalf("producing %s: %v", msgs[i].EventID, err)
		}
	}
}

// readKind returns the kind column of the ledger row of eventID.
func readKind(t *testing.T, dsn, eventID string) string {
	t.Helper()
	var kind string
	err := newPool(t, dsn).QueryRow(context.Background(), `SELECT kind FROM autoreply_deliveries WHERE event_id = $1`, eventID).Scan(&kind)
	if err != nil {
		t.Fatalf("reading the kind of %s: %v", eventID, err)
	}
	return kind
}

func TestAgentReplyHeaders(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	msg := testAgentReply(t, 1, "ana@customer.test")
	produceOutbound(t, brokers, msg)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "one send", func() bool { return s.Stats().Sent == 1 })
	stop()

	got := relay.delivered()
	if len(got) != 1 {
		t.Fatalf("relay got %d messages, expected 1", len(got))
	}
	if got[0].mailFrom != "support@acme.test" {
		t.Errorf("MAIL FROM = %q, expected the tenant's address support@acme.test", got[0].mailFrom)
	}
	if len(got[0].rcptTo) != 1 || got[0].rcptTo[0] != "ana@customer.test" {
		t.Errorf("RCPT TO = %v, expected [ana@customer.test]", got[0].rcptTo)
	}

	env, err := enmime.ReadEnvelope(bytes.NewReader(got[0].data))
	if err != nil {
		t.Fatalf("parsing the sent message: %v", err)
	}
	want := map[string]string{
		"Message-ID":                   "<" + msg.MessageID + ">",
		"Subject":                      msg.Subject,
		"In-Reply-To":                  "<second-" + msg.TicketRef + "@mail.customer.test>",
		"References":                   "<inbound-" + msg.TicketRef + "@mail.customer.test> <second-" + msg.TicketRef + "@mail.customer.test>",
		"From":                         `"Acme Support" <support@acme.test>`,
		processors.AutoReplyLoopHeader: "acme",
		"Auto-Submitted":               "",
		"X-Auto-Response-Suppress":     "",
	}
	for name, value := range want {
		if got := env.GetHeader(name); got != value {
			t.Errorf("header %s = %q, expected %q", name, got, value)
		}
	}
	if date, err := env.Date(); err != nil || !date.Equal(msg.CreatedAt) {
		t.Errorf("Date = %v (error %v), expected %v", date, err, msg.CreatedAt)
	}
	if !strings.HasPrefix(env.Root.ContentType, "multipart/alternative") {
		t.Errorf("Content-Type = %q, expected multipart/alternative", env.Root.ContentType)
	}
	if strings.TrimSpace(env.Text) != msg.Text {
		t.Errorf("text part = %q, expected %q", env.Text, msg.Text)
	}
	if !strings.Contains(env.HTML, msg.HTML) {
		t.Errorf("HTML part = %q, expected it to contain %q", env.HTML, msg.HTML)
	}

	row, ok := readLedger(t, newPool(t, dsn), msg.EventID)
	if !ok || row.state != StateSent || row.attempts != 1 || row.msgID != msg.MessageID {
		t.Errorf("ledger row = %+v (found %v), expected sent after 1 attempt with Message-ID %s", row, ok, msg.MessageID)
	}
	if kind := readKind(t, dsn, msg.EventID); kind != schemas.OutboundKindAgentReply {
		t.Errorf("ledger kind = %q, expected %q", kind, schemas.OutboundKindAgentReply)
	}
}

func TestAgentReplyTextOnly(t *testing.T) {
	msg := testAgentReply(t, 2, "ana@customer.test")
	msg.HTML = ""
	out, err := BuildAgentReply(&msg, testConfig(t, []string{"127.0.0.1:1"}, "postgres://x", "127.0.0.1:1").From, time.Now())
	if err != nil {
		t.Fatalf("BuildAgentReply: %v", err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(out.Data))
	if err != nil {
		t.Fatalf("parsing the message: %v", err)
	}
	if !strings.HasPrefix(env.Root.ContentType, "text/plain") {
		t.Errorf("Content-Type = %q, expected text/plain without HTML", env.Root.ContentType)
	}
}

func TestAgentReplyInvalidInput(t *testing.T) {
	from := testConfig(t, []string{"127.0.0.1:1"}, "postgres://x", "127.0.0.1:1").From
	cases := []struct {
		name   string
		change func(*schemas.OutboundMessage)
		want   string
	}{
		{"bad message id", func(m *schemas.OutboundMessage) { m.MessageID = "has space@x" }, "invalid messageId"},
		{"empty subject", func(m *schemas.OutboundMessage) { m.Subject = " " }, "empty subject"},
		{"no body", func(m *schemas.OutboundMessage) { m.Text, m.HTML = "", "" }, "neither text nor HTML"},
		{"bad recipient", func(m *schemas.OutboundMessage) { m.To.Address = "not an address" }, "invalid recipient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := testAgentReply(t, 3, "ana@customer.test")
			c.change(&msg)
			_, err := BuildAgentReply(&msg, from, time.Now())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("BuildAgentReply error = %v, expected one containing %q", err, c.want)
			}
		})
	}
}

func TestAgentReplyReplayNotResent(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	msg := testAgentReply(t, 4, "ana@customer.test")
	// The ticket API's outbox relay sends a record again after a crash
	// between the produce and the delete, with the same event ID.
	produceOutbound(t, brokers, msg, msg)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "one send and one replay", func() bool {
		st := s.Stats()
		return st.Sent == 1 && st.Replayed == 1
	})
	stop()
	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay got %d messages, expected 1", n)
	}

	// A replay from offset 0 by a new run sends nothing either.
	pool := newPool(t, dsn)
	if _, err := pool.Exec(context.Background(), `DELETE FROM consumer_offsets WHERE topic = $1`, topics.Outbound); err != nil {
		t.Fatalf("resetting the stored offsets: %v", err)
	}
	s2, stop2 := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "two replays", func() bool { return s2.Stats().Replayed == 2 })
	stop2()
	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay got %d messages after the replay, expected 1", n)
	}
	if st := s2.Stats(); st.Sent != 0 {
		t.Errorf("replaying run sent %d messages, expected 0", st.Sent)
	}
}

func TestAgentReplyRetriedAfter4xx(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	relay.tempFails = 1
	msg := testAgentReply(t, 5, "ana@customer.test")
	produceOutbound(t, brokers, msg)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "one send", func() bool { return s.Stats().Sent == 1 })
	stop()

	if n := len(relay.delivered()); n != 1 {
		t.Errorf("relay got %d messages, expected 1", n)
	}
	if st := s.Stats(); st.Retries != 1 {
		t.Errorf("retries = %d, expected 1", st.Retries)
	}
	row, ok := readLedger(t, newPool(t, dsn), msg.EventID)
	if !ok || row.state != StateSent || row.attempts != 2 {
		t.Errorf("ledger row = %+v (found %v), expected sent after 2 attempts", row, ok)
	}
}

func TestAgentReplyPermanentFailureGoesToDLQ(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	relay.reject = true
	msg := testAgentReply(t, 6, "ana@customer.test")
	produceOutbound(t, brokers, msg)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "one dead letter", func() bool { return s.Stats().DeadLettered == 1 })
	stop()

	row, ok := readLedger(t, newPool(t, dsn), msg.EventID)
	if !ok || row.state != StateFailed || row.attempts != 1 {
		t.Errorf("ledger row = %+v (found %v), expected failed after 1 attempt", row, ok)
	}
	if n := len(relay.delivered()); n != 0 {
		t.Errorf("relay accepted %d messages, expected 0", n)
	}
}

func TestAgentReplyAndAckBothSent(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))

	// Acknowledgement first: the ticket and recipient limits (one per hour
	// and one per day) are used up, and the agent reply still goes out.
	ack := testCommand(7, "ana@customer.test")
	produceCommands(t, brokers, ack)
	waitFor(t, "the acknowledgement", func() bool { return s.Stats().Sent == 1 })
	reply := testAgentReply(t, 7, "ana@customer.test")
	produceOutbound(t, brokers, reply)
	waitFor(t, "the agent reply", func() bool { return s.Stats().Sent == 2 })

	// Agent reply first: it uses up no limit, so the acknowledgement of
	// another ticket of another recipient still goes out.
	reply2 := testAgentReply(t, 8, "bea@customer.test")
	produceOutbound(t, brokers, reply2)
	waitFor(t, "the second agent reply", func() bool { return s.Stats().Sent == 3 })
	ack2 := testCommand(8, "bea@customer.test")
	produceCommands(t, brokers, ack2)
	waitFor(t, "the second acknowledgement", func() bool { return s.Stats().Sent+s.Stats().Suppressed == 4 })
	stop()

	if st := s.Stats(); st.Sent != 4 || st.Suppressed != 0 {
		t.Errorf("stats = %+v, expected 4 sent and 0 suppressed", st)
	}
	if n := len(relay.delivered()); n != 4 {
		t.Errorf("relay got %d messages, expected 4", n)
	}
	pool := newPool(t, dsn)
	for _, id := range []string{ack.EventID, reply.EventID, reply2.EventID, ack2.EventID} {
		if row, ok := readLedger(t, pool, id); !ok || row.state != StateSent {
			t.Errorf("ledger row of %s = %+v (found %v), expected sent", id, row, ok)
		}
	}
}

func TestAgentReplyLeftSendingNotResent(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafkaOutbound(t)
	relay := startRelay(t)
	msg := testAgentReply(t, 9, "ana@customer.test")

	// A first run creates the tables. The row inserted after it is what a
	// run killed between its claim and the relay's reply leaves behind.
	_, stopFirst := runSink(t, testConfig(t, brokers, dsn, "127.0.0.1:1"))
	pool := newPool(t, dsn)
	waitFor(t, "the tables", func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n)
		return err == nil && n > 0
	})
	stopFirst()
	_, err := pool.Exec(context.Background(), `INSERT INTO autoreply_deliveries
		(event_id, kind, tenant, ticket_ref, recipient_hash, state, message_id, source_partition, source_offset, created_at, updated_at)
		VALUES ($1, 'agent_reply', 'acme', $2, '', 'sending', $3, 0, 0, now(), now())`, msg.EventID, msg.TicketRef, msg.MessageID)
	if err != nil {
		t.Fatalf("inserting the sending row: %v", err)
	}
	produceOutbound(t, brokers, msg)

	s, stop := runSink(t, testConfig(t, brokers, dsn, relay.addr))
	waitFor(t, "the replayed record", func() bool { return s.Stats().Replayed == 1 })
	stop()

	if n := len(relay.delivered()); n != 0 {
		t.Errorf("relay got %d messages, expected 0 for a reply left sending", n)
	}
	if st := s.Stats(); st.Unknown != 1 {
		t.Errorf("unknown = %d, expected 1 from start-up recovery", st.Unknown)
	}
	if row, ok := readLedger(t, pool, msg.EventID); !ok || row.state != StateUnknown {
		t.Errorf("ledger row = %+v (found %v), expected unknown", row, ok)
	}
}
