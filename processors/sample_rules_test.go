package processors

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailtriage/internal/state"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const sampleRulesFile = "../config/rules.yaml"

func TestSampleRulesQueues(t *testing.T) {
	rs, err := LoadRules(sampleRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClassify(ClassifyConfig{Rules: rs})
	if err != nil {
		t.Fatal(err)
	}

	support := "support@shop.example"
	withFrom := func(e schemas.InboundEmail, from string) schemas.InboundEmail {
		e.From = &schemas.Address{Address: from}
		return e
	}
	tests := []struct {
		name       string
		email      schemas.InboundEmail
		wantQueue  string
		wantRule   string
		wantNoAuto bool
	}{
		{"billing alias", email("billing@shop.example", "Question", "Hello"), "billing", "billing-address", false},
		{"billing subaddress", email("support+billing@shop.example", "Question", "Hello"), "billing", "billing-address", false},
		{"orders alias", email("orders@shop.example", "Question", "Hello"), "orders", "orders-address", false},
		{"security alias", email("security@shop.example", "Report", "Hello"), "account-security", "security-address", false},
		{"invoice keyword", email(support, "Wrong invoice", "The amount is off."), "billing", "billing-keywords", false},
		{"refund keyword", email(support, "Hello", "I would like a refund for my last purchase."), "billing", "billing-keywords", false},
		{"charged twice", email(support, "Problem", "You charged me twice this month."), "billing", "billing-keywords", false},
		{"tracking keyword", email(support, "Where is it?", "The tracking page shows nothing."), "orders", "orders-keywords", false},
		{"order in subject", email(support, "Order 10023 not arrived", "Hello"), "orders", "orders-keywords", false},
		{"delivery keyword", email(support, "Hello", "The delivery never came."), "orders", "orders-keywords", false},
		{"in order to is not an order", email(support, "Question", "I am writing in order to ask about your hours."), "general", "", false},
		{"password keyword", email(support, "Help", "I forgot my password."), "account-security", "security-keywords", false},
		{"2fa keyword", email(support, "2FA code never arrives", "Hello"), "account-security", "security-keywords", false},
		{"locked keyword", email(support, "Account locked", "Hello"), "account-security", "security-keywords", false},
		{"login beats invoice", email(support, "Cannot login to see my invoice", "Hello"), "account-security", "security-keywords", false},
		{"suspicious keyword", email(support, "Suspicious sign-in", "Hello"), "account-security", "security-keywords", false},
		{"general question", email(support, "Opening hours", "When are you open on Sundays?"), "general", "", false},
		{"auto-submitted", email(support, "Re: your ticket", "I am away.", "Auto-Submitted", "auto-replied"), "system", "machine-mail", true},
		{"auto-submitted no is a person", email(support, "Opening hours", "Hi", "Auto-Submitted", "no"), "general", "", false},
		{"delivery report", email(support, "Returned mail: see transcript", "x", "Content-Type", "multipart/report; report-type=delivery-status; boundary=b"), "system", "machine-mail", true},
		{"mailer-daemon", withFrom(email(support, "failure notice", "x"), "MAILER-DAEMON@mx.example.net"), "system", "machine-mail", true},
		{"out of office subject", email(support, "Out of Office: back Monday", "x"), "system", "machine-mail", true},
		{"bounce beats billing alias", email("billing@shop.example", "Undeliverable: invoice", "x", "Auto-Submitted", "auto-generated"), "system", "machine-mail", true},
		{"newsletter", email(support, "Our spring order deals", "x", "List-Unsubscribe", "<https://news.example/u>"), "general", "bulk-mail", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Email: tt.email}
			if _, err := c.Process(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if m.Decision.Queue != tt.wantQueue {
				t.Errorf("Queue = %q, want %q (reason %+v)", m.Decision.Queue, tt.wantQueue, m.Decision.Reason)
			}
			if m.Decision.Reason.RuleID != tt.wantRule {
				t.Errorf("RuleID = %q, want %q", m.Decision.Reason.RuleID, tt.wantRule)
			}
			if m.Decision.SkipAutoReply != tt.wantNoAuto {
				t.Errorf("SkipAutoReply = %v, want %v", m.Decision.SkipAutoReply, tt.wantNoAuto)
			}
		})
	}
}

