package e2e

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// conversationWait bounds each wait of the conversation test for one
// step of the pipeline: an acknowledgement at the relay, a row in
// PostgreSQL, the SMTP sink catching up.
const conversationWait = 90 * time.Second

// What the In-Reply-To header of a reply names.
const (
	inReplyToNone  = ""
	inReplyToAck   = "ack"   // our acknowledgement's Message-ID, which carries the reference
	inReplyToFirst = "first" // the customer's first message, which only the thread index records
)

// replyVariant is one way a customer's reply points at its ticket.
type replyVariant struct {
	name            string
	subjectRef      bool   // "Re: [#T-…] subject" instead of "Re: subject"
	inReplyTo       string // inReplyToNone, inReplyToAck or inReplyToFirst
	expectedPathHas string // part of the reason detail that names how the ticket was found
}

var replyVariants = []replyVariant{
	{name: "subject and In-Reply-To", subjectRef: true, inReplyTo: inReplyToAck, expectedPathHas: "found by the subject reference"},
	{name: "subject only", subjectRef: true, expectedPathHas: "found by the subject reference"},
	{name: "In-Reply-To only", inReplyTo: inReplyToAck, expectedPathHas: "found by our Message-ID in In-Reply-To"},
	// The thread index path also checks the sender against the ticket's
	// participants, whose digests use the salt of --thread-salt-file.
	{name: "In-Reply-To of the first message", inReplyTo: inReplyToFirst, expectedPathHas: "found by In-Reply-To in the thread index; queue and priority of the ticket"},
}

// conversationStack is every role of one conversation test, running as
// subprocesses of the built binary, and the test's view of them.
type conversationStack struct {
	tenant      string
	domain      string
	brokers     []string
	adm         *kadm.Client
	pool        *pgxpool.Pool
	relay       *ackRelay
	listenAddr  string
	smtpGroup   string
	salt        string
	processor   *processRun
	roles       []*processRun
	analyticsAt kadm.ListedOffsets // end offsets of the analytics topic before the test
}

