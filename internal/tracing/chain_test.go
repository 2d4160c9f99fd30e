package tracing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/connectors/slack"
	"mailtriage/connectors/webhook"
	"mailtriage/internal/tracing"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/topics"
)

// chainSecret signs the test's webhook request.
var chainSecret = []byte("acme-secret-0123456789abcdef")

// chainMessage is the JSON webhook payload. Its subject, address and name
// must not appear in any span attribute.
const chainMessage = `{"messageId": "<trace-1@example.org>",
	"from": {"name": "Ana Lima", "address": "ana@example.org"}, "to": ["support@example.com"],
	"subject": "Refund for order 100482", "text": "Please refund order 100482.",
	"receivedAt": "2024-03-05T09:12:50Z"}`

// TestSpanChainWebhookToSlack sends one signed webhook request through the
// gateway into kfake, the exactly-once runner and the Slack sink, and
// checks that the captured spans form one trace from the request to the
// Slack post.
func TestSpanChainWebhookToSlack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	exporter := installRecorder(t)
	brokers := startBroker(ctx, t)
	posts := startSlackCapture(t)

	gateway := startGateway(t, brokers)
	startRunner(ctx, t, brokers)
	startSlackSink(ctx, t, brokers, posts.url())

	status := postSigned(t, gateway.URL+"/v1/inbound/acme/json", []byte(chainMessage))
	if status != http.StatusAccepted {
		t.Fatalf("webhook status %d, expected %d", status, http.StatusAccepted)
	}
	posts.wait(ctx, t, 1)
	spans := waitForSpan(ctx, t, exporter, tracing.SpanSinkSlack)

	// The parent links from the sink span up to the root.
	byID := make(map[string]tracetest.SpanStub, len(spans))
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	sink := findSpan(t, spans, tracing.SpanSinkSlack)
	var chain []tracetest.SpanStub
	for s, ok := sink, true; ok; s, ok = byID[s.Parent.SpanID().String()] {
		chain = append([]tracetest.SpanStub{s}, chain...)
		if !s.Parent.IsValid() {
			break
		}
	}
	wantChain := []string{"webhook.request", "inbound.produce", "process.record", "sink.slack"}
	if got := spanNames(chain); strings.Join(got, " > ") != strings.Join(wantChain, " > ") {
		t.Fatalf("span chain %v, expected %v", got, wantChain)
	}
	if chain[0].Parent.IsValid() {
		t.Errorf("webhook.request has parent %s, expected a root span", chain[0].Parent.SpanID())
	}
	traceID := chain[0].SpanContext.TraceID()
	for _, s := range chain {
		if s.SpanContext.TraceID() != traceID {
			t.Errorf("span %s is in trace %s, expected %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
	}

	// The stage spans are children of process.record, in chain order.
	process := chain[2]
	var stages []tracetest.SpanStub
	for _, s := range spans {
		if s.Parent.SpanID() == process.SpanContext.SpanID() && strings.HasPrefix(s.Name, "stage.") {
			stages = append(stages, s)
		}
	}
	wantStages := []string{"stage.dedupe", "stage.redact", "stage.classify", "stage.route", "stage.thread", "stage.autoreply"}
	if got := spanNames(sortByStart(stages)); strings.Join(got, ",") != strings.Join(wantStages, ",") {
		t.Errorf("stage spans %v, expected %v", got, wantStages)
	}

	checkAttribute(t, process, string(tracing.AttrTenant), "acme")
	checkAttribute(t, process, string(tracing.AttrTopic), topics.Inbound)
	checkAttribute(t, chain[3], string(tracing.AttrTopic), topics.Notifications)
	for _, key := range []string{string(tracing.AttrQueue), string(tracing.AttrReasonKind)} {
		if attributeValue(process, key) == "" {
			t.Errorf("process.record has no %s attribute", key)
		}
	}
	for _, s := range spans {
		for _, kv := range s.Attributes {
			value := kv.Value.Emit()
			for _, secret := range []string{"ana@example.org", "Ana Lima", "Refund for order", "trace-1@example.org", "support@example.com"} {
				if strings.Contains(value, secret) {
					t.Errorf("span %s attribute %s = %q contains %q", s.Name, kv.Key, value, secret)
				}
			}
		}
	}
}

// installRecorder makes the global tracer provider record every span in
// memory until the test ends.
func installRecorder(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	otel.SetTracerProvider(provider)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = provider.Shutdown(context.Background())
	})
	return exporter
}

