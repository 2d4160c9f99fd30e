package processors

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/state"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// personMessage returns a message that a person wrote to support, which
// passes every check of the guard.
func personMessage() *Message {
	return &Message{
		Email: schemas.InboundEmail{
			Tenant:     "acme",
			MessageID:  "person-1@mail.customer.test",
			Source:     schemas.SourceSMTP,
			ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
			Envelope:   &schemas.Envelope{MailFrom: "ana@customer.test", RcptTo: []string{"support@acme.test"}},
			From:       &schemas.Address{Name: "Ana Lima", Address: "ana@customer.test"},
			To:         []schemas.Address{{Address: "support@acme.test"}},
			Subject:    "Wrong invoice",
			Text:       "The amount is off.",
			Headers: []schemas.Header{
				{Name: "From", Value: "Ana Lima <ana@customer.test>"},
				{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
				{Name: "Auto-Submitted", Value: "no"},
				{Name: "X-Auto-Response-Suppress", Value: "DR, RN"},
			},
			References: []string{"older@mail.customer.test"},
			Auth:       schemas.Auth{SPF: "pass", DKIM: "pass", DMARC: "pass", Spam: "ham"},
		},
		State:    state.NewMemory(),
		Decision: Decision{Queue: "billing", Priority: "normal", TicketRef: TicketRef("acme", "person-1@mail.customer.test")},
	}
}

func withHeader(name, value string) func(m *Message) {
	return func(m *Message) {
		m.Email.Headers = append(m.Email.Headers, schemas.Header{Name: name, Value: value})
	}
}

func TestAutoReplyGuardReasons(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Message)
		reason string // "" means the acknowledgement is sent
	}{
		{"person gets one", func(*Message) {}, ""},
		{"reply-to person gets one", func(m *Message) {
			m.Email.ReplyTo = []schemas.Address{{Address: "team@customer.test"}}
		}, ""},
		{"softfail is not a fail", func(m *Message) { m.Email.Auth.SPF = "softfail" }, ""},
		{"suppress DR only", withHeader("X-Auto-Response-Suppress", "DR, NDR, RN, NRN"), ""},

		{"auto-submitted auto-replied", withHeader("Auto-Submitted", "auto-replied"), SuppressAutoSubmitted},
		{"auto-submitted with comment", withHeader("Auto-Submitted", "Auto-Generated (bounce); owner=x"), SuppressAutoSubmitted},
		{"auto-submitted empty", withHeader("auto-submitted", " "), SuppressAutoSubmitted},
		{"own loop marker", withHeader(AutoReplyLoopHeader, "other-tenant"), SuppressLoopMarker},
		{"x-loop", withHeader("X-Loop", "helpdesk@vendor.test"), SuppressXLoop},
		{"suppress all", withHeader("X-Auto-Response-Suppress", "All"), SuppressResponseSuppress},
		{"suppress autoreply", withHeader("X-Auto-Response-Suppress", "DR, AutoReply"), SuppressResponseSuppress},
		{"suppress oof", withHeader("X-Auto-Response-Suppress", "oof"), SuppressResponseSuppress},
		{"precedence bulk", withHeader("Precedence", "bulk"), SuppressPrecedence},
		{"precedence junk", withHeader("Precedence", "Junk"), SuppressPrecedence},
		{"precedence list", withHeader("Precedence", "list"), SuppressPrecedence},
		{"precedence auto_reply", withHeader("Precedence", "auto_reply"), SuppressPrecedence},
		{"list-id", withHeader("List-Id", "Announcements <news.vendor.test>"), SuppressListHeader},
		{"list-unsubscribe", withHeader("List-Unsubscribe", "<https://vendor.test/u>"), SuppressListHeader},
		{"delivery report", func(m *Message) {
			m.Email.Headers[1].Value = "multipart/report; report-type=delivery-status; boundary=b"
		}, SuppressReport},
		{"read receipt part", func(m *Message) {
			m.Email.Attachments = []schemas.Attachment{{ContentType: "message/disposition-notification"}}
		}, SuppressReport},
		{"null envelope sender", func(m *Message) { m.Email.Envelope.MailFrom = "" }, SuppressNullReturnPath},
		{"null return-path header", func(m *Message) {
			m.Email.Envelope = nil
			m.Email.Headers = append(m.Email.Headers, schemas.Header{Name: "Return-Path", Value: "<>"})
		}, SuppressNullReturnPath},
		{"mailer-daemon", func(m *Message) { m.Email.From.Address = "MAILER-DAEMON@mx.customer.test" }, SuppressSystemSender},
		{"postmaster reply-to", func(m *Message) {
			m.Email.ReplyTo = []schemas.Address{{Address: "postmaster@customer.test"}}
		}, SuppressSystemSender},
		{"noreply", func(m *Message) { m.Email.From.Address = "noreply@customer.test" }, SuppressNoReplySender},
		{"no-reply with tag", func(m *Message) { m.Email.From.Address = "No-Reply+invoices@customer.test" }, SuppressNoReplySender},
		{"do-not-reply envelope", func(m *Message) { m.Email.Envelope.MailFrom = "do_not_reply@bounce.customer.test" }, SuppressNoReplySender},
		{"billing-donotreply", func(m *Message) { m.Email.From.Address = "billing-donotreply@customer.test" }, SuppressNoReplySender},
		{"spf fail", func(m *Message) { m.Email.Auth.SPF = "fail" }, SuppressAuthFailed},
		{"dkim fail", func(m *Message) { m.Email.Auth.DKIM = "FAIL" }, SuppressAuthFailed},
		{"dmarc fail", func(m *Message) { m.Email.Auth.DMARC = "fail" }, SuppressAuthFailed},
		{"spam", func(m *Message) { m.Email.Auth.Spam = "spam" }, SuppressSpam},
		{"follow-up", func(m *Message) { m.Decision.FollowUp = true }, SuppressFollowUp},
		{"rule skips", func(m *Message) { m.Decision.SkipAutoReply = true }, SuppressRule},
		{"no from", func(m *Message) { m.Email.From = nil }, SuppressNoRecipient},
		{"from without address", func(m *Message) { m.Email.From.Address = "undisclosed" }, SuppressNoRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := personMessage()
			tt.change(m)

			res, err := NewAutoReplyGuard().Process(context.Background(), m)
			if err != nil || res != Continue {
				t.Fatalf("Process = %v, %v; expected Continue, nil", res, err)
			}

			if got := AutoReplySuppression(m); got != tt.reason {
				t.Errorf("AutoReplySuppression = %q, expected %q", got, tt.reason)
			}
			if got, want := m.Decision.AutoReply, tt.reason == ""; got != want {
				t.Errorf("Decision.AutoReply = %v, expected %v", got, want)
			}
			var suppressTags []string
			for _, tag := range m.Decision.Tags {
				if strings.HasPrefix(tag, AutoReplySuppressedTagPrefix) {
					suppressTags = append(suppressTags, tag)
				}
			}
			var want []string
			if tt.reason != "" {
				want = []string{AutoReplySuppressedTagPrefix + tt.reason}
			}
			if !slices.Equal(suppressTags, want) {
				t.Errorf("suppression tags = %v, expected %v", suppressTags, want)
			}
		})
	}
}

