package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func TestCorpusMessagesOverSMTP(t *testing.T) {
	files := corpusMessages(t, 20)
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	l := startListener(t, testConfig(), false, newPublisher(t, brokers))

	c, clientAddr := dialSMTP(t, l.addr)
	wire := make(map[string][]byte, len(files)) // by MAIL FROM
	for i, rel := range files {
		from := fmt.Sprintf("sender-%02d@client.example", i)
		wire[from] = wireForm(readCorpus(t, rel))
		if err := send(c, from, []string{"support+billing@support.example.com"}, readCorpus(t, rel)); err != nil {
			t.Fatalf("%s: delivering: %v", rel, err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}

	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, len(files), testTimeout))
	if len(records) != len(files) {
		t.Fatalf("inbound topic has %d records, want %d", len(records), len(files))
	}
	for _, got := range records {
		env := got.Envelope
		if env == nil {
			t.Fatalf("record %s has no envelope", got.Key())
		}
		raw, ok := wire[env.MailFrom]
		if !ok {
			t.Fatalf("record %s has MAIL FROM %q, which the test did not send", got.Key(), env.MailFrom)
		}
		delete(wire, env.MailFrom)
		checkEnvelope(t, got, raw, clientAddr)
		checkStoredRaw(t, l, got, raw)
	}

	logs := l.logs.String()
	if strings.Contains(logs, "@client.example") || strings.Contains(logs, "@support.example.com") {
		t.Errorf("the logs contain an address:\n%s", logs)
	}
	if n := strings.Count(logs, `"msg":"message queued"`); n != len(files) {
		t.Errorf("the logs have %d lines \"message queued\", want %d", n, len(files))
	}
}

// checkEnvelope checks the envelope and parse of one corpus record.
func checkEnvelope(t *testing.T, got schemas.InboundEmail, raw []byte, clientAddr string) {
	t.Helper()
	env := got.Envelope
	if want := []string{"support+billing@support.example.com"}; !slices.Equal(env.RcptTo, want) {
		t.Errorf("%s: RcptTo = %q, want %q", env.MailFrom, env.RcptTo, want)
	}
	if env.Helo != "client.example" {
		t.Errorf("%s: Helo = %q, want client.example", env.MailFrom, env.Helo)
	}
	if env.RemoteAddr != clientAddr {
		t.Errorf("%s: RemoteAddr = %q, want the client's %q", env.MailFrom, env.RemoteAddr, clientAddr)
	}
	if env.TLS {
		t.Errorf("%s: TLS = true on a plain connection", env.MailFrom)
	}
	if got.Tenant != "acme" || got.Source != schemas.SourceSMTP {
		t.Errorf("%s: tenant %q source %q, want acme and %s", env.MailFrom, got.Tenant, got.Source, schemas.SourceSMTP)
	}

	want, err := mime.Parse(raw, mime.Options{Tenant: "acme", Source: schemas.SourceSMTP})
	if err != nil {
		t.Fatalf("%s: parsing the sent bytes: %v", env.MailFrom, err)
	}
	if got.MessageID != want.Email.MessageID {
		t.Errorf("%s: MessageID = %q, want %q", env.MailFrom, got.MessageID, want.Email.MessageID)
	}
	if got.Subject != want.Email.Subject {
		t.Errorf("%s: Subject = %q, want %q", env.MailFrom, got.Subject, want.Email.Subject)
	}
	if len(got.Attachments) != len(want.Email.Attachments) {
		t.Errorf("%s: %d attachments, want %d", env.MailFrom, len(got.Attachments), len(want.Email.Attachments))
	}
}

// checkStoredRaw checks that the record points at the raw message as sent
// and that object storage holds it.
func checkStoredRaw(t *testing.T, l *testListener, got schemas.InboundEmail, raw []byte) {
	t.Helper()
	sum := sha256.Sum256(raw)
	if got.Raw == nil || got.Raw.SHA256 != hex.EncodeToString(sum[:]) || got.Raw.Size != int64(len(raw)) {
		t.Errorf("%s: Raw = %+v, want SHA-256 %x and %d bytes", got.Envelope.MailFrom, got.Raw, sum, len(raw))
		return
	}
	stored, err := l.storage.Get(context.Background(), got.Raw.Key)
	if err != nil {
		t.Errorf("%s: reading the stored raw message: %v", got.Envelope.MailFrom, err)
	} else if string(stored) != string(raw) {
		t.Errorf("%s: the stored raw message differs from the bytes sent", got.Envelope.MailFrom)
	}
}

