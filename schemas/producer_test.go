package schemas

import (
	"os"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// These tests write records the way a producer in another language would:
// a fresh goavro codec built from the .avsc file on disk and a native value
// spelled out by hand from the schema, with times as epoch milliseconds.
// Unmarshal must turn them into exactly the Go values below.

var (
	foreignReceivedAt = time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)
	foreignDate       = time.Date(2025, time.March, 14, 9, 20, 1, 123_000_000, time.UTC)
	foreignDecidedAt  = time.Date(2025, time.March, 14, 9, 26, 54, 1_000_000, time.UTC)
)

const (
	foreignReceivedAtMillis int64 = 1741944413589
	foreignDateMillis       int64 = 1741944001123
	foreignDecidedAtMillis  int64 = 1741944414001
)

// writeForeign encodes native with a codec built from the schema file.
func writeForeign(t *testing.T, file string, native map[string]any) []byte {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatalf("building a codec from %s: %v", file, err)
	}
	data, err := codec.SingleFromNative(nil, native)
	if err != nil {
		t.Fatalf("encoding with %s: %v", file, err)
	}
	return data
}

func TestForeignInboundEmail(t *testing.T) {
	data := writeForeign(t, "inbound_email.avsc", map[string]any{
		"tenant":     "acme",
		"messageId":  "abc@example.org",
		"threadId":   "th-1",
		"source":     "webhook-raw",
		"receivedAt": foreignReceivedAtMillis,
		"date":       map[string]any{"long.timestamp-millis": foreignDateMillis},
		"envelope": map[string]any{"mailtriage.Envelope": map[string]any{
			"mailFrom":   "",
			"rcptTo":     []any{"support@acme.test"},
			"helo":       "[192.0.2.1]",
			"remoteAddr": "192.0.2.1:25",
			"tls":        false,
		}},
		"from": map[string]any{"mailtriage.Address": map[string]any{"name": "Jürgen Groß", "address": "jg@example.de"}},
		"to": []any{
			map[string]any{"name": "", "address": "support@acme.test"},
		},
		"cc":        []any{},
		"replyTo":   []any{map[string]any{"name": "Büro", "address": "buero@example.de"}},
		"subject":   "Frage zur Rechnung – dringend",
		"text":      "Guten Tag,\nwo bleibt die Gutschrift?",
		"html":      "",
		"replyText": "Guten Tag,\nwo bleibt die Gutschrift?",
		"headers": []any{
			map[string]any{"name": "X-Mailer", "value": "Thunderbird"},
			map[string]any{"name": "X-Mailer", "value": "second copy"},
		},
		"inReplyTo":  []any{},
		"references": []any{"r1@example.de"},
		"attachments": []any{map[string]any{
			"filename":    "Rechnung.pdf",
			"contentType": "application/pdf",
			"size":        int64(1024),
			"contentId":   "",
			"inline":      false,
			"sha256":      "00ff",
			"storageKey":  "acme/att/00ff",
			"part":        "2",
			"text":        "",
		}},
		"auth":     map[string]any{"spf": "softfail", "dkim": "pass", "dmarc": "fail", "spam": "spam"},
		"raw":      map[string]any{"mailtriage.BlobRef": map[string]any{"key": "acme/raw/1", "sha256": "beef", "size": int64(2048)}},
		"warnings": []any{"missing Date header"},
		"pii":      map[string]any{"phone": int32(4)},
	})

	want := InboundEmail{
		Tenant:     "acme",
		MessageID:  "abc@example.org",
		ThreadID:   "th-1",
		Source:     SourceWebhookRaw,
		ReceivedAt: foreignReceivedAt,
		Date:       foreignDate,
		Envelope: &Envelope{
			MailFrom:   "",
			RcptTo:     []string{"support@acme.test"},
			Helo:       "[192.0.2.1]",
			RemoteAddr: "192.0.2.1:25",
		},
		From:       &Address{Name: "Jürgen Groß", Address: "jg@example.de"},
		To:         []Address{{Address: "support@acme.test"}},
		ReplyTo:    []Address{{Name: "Büro", Address: "buero@example.de"}},
		Subject:    "Frage zur Rechnung – dringend",
		Text:       "Guten Tag,\nwo bleibt die Gutschrift?",
		ReplyText:  "Guten Tag,\nwo bleibt die Gutschrift?",
		Headers:    []Header{{Name: "X-Mailer", Value: "Thunderbird"}, {Name: "X-Mailer", Value: "second copy"}},
		References: []string{"r1@example.de"},
		Attachments: []Attachment{{
			Filename: "Rechnung.pdf", ContentType: "application/pdf", Size: 1024,
			SHA256: "00ff", StorageKey: "acme/att/00ff", Part: "2",
		}},
		Auth:     Auth{SPF: "softfail", DKIM: "pass", DMARC: "fail", Spam: "spam"},
		Raw:      &BlobRef{Key: "acme/raw/1", SHA256: "beef", Size: 2048},
		Warnings: []string{"missing Date header"},
		PII:      map[string]int32{"phone": 4},
	}

	var got InboundEmail
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}