func TestAutoReplyCommandFields(t *testing.T) {
	m := personMessage()
	m.Email.ReplyTo = []schemas.Address{{Name: "Billing Team", Address: "<team@customer.test>"}}
	now := time.Date(2025, 3, 1, 12, 0, 2, 0, time.UTC)

	cmd := AutoReplyCommand(m, now)

	if cmd.Kind != schemas.AutoReplyAcknowledgement || cmd.Tenant != "acme" || cmd.Queue != "billing" {
		t.Errorf("kind, tenant, queue = %q, %q, %q; expected acknowledgement, acme, billing", cmd.Kind, cmd.Tenant, cmd.Queue)
	}
	if cmd.TicketRef != m.Decision.TicketRef {
		t.Errorf("TicketRef = %q, expected %q", cmd.TicketRef, m.Decision.TicketRef)
	}
	if cmd.To != (schemas.Address{Name: "Billing Team", Address: "team@customer.test"}) {
		t.Errorf("To = %+v, expected the Reply-To mailbox without brackets", cmd.To)
	}
	if cmd.InReplyTo != "person-1@mail.customer.test" {
		t.Errorf("InReplyTo = %q, expected the inbound Message-ID", cmd.InReplyTo)
	}
	if want := []string{"older@mail.customer.test", "person-1@mail.customer.test"}; !slices.Equal(cmd.References, want) {
		t.Errorf("References = %v, expected %v", cmd.References, want)
	}
	if !cmd.DecidedAt.Equal(now) || !cmd.ReceivedAt.Equal(m.Email.ReceivedAt) {
		t.Errorf("times = %v, %v; expected %v, %v", cmd.ReceivedAt, cmd.DecidedAt, m.Email.ReceivedAt, now)
	}
	if again := AutoReplyCommand(m, now.Add(time.Hour)); again.EventID != cmd.EventID || cmd.EventID == "" {
		t.Errorf("EventID %q then %q, expected one stable non-empty ID", cmd.EventID, again.EventID)
	}
}

