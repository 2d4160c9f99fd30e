package smtpsink

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/mime"
	"mailtriage/internal/state"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// loopTenants maps each tenant of the loop test to its support address.
var loopTenants = map[string]string{"alpha": "support@alpha.test", "beta": "support@beta.test"}

// TestAutoReplyLoop lets two mailtriage tenants reply to each other. Every
// acknowledgement the relay accepts goes back through the processor chain
// as inbound mail of the tenant it was sent to, and through the sink. Each
// row strips more of the loop headers in transit, as a careless gateway
// might, and names the guard that must stop the exchange.
func TestAutoReplyLoop(t *testing.T) {
	tests := []struct {
		name     string
		strip    []string // headers removed from each reply in transit
		envelope bool     // the gateway rewrites the null envelope sender to the From address
		stopper  string   // "processor:REASON" or "sink:REASON"
		sent     map[string]int
	}{
		{"headers intact", nil, false,
			"processor:" + processors.SuppressAutoSubmitted, map[string]int{"alpha": 1}},
		{"auto-submitted stripped", []string{"Auto-Submitted"}, false,
			"processor:" + processors.SuppressLoopMarker, map[string]int{"alpha": 1}},
		{"loop marker stripped too", []string{"Auto-Submitted", processors.AutoReplyLoopHeader}, false,
			"processor:" + processors.SuppressResponseSuppress, map[string]int{"alpha": 1}},
		{"every mark stripped", []string{"Auto-Submitted", processors.AutoReplyLoopHeader, "X-Auto-Response-Suppress"}, false,
			"processor:" + processors.SuppressNullReturnPath, map[string]int{"alpha": 1}},
		// Without the subject and threading headers the reply also looks
		// like a new conversation, so only the sink's rate limit is left.
		{"every mark and thread stripped, envelope rewritten",
			[]string{"Auto-Submitted", processors.AutoReplyLoopHeader, "X-Auto-Response-Suppress", "Subject", "In-Reply-To", "References"}, true,
			"sink:" + SuppressRateLimitRecipient, map[string]int{"alpha": 1, "beta": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, stopper := runLoop(t, tt.strip, tt.envelope)
			if stopper != tt.stopper {
				t.Errorf("loop stopped by %q, expected %q", stopper, tt.stopper)
			}
			for tenant := range loopTenants {
				if sent[tenant] != tt.sent[tenant] {
					t.Errorf("tenant %s sent %d acknowledgements, expected %d", tenant, sent[tenant], tt.sent[tenant])
				}
				if sent[tenant] > 1 {
					t.Errorf("tenant %s sent %d messages, expected at most one", tenant, sent[tenant])
				}
			}
		})
	}
}

// runLoop starts the exchange with a message a person at beta writes to
// alpha and feeds every delivered reply back until no reply is sent, at
// most 10 rounds. It returns the messages each tenant sent and what
// stopped the exchange.
func runLoop(t *testing.T, strip []string, rewriteEnvelope bool) (map[string]int, string) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	cfg := testConfig(t, brokers, dsn, relay.addr)
	cfg.From = mail.Address{}
	cfg.TenantFrom = map[string]mail.Address{}
	for tenant, addr := range loopTenants {
		cfg.TenantFrom[tenant] = mail.Address{Name: tenant + " support", Address: addr}
	}
	sink, _ := runSink(t, cfg)

	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: "../../config/rules.yaml"})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}
	stores := map[string]state.Store{"alpha": state.NewMemory(), "beta": state.NewMemory()}

	first := "From: Bea <support@beta.test>\r\nTo: support@alpha.test\r\nSubject: Hello from beta\r\n" +
		"Message-ID: <first@beta.test>\r\nDate: Sat, 01 Mar 2025 12:00:00 +0000\r\n\r\nCan you help us?\r\n"
	queue := []inboundMail{{tenant: "alpha", raw: []byte(first), mailFrom: "support@beta.test"}}
	sent := map[string]int{}

	for round := 0; round < 10 && len(queue) > 0; round++ {
		in := queue[0]
		queue = queue[1:]

		m := parseInbound(t, in, stores[in.tenant], round)
		if _, err := chain.Run(context.Background(), m); err != nil {
			t.Fatalf("round %d: chain: %v", round, err)
		}
		var replies []schemas.AutoReply
		for _, o := range processors.Outputs(m, time.Now()) {
			if o.Topic == topics.AutoReplies {
				replies = append(replies, o.Value.(schemas.AutoReply))
			}
		}
		if len(replies) == 0 {
			return sent, "processor:" + processors.AutoReplySuppression(m)
		}

		delivered, handled := len(relay.delivered()), handledCount(sink)
		produceCommands(t, brokers, replies...)
		waitFor(t, "the sink to handle the reply", func() bool { return handledCount(sink) == handled+1 })
		got := relay.delivered()
		if len(got) == delivered {
			row, _ := readLedger(t, newPool(t, dsn), replies[0].EventID)
			return sent, "sink:" + row.reason
		}
		sent[in.tenant]++

		msg := got[len(got)-1]
		next := inboundMail{raw: stripHeaders(t, msg.data, strip), mailFrom: msg.mailFrom}
		if rewriteEnvelope {
			next.mailFrom = loopTenants[in.tenant]
		}
		for tenant, addr := range loopTenants {
			if strings.EqualFold(msg.rcptTo[0], addr) {
				next.tenant = tenant
			}
		}
		queue = append(queue, next)
	}
	t.Fatalf("the exchange did not stop within 10 rounds; sent %v", sent)
	return nil, ""
}

// inboundMail is one message on its way into a tenant's pipeline.
type inboundMail struct {
	tenant   string
	raw      []byte
	mailFrom string
}

// parseInbound parses in as the SMTP listener would.
func parseInbound(t *testing.T, in inboundMail, store state.Store, round int) *processors.Message {
	t.Helper()
	parsed, err := mime.Parse(in.raw, mime.Options{Tenant: in.tenant, Source: schemas.SourceSMTP})
	if err != nil {
		t.Fatalf("round %d: parsing: %v", round, err)
	}
	parsed.Email.Envelope = &schemas.Envelope{MailFrom: in.mailFrom, RcptTo: []string{loopTenants[in.tenant]}}
	return &processors.Message{
		Email:    parsed.Email,
		State:    store,
		Position: processors.Position{Topic: topics.Inbound, Offset: int64(round)},
	}
}

func handledCount(s *Sink) int64 {
	st := s.Stats()
	return st.Sent + st.Suppressed + st.Replayed + st.Unknown + st.Failed
}

// stripHeaders removes the header fields named in names, folded lines
// included, from the header block of a raw message.
func stripHeaders(t *testing.T, raw []byte, names []string) []byte {
	t.Helper()
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("message without a header block end")
	}
	var out bytes.Buffer
	skipping := false
	scanner := bufio.NewScanner(bytes.NewReader(head))
	for scanner.Scan() {
		line := scanner.Text()
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				fmt.Fprintf(&out, "%s\r\n", line)
			}
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		skipping = false
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				skipping = true
			}
		}
		if !skipping {
			fmt.Fprintf(&out, "%s\r\n", line)
		}
	}
	out.WriteString("\r\n")
	out.Write(body)
	return out.Bytes()
}