func startBroker(ctx context.Context, t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := topics.Ensure(ctx, kadm.NewClient(client), topics.Specs(1, 1)); err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	return brokers
}

func startGateway(t *testing.T, brokers []string) *httptest.Server {
	t.Helper()
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}})
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(pub.Close)
	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := webhook.New(webhook.Config{Tenants: map[string]webhook.Tenant{"acme": {Secrets: [][]byte{chainSecret}}}}, pub, store, nil)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	server := httptest.NewServer(gw)
	t.Cleanup(server.Close)
	return server
}

func startRunner(ctx context.Context, t *testing.T, brokers []string) {
	t.Helper()
	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: "../../config/rules.yaml"})
	if err != nil {
		t.Fatalf("loading the chain: %v", err)
	}
	r, err := runner.New(runner.Config{
		Brokers: brokers, Group: "trace-processor", TransactionalID: "trace-processor-1",
		InputTopic: topics.Inbound, Chain: chain, Outputs: processors.Outputs,
	})
	if err != nil {
		t.Fatalf("runner.New: %v", err)
	}
	runInBackground(ctx, t, r.Run, r.Close)
}

func startSlackSink(ctx context.Context, t *testing.T, brokers []string, url string) {
	t.Helper()
	sink, err := slack.New(slack.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Webhooks:   slack.Webhooks{Default: url},
		Ledger:     slack.NewMemoryLedger(),
	})
	if err != nil {
		t.Fatalf("slack.New: %v", err)
	}
	runInBackground(ctx, t, sink.Run, sink.Close)
}

// runInBackground runs run until the test ends, then stops it with
// closeFn and waits for it.
func runInBackground(ctx context.Context, t *testing.T, run func(context.Context) error, closeFn func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		closeFn()
	})
}

func postSigned(t *testing.T, url string, body []byte) int {
	t.Helper()
	timestamp := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(chainSecret, timestamp, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("posting the webhook: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// slackCapture is a Slack webhook stand-in on loopback that counts posts.
type slackCapture struct {
	srv   *httptest.Server
	mu    sync.Mutex
	count int
}

func startSlackCapture(t *testing.T) *slackCapture {
	t.Helper()
	c := &slackCapture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.count++
		c.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *slackCapture) url() string { return c.srv.URL + "/services/T0/B0/trace" }

func (c *slackCapture) wait(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for {
		c.mu.Lock()
		count := c.count
		c.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the Slack capture server got %d posts, expected %d", count, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForSpan returns the ended spans once one is named name.
func waitForSpan(ctx context.Context, t *testing.T, exporter *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	t.Helper()
	for {
		spans := exporter.GetSpans()
		for _, s := range spans {
			if s.Name == name {
				return spans
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s span ended; spans so far: %v", name, spanNames(spans))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func findSpan(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span named %s among %v", name, spanNames(spans))
	return tracetest.SpanStub{}
}

func spanNames(spans []tracetest.SpanStub) []string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name
	}
	return names
}

func sortByStart(spans []tracetest.SpanStub) []tracetest.SpanStub {
	sorted := append([]tracetest.SpanStub(nil), spans...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].StartTime.Before(sorted[j-1].StartTime); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	return sorted
}

func attributeValue(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func checkAttribute(t *testing.T, s tracetest.SpanStub, key, want string) {
	t.Helper()
	if got := attributeValue(s, key); got != want {
		t.Errorf("span %s attribute %s = %q, expected %q", s.Name, key, got, want)
	}
}