func TestForeignInboundEmailDefaults(t *testing.T) {
	// A producer that sets only the fields without a default relies on the
	// schema defaults for everything else.
	data := writeForeign(t, "inbound_email.avsc", map[string]any{
		"receivedAt": foreignReceivedAtMillis,
	})

	want := InboundEmail{ReceivedAt: foreignReceivedAt}
	var got InboundEmail
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}

// foreignReason is the native form of the Reason that wantForeignReason
// holds.
func foreignReason() map[string]any {
	return map[string]any{
		"kind":           "rule",
		"ruleId":         "vip-domains",
		"rulesetVersion": "v12",
		"modelVersion":   "",
		"topLabels": []any{
			map[string]any{"label": "sales", "probability": 0.25},
		},
		"threshold": 0.75,
		"detail":    "sender domain on the VIP list",
	}
}

var wantForeignReason = Reason{
	Kind:           ReasonRule,
	RuleID:         "vip-domains",
	RulesetVersion: "v12",
	TopLabels:      []LabelScore{{Label: "sales", Probability: 0.25}},
	Threshold:      0.75,
	Detail:         "sender domain on the VIP list",
}

func TestForeignTicketCommand(t *testing.T) {
	data := writeForeign(t, "ticket_command.avsc", map[string]any{
		"eventId":       "e-1",
		"tenant":        "acme",
		"action":        "create",
		"ticketRef":     "T-9",
		"messageId":     "abc@example.org",
		"queue":         "sales",
		"priority":      "urgent",
		"tags":          []any{"vip"},
		"requester":     map[string]any{"name": "Jürgen", "address": "jg@example.de"},
		"recipients":    []any{map[string]any{"name": "", "address": "sales@acme.test"}},
		"subject":       "Angebot",
		"text":          "Bitte um ein Angebot.",
		"replyText":     "Bitte um ein Angebot.",
		"inReplyTo":     []any{"x@y"},
		"attachments":   []any{},
		"raw":           nil,
		"receivedAt":    foreignReceivedAtMillis,
		"reason":        foreignReason(),
		"skipAutoReply": true,
	})

	want := TicketCommand{
		EventID:       "e-1",
		Tenant:        "acme",
		Action:        "create",
		TicketRef:     "T-9",
		MessageID:     "abc@example.org",
		Queue:         "sales",
		Priority:      "urgent",
		Tags:          []string{"vip"},
		Requester:     Address{Name: "Jürgen", Address: "jg@example.de"},
		Recipients:    []Address{{Address: "sales@acme.test"}},
		Subject:       "Angebot",
		Text:          "Bitte um ein Angebot.",
		ReplyText:     "Bitte um ein Angebot.",
		InReplyTo:     []string{"x@y"},
		ReceivedAt:    foreignReceivedAt,
		Reason:        wantForeignReason,
		SkipAutoReply: true,
	}

	var got TicketCommand
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}

