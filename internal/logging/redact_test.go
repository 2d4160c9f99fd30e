package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"mailtriage/schemas"
)

// logLine logs one line at info level through New and returns it decoded.
func logLine(t *testing.T, log func(*slog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log(New(&buf, Options{Role: "test", Format: FormatJSON, Level: slog.LevelDebug}))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q is not JSON: %v", buf.String(), err)
	}
	return line
}

func TestRedactByKey(t *testing.T) {
	tests := []struct {
		key   string
		value any
		want  any
	}{
		{"password", "hunter2", Redacted},
		{"db-password", "hunter2", Redacted},
		{"api_key", "abc123", Redacted},
		{"Authorization", "Bearer xyz", Redacted},
		{"signature", "v1=deadbeef", Redacted},
		{"thread_salt_set", true, true},
		{"token_count", 3, float64(3)},
		{"body", "Hello Jane, my card is 4111 1111 1111 1111", Redacted},
		{"subject", "Refund for order 42", Redacted},
		{"text", "plain text body", Redacted},
		{"html", "<p>hi</p>", Redacted},
		{"from", "Jane Doe", Redacted},
		{"reply-to", "Jane Doe", Redacted},
		{"to", []string{"a", "b"}, Redacted},
		{"sender_email", "jane@example.com", Redacted},
		{"key", "acme/<abc@mail.example.com>", KeyHash([]byte("acme/<abc@mail.example.com>"))},
		{"message_id", "<abc@mail.example.com>", KeyHash([]byte("<abc@mail.example.com>"))},
		{"queue", "billing", "billing"},
		{"partition", 4, float64(4)},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			line := logLine(t, func(l *slog.Logger) { l.Info("event", tt.key, tt.value) })
			if got := line[tt.key]; got != tt.want {
				t.Errorf("%s = %#v, expected %#v", tt.key, got, tt.want)
			}
		})
	}
}

func TestRedactScrubsValues(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"address in string", "rejected jane.doe@example.com at RCPT", "rejected [EMAIL] at RCPT"},
		{"unicode address", "to jürgen@beispiel.de", "to [EMAIL]"},
		{"message id", "duplicate of <CAF1x2@mail.gmail.com>", "duplicate of <[EMAIL]>"},
		{"error", errors.New("parsing From jane@example.com: bad header"), "parsing From [EMAIL]: bad header"},
		{"url password", "dial postgres://app:s3cret@127.0.0.1:5432/db failed", "dial postgres://app:[REDACTED]@127.0.0.1:5432/db failed"},
		{"dsn pair", "host=db user=app password=s3cret sslmode=disable", "host=db user=app password=[REDACTED] sslmode=disable"},
		{"bytes", []byte("raw MIME of the message"), "[23 bytes]"},
		{"plain", "127.0.0.1:19092", "127.0.0.1:19092"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := logLine(t, func(l *slog.Logger) { l.Info("event", "detail", tt.value) })
			if got := line["detail"]; got != tt.want {
				t.Errorf("detail = %#v, expected %q", got, tt.want)
			}
		})
	}
}

func TestRedactMessageAndWithAttrs(t *testing.T) {
	line := logLine(t, func(l *slog.Logger) {
		l.With("password", "hunter2", slog.Group("peer", "address", "bob@example.org")).
			Info("mail from alice@example.org rejected")
	})
	if got := line["msg"]; got != "mail from [EMAIL] rejected" {
		t.Errorf("msg = %#v, expected the address masked", got)
	}
	if got := line["password"]; got != Redacted {
		t.Errorf("password = %#v, expected %q", got, Redacted)
	}
	peer, _ := line["peer"].(map[string]any)
	if got := peer["address"]; got != EmailMarker {
		t.Errorf("peer.address = %#v, expected %q", got, EmailMarker)
	}
	if got := line[KeyRole]; got != "test" {
		t.Errorf("role = %#v, expected test", got)
	}
}