func TestTwoTenantsTwoRecords(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	l := startListener(t, testConfig(), false, newPublisher(t, brokers))

	c, _ := dialSMTP(t, l.addr)
	rcpts := []string{"a@support.example.com", "Billing+invoices@help.globex.example", "b@support.example.com"}
	if err := send(c, "customer@client.example", rcpts, []byte(plainMessage("two-tenants@client.example"))); err != nil {
		t.Fatalf("delivering: %v", err)
	}

	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 2, testTimeout))
	if len(records) != 2 {
		t.Fatalf("inbound topic has %d records, want 2", len(records))
	}
	byTenant := map[string]schemas.InboundEmail{}
	for _, r := range records {
		byTenant[r.Tenant] = r
	}
	wantRcpts := map[string][]string{
		"acme":   {"a@support.example.com", "b@support.example.com"},
		"globex": {"Billing+invoices@help.globex.example"},
	}
	for tenant, want := range wantRcpts {
		got, ok := byTenant[tenant]
		if !ok {
			t.Errorf("no record for tenant %s", tenant)
			continue
		}
		if got.Key() != tenant+"/two-tenants@client.example" {
			t.Errorf("key = %q, want %s/two-tenants@client.example", got.Key(), tenant)
		}
		if !slices.Equal(got.Envelope.RcptTo, want) {
			t.Errorf("tenant %s: RcptTo = %q, want %q", tenant, got.Envelope.RcptTo, want)
		}
	}
	if byTenant["acme"].Raw == nil || byTenant["globex"].Raw == nil || byTenant["acme"].Raw.Key != byTenant["globex"].Raw.Key {
		t.Errorf("the two records should share one stored raw message: %+v and %+v", byTenant["acme"].Raw, byTenant["globex"].Raw)
	}
}

func TestUnknownRecipientRejected(t *testing.T) {
	cluster := startCluster(t, 1)
	l := startListener(t, testConfig(), false, newPublisher(t, cluster.ListenAddrs()))
	c, _ := dialSMTP(t, l.addr)

	if err := c.Mail("customer@client.example"); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"someone@unknown.example", "sales@help.globex.example"} {
		code, msg := replyCode(c.Rcpt(rcpt))
		if code != 550 || !strings.HasPrefix(msg, "5.1.1 ") {
			t.Errorf("RCPT %s: reply %d %q, want 550 5.1.1", rcpt, code, msg)
		}
	}
	if err := c.Rcpt("support+x@help.globex.example"); err != nil {
		t.Errorf("RCPT of a listed local part with a subaddress: %v", err)
	}
	if err := c.Rcpt("postmaster@help.globex.example"); err != nil {
		t.Errorf("RCPT postmaster: %v", err)
	}
}

func TestSizeLimit(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	cfg := testConfig()
	cfg.Limits.MaxMessageBytes = 64 << 10
	l := startListener(t, cfg, false, newPublisher(t, brokers))
	c, _ := dialSMTP(t, l.addr)

	ok, size := c.Extension("SIZE")
	if !ok || size != "65536" {
		t.Errorf("EHLO advertises SIZE %q (%v), want 65536", size, ok)
	}

	big := plainMessage("too-big@client.example") + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef012345678\r\n", 2000)
	code, msg := replyCode(send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(big)))
	if code != 552 || !strings.HasPrefix(msg, "5.3.4 ") {
		t.Errorf("DATA over the limit: reply %d %q, want 552 5.3.4", code, msg)
	}

	// A client that declares the size gets the reply at MAIL already.
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	code, msg = replyCode(rawCommand(c, "MAIL FROM:<customer@client.example> SIZE=100000"))
	if code != 552 || !strings.HasPrefix(msg, "5.3.4 ") {
		t.Errorf("MAIL with SIZE over the limit: reply %d %q, want 552 5.3.4", code, msg)
	}

	// The connection stays usable, and only the message within the limit
	// reaches the topic.
	if err := send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("small@client.example"))); err != nil {
		t.Fatalf("delivering the small message: %v", err)
	}
	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 2, 3*time.Second))
	if len(records) != 1 || records[0].MessageID != "small@client.example" {
		t.Errorf("inbound topic has %d records, want only small@client.example", len(records))
	}
}