func TestReplyReferencesBounded(t *testing.T) {
	var parent []string
	for i := range 30 {
		parent = append(parent, "m"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+"@t")
	}
	refs := replyReferences(parent, "last@t")
	if len(refs) != maxReplyReferences {
		t.Fatalf("len = %d, expected %d", len(refs), maxReplyReferences)
	}
	if refs[0] != parent[0] || refs[len(refs)-1] != "last@t" {
		t.Errorf("refs start %q and end %q, expected the first parent reference and the parent ID", refs[0], refs[len(refs)-1])
	}
}

// runDefaultChain runs the sample rules' default chain on m and returns
// its outputs.
func runDefaultChain(t *testing.T, m *Message) []Output {
	t.Helper()
	chain, err := DefaultChain(ChainConfig{RulesFile: sampleRulesFile})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}
	m.Decision = Decision{}
	if _, err := chain.Run(context.Background(), m); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return Outputs(m, time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC))
}

func TestDefaultChainEmitsAutoReply(t *testing.T) {
	m := personMessage()
	outputs := runDefaultChain(t, m)

	var replies []schemas.AutoReply
	for _, o := range outputs {
		if o.Topic != topics.AutoReplies {
			continue
		}
		cmd := o.Value.(schemas.AutoReply)
		if o.Key != cmd.Key() || !strings.HasPrefix(o.Key, "acme/") {
			t.Errorf("key = %q, expected %q", o.Key, cmd.Key())
		}
		replies = append(replies, cmd)
	}
	if len(replies) != 1 {
		t.Fatalf("got %d AutoReply outputs, expected 1", len(replies))
	}
	if replies[0].Queue != "billing" || replies[0].TicketRef != m.Decision.TicketRef {
		t.Errorf("AutoReply queue %q ticket %q, expected billing and %q", replies[0].Queue, replies[0].TicketRef, m.Decision.TicketRef)
	}
}

func TestDefaultChainTagsSuppression(t *testing.T) {
	m := personMessage()
	m.Email.Headers = append(m.Email.Headers, schemas.Header{Name: "Auto-Submitted", Value: "auto-replied"})
	outputs := runDefaultChain(t, m)

	for _, o := range outputs {
		if o.Topic == topics.AutoReplies {
			t.Errorf("AutoReply emitted for an auto-submitted message")
		}
		if o.Topic != topics.Analytics {
			continue
		}
		tags := o.Value.(schemas.DecisionEvent).Tags
		if !slices.Contains(tags, AutoReplySuppressedTagPrefix+SuppressAutoSubmitted) {
			t.Errorf("DecisionEvent tags = %v, expected %s", tags, AutoReplySuppressedTagPrefix+SuppressAutoSubmitted)
		}
	}
}