func TestForeignNotification(t *testing.T) {
	data := writeForeign(t, "notification.avsc", map[string]any{
		"eventId":      "n-1",
		"tenant":       "acme",
		"channel":      "slack",
		"ticketRef":    "T-9",
		"queue":        "sales",
		"priority":     "low",
		"senderDomain": "example.de",
		"subject":      "Angebot",
		"excerpt":      "Bitte um ein Angebot…",
		"receivedAt":   int64(-1),
	})

	want := Notification{
		EventID:      "n-1",
		Tenant:       "acme",
		Channel:      "slack",
		TicketRef:    "T-9",
		Queue:        "sales",
		Priority:     "low",
		SenderDomain: "example.de",
		Subject:      "Angebot",
		Excerpt:      "Bitte um ein Angebot…",
		ReceivedAt:   time.Date(1969, time.December, 31, 23, 59, 59, 999_000_000, time.UTC),
	}

	var got Notification
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}

func TestForeignDecisionEvent(t *testing.T) {
	data := writeForeign(t, "decision_event.avsc", map[string]any{
		"eventId":      "d-1",
		"tenant":       "acme",
		"messageId":    "abc@example.org",
		"ticketRef":    "",
		"queue":        "sales",
		"priority":     "normal",
		"tags":         []any{"vip", "de"},
		"reason":       foreignReason(),
		"duplicate":    false,
		"followUp":     true,
		"pii":          map[string]any{"iban": int32(1), "email": int32(2)},
		"source":       "poller",
		"senderDomain": "example.de",
		"subject":      "Angebot",
		"attachments":  int32(0),
		"warnings":     int32(5),
		"receivedAt":   foreignReceivedAtMillis,
		"decidedAt":    foreignDecidedAtMillis,
	})

	want := DecisionEvent{
		EventID:      "d-1",
		Tenant:       "acme",
		MessageID:    "abc@example.org",
		Queue:        "sales",
		Priority:     "normal",
		Tags:         []string{"vip", "de"},
		Reason:       wantForeignReason,
		FollowUp:     true,
		PII:          map[string]int32{"iban": 1, "email": 2},
		Source:       SourcePoller,
		SenderDomain: "example.de",
		Subject:      "Angebot",
		Warnings:     5,
		ReceivedAt:   foreignReceivedAt,
		DecidedAt:    foreignDecidedAt,
	}

	var got DecisionEvent
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}

func TestForeignDeadLetter(t *testing.T) {
	data := writeForeign(t, "dead_letter.avsc", map[string]any{
		"eventId":         "x-1",
		"tenant":          "",
		"stage":           "ingress",
		"error":           "parsing MIME: no header/body separator",
		"sourceTopic":     "",
		"sourcePartition": int32(-1),
		"sourceOffset":    int64(-1),
		"attempts":        int32(1),
		"traceId":         "",
		"failedAt":        foreignDecidedAtMillis,
		"key":             []byte{},
		"payload":         []byte("From: broken\x00\xff"),
		"raw":             map[string]any{"mailtriage.BlobRef": map[string]any{"key": "raw/x-1", "sha256": "aa", "size": int64(14)}},
	})

	want := DeadLetter{
		EventID:         "x-1",
		Stage:           "ingress",
		Error:           "parsing MIME: no header/body separator",
		SourcePartition: -1,
		SourceOffset:    -1,
		Attempts:        1,
		FailedAt:        foreignDecidedAt,
		Payload:         []byte("From: broken\x00\xff"),
		Raw:             &BlobRef{Key: "raw/x-1", SHA256: "aa", Size: 14},
	}

	var got DeadLetter
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	checkNoDiff(t, want, got)
}