func TestSampleRulesTenantExample(t *testing.T) {
	rs, err := LoadRules(sampleRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClassify(ClassifyConfig{Rules: rs})
	for _, tt := range []struct {
		tenant, rcpt, want string
	}{
		{"acme", "wholesale@acme.example", "wholesale"},
		{"acme", "billing@acme.example", "billing"}, // default rules follow Acme's own
		{"default", "wholesale@shop.example", "general"},
	} {
		e := email(tt.rcpt, "Hello", "Hello")
		e.Tenant = tt.tenant
		m := &Message{Email: e}
		if _, err := c.Process(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if m.Decision.Queue != tt.want {
			t.Errorf("tenant %s to %s: Queue = %q, want %q", tt.tenant, tt.rcpt, m.Decision.Queue, tt.want)
		}
	}
}

func TestDefaultChainEndToEnd(t *testing.T) {
	now := t0
	chain, err := DefaultChain(ChainConfig{RulesFile: sampleRulesFile, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(chain))
	for i, p := range chain {
		names[i] = p.Name()
	}
	if want := []string{"dedupe", "redact", "classify", "route", "thread", "autoreply"}; !slices.Equal(names, want) {
		t.Fatalf("chain = %v, want %v", names, want)
	}

	store := state.NewMemory()
	newMessage := func(offset int64) *Message {
		e := email("support@shop.example", "URGENT: refund to card 4111 1111 1111 1111",
			"Please refund me. Call +44 20 7946 0018.")
		e.MessageID = "abc@customer.example"
		return &Message{Email: e, State: store, Position: Position{Topic: topics.Inbound, Partition: 0, Offset: offset}}
	}

	m := newMessage(5)
	if stopped, err := chain.Run(context.Background(), m); err != nil || stopped != "" {
		t.Fatalf("Run = %q, %v; want all stages", stopped, err)
	}
	d := m.Decision
	if d.Queue != "billing" || d.Priority != "urgent" || d.TicketRef != TicketRef("default", "abc@customer.example") {
		t.Errorf("Decision = %+v, want billing, urgent and the message's ticket reference", d)
	}
	if d.Reason.RuleID != "billing-keywords" || d.Reason.RulesetVersion != "2025-06-01" {
		t.Errorf("Reason = %+v, want rule billing-keywords of version 2025-06-01", d.Reason)
	}
	if m.Email.PII[PIICard] != 1 || m.Email.PII[PIIPhone] != 1 {
		t.Errorf("PII = %v, want one card and one phone", m.Email.PII)
	}
	if m.Email.Subject != "URGENT: refund to card [CARD]" {
		t.Errorf("Subject = %q, want the card redacted", m.Email.Subject)
	}

	dup := newMessage(6)
	stopped, err := chain.Run(context.Background(), dup)
	if err != nil || stopped != "dedupe" || !dup.Duplicate {
		t.Errorf("second copy: Run = %q, %v, Duplicate %v; want stopped by dedupe as a duplicate", stopped, err, dup.Duplicate)
	}

	replay := newMessage(5)
	if stopped, err := chain.Run(context.Background(), replay); err != nil || stopped != "" || replay.Decision.Queue != "billing" {
		t.Errorf("replay: Run = %q, %v, queue %q; want all stages again and queue billing", stopped, err, replay.Decision.Queue)
	}
}

func TestDefaultChainRejectsBadRules(t *testing.T) {
	_, err := DefaultChain(ChainConfig{RulesFile: "testdata/does-not-exist.yaml"})
	if err == nil {
		t.Error("DefaultChain with a missing rules file: err = nil, want an error")
	}
}