// TestConversationOnStack runs the SMTP listener, the processor and the
// PostgreSQL and SMTP sinks as "mailtriage" subprocesses against the
// stack's Kafka and PostgreSQL, with a relay on 127.0.0.1 that the test
// starts. For each reply variant, a customer writes through the listener
// and must get exactly one acknowledgement with RFC 3834 headers and the
// ticket reference. The customer's reply must then join the same ticket
// as its second message and get no acknowledgement.
func TestConversationOnStack(t *testing.T) {
	s := startConversationStack(t)
	for _, v := range replyVariants {
		t.Run(v.name, func(t *testing.T) {
			s.converse(t, v)
		})
	}

	t.Run("totals", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var tickets, messages, ledger int
		err := s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM tickets WHERE tenant = $1),
			(SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.tenant = $1),
			(SELECT count(*) FROM autoreply_deliveries WHERE tenant = $1)`, s.tenant).Scan(&tickets, &messages, &ledger)
		if err != nil {
			t.Fatalf("counting the tenant's rows: %v", err)
		}
		if tickets != len(replyVariants) {
			t.Errorf("%d tickets, expected %d (one per conversation)", tickets, len(replyVariants))
		}
		if messages != 2*len(replyVariants) {
			t.Errorf("%d ticket messages, expected %d (two per conversation)", messages, 2*len(replyVariants))
		}
		if ledger != len(replyVariants) {
			t.Errorf("%d ledger rows, expected %d (the acknowledgements only)", ledger, len(replyVariants))
		}
		if got := len(s.relay.messages()); got != len(replyVariants) {
			t.Errorf("the relay took %d messages, expected %d (one acknowledgement per conversation)", got, len(replyVariants))
		}
	})

	for _, p := range s.roles {
		p.stop(t)
	}
	if strings.Contains(s.processor.logs.String(), s.salt) {
		t.Errorf("the processor's log contains the thread salt, expected it never logged")
	}
}

// startConversationStack prepares the topics, the PostgreSQL schema and
// the relay, and starts every role.
func startConversationStack(t *testing.T) *conversationStack {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	dsn, _ := testSchemaDSN(t)
	bin := buildMailtriage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	s := &conversationStack{
		tenant:    "conv-" + suffix,
		domain:    "help-" + suffix + ".example.test",
		brokers:   brokers,
		adm:       newAdmin(t, brokers),
		pool:      newPool(t, dsn),
		relay:     startAckRelay(t),
		smtpGroup: "e2e-conv-smtp-" + suffix,
		salt:      "salt-" + randomSuffix(t) + randomSuffix(t),
	}
	processorGroup := "e2e-conv-processor-" + suffix
	postgresGroup := "e2e-conv-postgres-" + suffix

	// Every consumer starts at the current end of its topic, so that the
	// records of earlier tests on the shared broker are skipped.
	ensureTopics(ctx, t, s.adm)
	seedGroup(ctx, t, s.adm, processorGroup, endOffsets(ctx, t, s.adm, topics.Inbound))
	if _, err := postgres.Migrate(ctx, s.pool); err != nil {
		t.Fatalf("migrating the test schema: %v", err)
	}
	for group, topic := range map[string]string{postgresGroup: topics.Tickets, s.smtpGroup: topics.AutoReplies} {
		next := map[int32]int64{}
		endOffsets(ctx, t, s.adm, topic).Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
		if err := postgres.SeedOffsets(ctx, s.pool, group, topic, next); err != nil {
			t.Fatalf("seeding the offsets of %s: %v", group, err)
		}
	}
	s.analyticsAt = endOffsets(ctx, t, s.adm, topics.Analytics)

	dir := t.TempDir()
	saltFile := filepath.Join(dir, "thread-salt")
	listenerConfig := filepath.Join(dir, "listener.yaml")
	writeFile(t, saltFile, s.salt+"\n")
	writeFile(t, listenerConfig, fmt.Sprintf("hostname: mx.%s\ndomains:\n  %s: {tenant: %s}\n", s.domain, s.domain, s.tenant))
	rules, err := filepath.Abs(filepath.Join(repoRoot, "config", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	templates, err := filepath.Abs(filepath.Join(repoRoot, "config", "autoreply"))
	if err != nil {
		t.Fatal(err)
	}
	s.listenAddr = freeLoopbackAddr(t)
	kafka := []string{"--brokers", strings.Join(brokers, ",")}

	listener := startProcess(t, "the SMTP listener", bin, append([]string{"smtp",
		"--listen", s.listenAddr, "--config", listenerConfig, "--storage", filepath.Join(dir, "storage"), "--log-level", "WARN"}, kafka...)...)
	s.processor = startProcess(t, "the processor", bin, append([]string{"process",
		"--group", processorGroup, "--transactional-id", processorGroup + "-txn", "--rules", rules,
		"--thread-salt-file", saltFile, "--log-level", "DEBUG"}, kafka...)...)
	ticketSink := startProcess(t, "the PostgreSQL sink", bin, append([]string{"sink", "postgres",
		"--postgres", dsn, "--group", postgresGroup}, kafka...)...)
	smtpSink := startProcess(t, "the SMTP sink", bin, append([]string{"sink", "smtp",
		"--postgres", dsn, "--group", s.smtpGroup, "--relay", s.relay.addr, "--templates", templates,
		"--from", "Support <support@" + s.domain + ">"}, kafka...)...)
	s.roles = []*processRun{listener, s.processor, ticketSink, smtpSink}

	waitFor(ctx, t, "the SMTP listener to accept connections", func() (bool, string) {
		for _, p := range s.roles {
			if done, err := p.exited(); done {
				t.Fatalf("%s exited at start: %v", p.name, err)
			}
		}
		conn, err := net.DialTimeout("tcp", s.listenAddr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
	return s
}

// converse runs one conversation: the first message, its
// acknowledgement, the reply of variant v, and the checks on PostgreSQL,
// the relay and the ledger.
func (s *conversationStack) converse(t *testing.T, v replyVariant) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*conversationWait)
	defer cancel()
	slug := strings.ReplaceAll(strings.ToLower(v.name), " ", "-")
	customer := "ana-" + slug + "@customer.example.test"
	firstID := "first-" + slug + "-" + s.tenant + "@customer.example.test"
	replyID := "reply-" + slug + "-" + s.tenant + "@customer.example.test"
	subject := "Question about my order 4711"
	ref := processors.TicketRef(s.tenant, firstID)

	s.sendMail(t, customer, composeMail(customer, "support@"+s.domain, subject, firstID, nil,
		"Hello, my order 4711 has not arrived yet. Can you check it?"))

	ack := s.relay.waitFor(ctx, t, customer)
	ackID := checkAcknowledgement(t, ack, ref, firstID)
	s.waitForMessages(ctx, t, ref, 1)

	replySubject := "Re: " + subject
	if v.subjectRef {
		replySubject = "Re: " + processors.FormatSubjectRef("", ref) + " " + subject
	}
	var headers []string
	switch v.inReplyTo {
	case inReplyToAck:
		headers = append(headers, "In-Reply-To: <"+ackID+">")
	case inReplyToFirst:
		headers = append(headers, "In-Reply-To: <"+firstID+">")
	}
	s.sendMail(t, customer, composeMail(customer, "support@"+s.domain, replySubject, replyID, headers,
		"The tracking number is 00340434161094042557."))
	s.waitForMessages(ctx, t, ref, 2)
	s.waitForSMTPSink(ctx, t)

	var tickets int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tickets WHERE tenant = $1 AND external_id IN ($2, $3)`,
		s.tenant, firstID, replyID).Scan(&tickets)
	if err != nil {
		t.Fatalf("counting the tickets: %v", err)
	}
	if tickets != 1 {
		t.Errorf("%d tickets opened by the first message or the reply, expected 1", tickets)
	}
	if got, want := s.messageIDs(ctx, t, ref), []string{firstID, replyID}; !slices.Equal(got, want) {
		t.Errorf("ticket %s holds messages %v, expected %v", ref, got, want)
	}

	if n := s.relay.count(customer); n != 1 {
		t.Errorf("the relay took %d messages for the customer, expected 1: a follow-up gets no acknowledgement", n)
	}
	var ledger int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM autoreply_deliveries WHERE tenant = $1 AND ticket_ref = $2 AND state = 'sent'`,
		s.tenant, ref).Scan(&ledger); err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	if ledger != 1 {
		t.Errorf("%d sent ledger rows for ticket %s, expected 1", ledger, ref)
	}

	decision := s.decision(ctx, t, replyID)
	if decision.TicketRef != ref || !strings.Contains(decision.Reason.Detail, v.expectedPathHas) {
		t.Errorf("the reply's decision has ticket %s and detail %q, expected ticket %s and a detail with %q",
			decision.TicketRef, decision.Reason.Detail, ref, v.expectedPathHas)
	}
	if !slices.Contains(decision.Tags, processors.AutoReplySuppressedTagPrefix+processors.SuppressFollowUp) {
		t.Errorf("the reply's decision has tags %v, expected %s", decision.Tags, processors.AutoReplySuppressedTagPrefix+processors.SuppressFollowUp)
	}
}

// checkAcknowledgement checks the headers of the acknowledgement of
// ticket ref, a reply to message firstID, and returns its Message-ID
// without angle brackets.
func checkAcknowledgement(t *testing.T, ack receivedMail, ref, firstID string) string {
	t.Helper()
	if ack.mailFrom != "" {
		t.Errorf("acknowledgement MAIL FROM = %q, expected the null reverse-path <>", ack.mailFrom)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(ack.data))
	if err != nil {
		t.Fatalf("parsing the acknowledgement: %v", err)
	}
	h := msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatalf("decoding the acknowledgement's subject %q: %v", h.Get("Subject"), err)
	}
	if tag := processors.FormatSubjectRef("", ref); !strings.Contains(subject, tag) {
		t.Errorf("acknowledgement subject %q, expected it to contain %s", subject, tag)
	}

	for name, want := range map[string]string{
		"Auto-Submitted":           "auto-replied",
		"X-Auto-Response-Suppress": "All",
		"In-Reply-To":              "<" + firstID + ">",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("acknowledgement %s = %q, expected %q", name, got, want)
		}
	}
	if refs := strings.Fields(h.Get("References")); !slices.Contains(refs, "<"+firstID+">") {
		t.Errorf("acknowledgement References = %v, expected it to contain <%s>", refs, firstID)
	}

	ackID := strings.Trim(strings.TrimSpace(h.Get("Message-ID")), "<>")
	if got, ok := processors.TicketRefFromMessageID(ackID); !ok || got != ref {
		t.Errorf("acknowledgement Message-ID %q carries ticket %q (ok %v), expected one minted for %s", ackID, got, ok, ref)
	}
	return ackID
}

// sendMail hands one message from customer to the listener.
func (s *conversationStack) sendMail(t *testing.T, customer string, data []byte) {
	t.Helper()
	c, err := smtp.Dial(s.listenAddr)
	if err != nil {
		t.Fatalf("connecting to the SMTP listener: %v", err)
	}
	defer c.Close()
	c.CommandTimeout = 30 * time.Second
	c.SubmissionTimeout = 30 * time.Second
	if err := c.SendMail(customer, []string{"support@" + s.domain}, bytes.NewReader(data)); err != nil {
		t.Fatalf("sending through the SMTP listener: %v", err)
	}
	_ = c.Quit()
}

// composeMail returns a plain-text message with extra header lines.
func composeMail(from, to, subject, messageID string, extra []string, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Ana Lima <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", messageID)
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	for _, line := range extra {
		b.WriteString(line + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(body + "\r\n")
	return []byte(b.String())
}

// waitForMessages waits until ticket ref has n messages in PostgreSQL.
func (s *conversationStack) waitForMessages(ctx context.Context, t *testing.T, ref string, n int) {
	t.Helper()
	waitCtx, cancel := context.WithTimeout(ctx, conversationWait)
	defer cancel()
	waitFor(waitCtx, t, fmt.Sprintf("%d messages on ticket %s", n, ref), func() (bool, string) {
		s.checkRoles(t)
		var got int
		err := s.pool.QueryRow(waitCtx, `SELECT count(*) FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
			WHERE t.tenant = $1 AND t.ticket_ref = $2`, s.tenant, ref).Scan(&got)
		if err != nil {
			return false, err.Error()
		}
		return got >= n, fmt.Sprintf("%d messages", got)
	})
}

// waitForSMTPSink waits until the SMTP sink's stored offsets reach the
// last stable offsets of the auto-reply topic, so that every command the
// processor committed so far has been sent or suppressed.
func (s *conversationStack) waitForSMTPSink(ctx context.Context, t *testing.T) {
	t.Helper()
	waitCtx, cancel := context.WithTimeout(ctx, conversationWait)
	defer cancel()
	stable := stableOffsets(waitCtx, t, s.adm, topics.AutoReplies)
	waitFor(waitCtx, t, "the SMTP sink to catch up", func() (bool, string) {
		s.checkRoles(t)
		stored := map[int32]int64{}
		rows, err := s.pool.Query(waitCtx, `SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`,
			s.smtpGroup, topics.AutoReplies)
		if err != nil {
			return false, err.Error()
		}
		for rows.Next() {
			var p int32
			var next int64
			if err := rows.Scan(&p, &next); err != nil {
				rows.Close()
				return false, err.Error()
			}
			stored[p] = next
		}
		rows.Close()
		behind := 0
		stable.Each(func(o kadm.ListedOffset) {
			if stored[o.Partition] < o.Offset {
				behind++
			}
		})
		return behind == 0, fmt.Sprintf("%d partitions behind: stored %v, stable %v", behind, stored, stable.Offsets())
	})
}

// messageIDs lists the message IDs of ticket ref in the order received.
func (s *conversationStack) messageIDs(ctx context.Context, t *testing.T, ref string) []string {
	t.Helper()
	rows, err := s.pool.Query(ctx, `SELECT m.message_id FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE t.tenant = $1 AND t.ticket_ref = $2 ORDER BY m.received_at, m.id`, s.tenant, ref)
	if err != nil {
		t.Fatalf("reading the messages of %s: %v", ref, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("reading the messages of %s: %v", ref, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading the messages of %s: %v", ref, err)
	}
	return ids
}

// decision returns the DecisionEvent of message id from the analytics
// topic.
func (s *conversationStack) decision(ctx context.Context, t *testing.T, id string) schemas.DecisionEvent {
	t.Helper()
	end := stableOffsets(ctx, t, s.adm, topics.Analytics)
	records := tenantRecords(readRange(ctx, t, s.brokers, topics.Analytics, s.analyticsAt, end), s.tenant)
	for _, d := range decodeAll[schemas.DecisionEvent](t, schemas.NewSingleObject(), records) {
		if d.MessageID == id {
			return d
		}
	}
	t.Fatalf("no decision for message %s among %d of the tenant", id, len(records))
	return schemas.DecisionEvent{}
}

// checkRoles fails t when a role has exited.
func (s *conversationStack) checkRoles(t *testing.T) {
	t.Helper()
	for _, p := range s.roles {
		if done, err := p.exited(); done {
			t.Fatalf("%s exited: %v", p.name, err)
		}
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free
// a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