func TestUnparsableGoesToDeadLetter(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	l := startListener(t, testConfig(), false, newPublisher(t, brokers))
	c, _ := dialSMTP(t, l.addr)

	// A body without a single header field is not mail.
	body := []byte("this line is not a header field\r\nand neither is this one\r\n")
	if err := send(c, "customer@client.example", []string{"a@support.example.com"}, body); err != nil {
		t.Fatalf("delivering: want 250 because the dead-letter topic keeps the message, got %v", err)
	}

	recs := consumeRecords(t, brokers, topics.DLQ, 1, testTimeout)
	if len(recs) != 1 {
		t.Fatalf("dead-letter topic has %d records, want 1", len(recs))
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(recs[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Tenant != "acme" || dl.Stage != "parse" || dl.SourceTopic != schemas.SourceSMTP {
		t.Errorf("dead letter tenant %q stage %q source %q, want acme, parse, smtp", dl.Tenant, dl.Stage, dl.SourceTopic)
	}
	if string(recs[0].Key) != "acme/"+dl.EventID {
		t.Errorf("dead letter key = %q, want acme/%s", recs[0].Key, dl.EventID)
	}
	if string(dl.Payload) != string(body) {
		t.Errorf("dead letter payload = %q, want the message as sent", dl.Payload)
	}
	if dl.Raw == nil {
		t.Fatal("dead letter has no raw reference")
	}
	if _, err := l.storage.Get(context.Background(), dl.Raw.Key); err != nil {
		t.Errorf("the raw message is not in object storage: %v", err)
	}
	if inbound := consumeRecords(t, brokers, topics.Inbound, 1, 2*time.Second); len(inbound) != 0 {
		t.Errorf("inbound topic has %d records, want 0", len(inbound))
	}
}

func TestMaxRecipients(t *testing.T) {
	cluster := startCluster(t, 1)
	cfg := testConfig()
	cfg.Limits.MaxRecipients = 2
	l := startListener(t, cfg, false, newPublisher(t, cluster.ListenAddrs()))
	c, _ := dialSMTP(t, l.addr)

	if err := c.Mail("customer@client.example"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := c.Rcpt(fmt.Sprintf("r%d@support.example.com", i)); err != nil {
			t.Fatalf("RCPT %d within the limit: %v", i, err)
		}
	}
	code, msg := replyCode(c.Rcpt("r2@support.example.com"))
	if code != 452 || !strings.HasPrefix(msg, "4.5.3 ") {
		t.Errorf("RCPT over the limit: reply %d %q, want 452 4.5.3", code, msg)
	}
}

func TestConnectionLimits(t *testing.T) {
	cluster := startCluster(t, 1)
	tests := []struct {
		name   string
		limits Limits
		want   string
	}{
		{"total", Limits{MaxConnections: 2, MaxConnectionsPerIP: 10}, "421 4.3.2 "},
		{"per IP", Limits{MaxConnections: 10, MaxConnectionsPerIP: 2}, "421 4.7.0 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Limits = tt.limits
			l := startListener(t, cfg, false, newPublisher(t, cluster.ListenAddrs()))

			for range 2 {
				dialSMTP(t, l.addr)
			}
			conn, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 200)
			n, _ := conn.Read(buf)
			if got := string(buf[:n]); !strings.HasPrefix(got, tt.want) {
				t.Errorf("third connection got %q, want a reply starting %q", got, tt.want)
			}
		})
	}
}

func TestLineOverLimitRejected(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	cfg := testConfig()
	cfg.Limits.MaxLineLength = 1000
	l := startListener(t, cfg, false, newPublisher(t, brokers))
	c, _ := dialSMTP(t, l.addr)

	long := plainMessage("long-line@client.example") + strings.Repeat("x", 1500) + "\r\n"
	code, msg := replyCode(send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(long)))
	if code != 554 || !strings.HasPrefix(msg, "5.6.0 ") {
		t.Errorf("DATA with a 1500-byte line: reply %d %q, want 554 5.6.0", code, msg)
	}
	if recs := consumeRecords(t, brokers, topics.Inbound, 1, 2*time.Second); len(recs) != 0 {
		t.Errorf("inbound topic has %d records, want 0", len(recs))
	}
}

func TestNullSenderKeptEmpty(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	l := startListener(t, testConfig(), false, newPublisher(t, brokers))
	c, _ := dialSMTP(t, l.addr)

	if err := send(c, "", []string{"a@support.example.com"}, []byte(plainMessage("bounce@client.example"))); err != nil {
		t.Fatalf("delivering with MAIL FROM:<>: %v", err)
	}
	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 1, testTimeout))
	if len(records) != 1 {
		t.Fatalf("inbound topic has %d records, want 1", len(records))
	}
	if records[0].Envelope.MailFrom != "" {
		t.Errorf("MailFrom = %q, want empty for the null return path", records[0].Envelope.MailFrom)
	}
}
