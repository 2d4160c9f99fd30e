package tracing

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

func testSpanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	traceID, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	spanID, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled})
}

func TestInjectExtractRoundTrip(t *testing.T) {
	sc := testSpanContext(t)
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	rec := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "other", Value: []byte("kept")}}}

	Inject(ctx, rec)
	if got := (HeaderCarrier{Record: rec}).Get(HeaderTraceParent); got != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("traceparent %q, expected the W3C form of the span context", got)
	}
	if got := TraceID(rec); got != sc.TraceID().String() {
		t.Errorf("TraceID = %q, expected %s", got, sc.TraceID())
	}
	extracted := trace.SpanContextFromContext(Extract(context.Background(), rec))
	if !extracted.IsRemote() || extracted.SpanID() != sc.SpanID() {
		t.Errorf("extracted span context %+v, expected the remote span %s", extracted, sc.SpanID())
	}
	if rec.Headers[0].Key != "other" {
		t.Errorf("first header %q, expected the unrelated header kept", rec.Headers[0].Key)
	}
}

func TestInjectReplacesTraceParent(t *testing.T) {
	rec := &kgo.Record{Headers: []kgo.RecordHeader{
		{Key: HeaderTraceParent, Value: []byte("00-11111111111111111111111111111111-2222222222222222-01")},
		{Key: HeaderTraceParent, Value: []byte("00-33333333333333333333333333333333-4444444444444444-01")},
	}}
	Inject(trace.ContextWithSpanContext(context.Background(), testSpanContext(t)), rec)

	count := 0
	for _, key := range (HeaderCarrier{Record: rec}).Keys() {
		if key == HeaderTraceParent {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d traceparent headers, expected 1", count)
	}
	if got := TraceID(rec); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q, expected the injected trace", got)
	}
}

func TestInjectWithoutSpanLeavesRecord(t *testing.T) {
	rec := &kgo.Record{}
	Inject(context.Background(), rec)
	if len(rec.Headers) != 0 {
		t.Errorf("headers %v, expected none without a span", rec.Headers)
	}
	if got := TraceID(rec); got != "" {
		t.Errorf("TraceID = %q, expected empty", got)
	}
}

func TestNoopProviderPassesContextOn(t *testing.T) {
	// Without Setup the global provider is a no-op, and a role must still
	// pass on the trace context it read.
	in := &kgo.Record{}
	Inject(trace.ContextWithSpanContext(context.Background(), testSpanContext(t)), in)
	ctx, span := StartRecord(context.Background(), SpanProcessRecord, in)
	defer span.End()

	out := &kgo.Record{}
	Inject(ctx, out)
	if got := TraceID(out); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("output TraceID = %q, expected the input's trace", got)
	}
}

func TestEnabled(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	}
	tests := []struct {
		name     string
		endpoint string
		vars     map[string]string
		want     bool
	}{
		{"nothing set", "", nil, false},
		{"flag", "http://127.0.0.1:4318", nil, true},
		{"endpoint variable", "", map[string]string{EnvEndpoint: "http://127.0.0.1:4318"}, true},
		{"traces variable", "", map[string]string{EnvTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, true},
		{"sdk disabled", "http://127.0.0.1:4318", map[string]string{EnvSDKDisabled: "true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Config{Endpoint: tt.endpoint}).Enabled(env(tt.vars)); got != tt.want {
				t.Errorf("Enabled = %v, expected %v", got, tt.want)
			}
		})
	}
}

func TestTracesURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
		{"https://collector.example:4318/prefix/", "https://collector.example:4318/prefix/v1/traces"},
	}
	for _, tt := range tests {
		got, err := tracesURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("tracesURL(%q) = %q, %v, expected %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:4318", "grpc://127.0.0.1:4317", "http://"} {
		if _, err := tracesURL(bad); err == nil {
			t.Errorf("tracesURL(%q) returned no error, expected one naming --otlp-endpoint", bad)
		}
	}
}