func TestRedactContractTypes(t *testing.T) {
	email := &schemas.InboundEmail{Tenant: "acme", Subject: "Invoice 77 overdue", Text: "Call me on +49 30 1234567"}
	line := logLine(t, func(l *slog.Logger) { l.Info("event", "message", email, "list", []schemas.InboundEmail{*email}) })
	if got := line["message"]; got != "[REDACTED schemas.InboundEmail]" {
		t.Errorf("message = %#v, expected the contract type masked", got)
	}
	if got := line["list"]; got != "[REDACTED schemas.InboundEmail]" {
		t.Errorf("list = %#v, expected the contract type masked", got)
	}
}

func TestRedactStructWithAddress(t *testing.T) {
	type peer struct {
		Name string
		Addr string
	}
	line := logLine(t, func(l *slog.Logger) {
		l.Info("event", "peer", peer{Name: "relay", Addr: "ops@example.net"}, "counts", map[string]int{"a": 1})
	})
	if got, _ := line["peer"].(string); strings.Contains(got, "ops@example.net") || !strings.Contains(got, EmailMarker) {
		t.Errorf("peer = %#v, expected the address masked", line["peer"])
	}
	counts, ok := line["counts"].(map[string]any)
	if !ok || counts["a"] != float64(1) {
		t.Errorf("counts = %#v, expected the map kept as JSON", line["counts"])
	}
}

func TestTraceHandlerAddsIDs(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))

	line := logLine(t, func(l *slog.Logger) { l.InfoContext(ctx, "event") })
	if got := line[KeyTraceID]; got != traceID.String() {
		t.Errorf("trace_id = %#v, expected %s", got, traceID)
	}
	if got := line[KeySpanID]; got != spanID.String() {
		t.Errorf("span_id = %#v, expected %s", got, spanID)
	}

	line = logLine(t, func(l *slog.Logger) { l.Info("event") })
	if _, ok := line[KeyTraceID]; ok {
		t.Errorf("trace_id = %#v on a line without a span, expected none", line[KeyTraceID])
	}
}

func TestRecordAttributes(t *testing.T) {
	rec := &kgo.Record{
		Topic: "mailtriage.inbound.v1", Partition: 2, Offset: 41, Key: []byte("acme/<m1@example.com>"),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}},
	}
	line := logLine(t, func(l *slog.Logger) { l.Info("event", Record(rec)...) })

	want := map[string]any{
		KeyTopic:     "mailtriage.inbound.v1",
		KeyPartition: float64(2),
		KeyOffset:    float64(41),
		KeyKeyHash:   KeyHash(rec.Key),
		KeyTraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
	}
	for key, value := range want {
		if line[key] != value {
			t.Errorf("%s = %#v, expected %#v", key, line[key], value)
		}
	}
	if len(KeyHash(rec.Key)) != 12 {
		t.Errorf("key hash %q has %d digits, expected 12", KeyHash(rec.Key), len(KeyHash(rec.Key)))
	}
}

func TestTraceIDOfMalformed(t *testing.T) {
	for _, value := range []string{"", "garbage", "00-xyz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		rec := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(value)}}}
		if got := TraceIDOf(rec); got != "" {
			t.Errorf("TraceIDOf(%q) = %q, expected empty", value, got)
		}
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Options{Format: FormatText}).Info("event", "to", "jane@example.com")
	if got := buf.String(); !strings.Contains(got, "to="+Redacted) || strings.Contains(got, "jane@") {
		t.Errorf("text line %q, expected to=%s", got, Redacted)
	}
	var f Format
	if err := f.Set("yaml"); err == nil || !strings.Contains(err.Error(), "json or text") {
		t.Errorf("Set(yaml) error %v, expected one naming json or text", err)
	}
}

func TestLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, Options{Level: slog.LevelWarn}).Info("quiet")
	if buf.Len() != 0 {
		t.Errorf("info line %q written at level WARN, expected nothing", buf.String())
	}
}
