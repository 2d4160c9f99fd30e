package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
)

func TestWebhookCountsStatusCodes(t *testing.T) {
	reg := metrics.NewRegistry()
	// The handler responds as the gateway does: 202 for accepted mail, 401
	// for a bad signature and 413 for a body over the limit.
	gateway := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/inbound/unsigned":
			w.WriteHeader(http.StatusUnauthorized)
		case "/inbound/large":
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	srv := httptest.NewServer(metrics.NewWebhook(reg).Handler(gateway))
	defer srv.Close()

	requests := map[string]int{"/inbound/ok": 3, "/inbound/unsigned": 2, "/inbound/large": 1}
	for path, n := range requests {
		for range n {
			resp, err := http.Post(srv.URL+path, "message/rfc822", strings.NewReader("Subject: hi\r\n\r\nbody"))
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			resp.Body.Close()
		}
	}

	got := metricstest.ScrapeRegistry(t, reg)
	for code, want := range map[string]float64{"202": 3, "401": 2, "413": 1} {
		if v, _ := got.Value("mailtriage_webhook_requests_total", "code", code); v != want {
			t.Errorf("mailtriage_webhook_requests_total{code=%s} = %v, expected %v", code, v, want)
		}
		if n, _ := got.Count("mailtriage_webhook_request_duration_seconds", "code", code); n != uint64(want) {
			t.Errorf("mailtriage_webhook_request_duration_seconds{code=%s} has %d samples, expected %v", code, n, want)
		}
	}
}

func TestBatchAbortCountsRetriesOnly(t *testing.T) {
	reg := metrics.NewRegistry()
	p := metrics.NewProcessor(reg)

	aborted := p.NewBatch()
	for range 3 {
		aborted.Input("in")
		aborted.Stage("dedupe", time.Millisecond, true)
		aborted.RuleHit("billing")
	}
	aborted.Abort()

	committed := p.NewBatch()
	committed.Input("in")
	committed.Stage("dedupe", time.Millisecond, false)
	committed.Duplicate()
	committed.Processed(time.Now().Add(-2 * time.Second))
	committed.Commit(time.Now())

	got := metricstest.ScrapeRegistry(t, reg)
	for _, c := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{1, "mailtriage_transactions_total", []string{"result", "abort"}},
		{1, "mailtriage_transactions_total", []string{"result", "commit"}},
		{3, "mailtriage_retries_total", []string{"reason", "transaction"}},
		{1, "mailtriage_records_in_total", []string{"topic", "in"}},
		{1, "mailtriage_stage_records_in_total", []string{"stage", "dedupe"}},
		{0, "mailtriage_stage_records_out_total", []string{"stage", "dedupe"}},
		{1, "mailtriage_duplicates_dropped_total", nil},
	} {
		v, ok := got.Value(c.name, c.labels...)
		if c.want == 0 && !ok {
			continue // a series never incremented may be absent
		}
		if v != c.want {
			t.Errorf("%s%v = %v, expected %v", c.name, c.labels, v, c.want)
		}
	}
	if _, ok := got.Value("mailtriage_rule_hits_total", "rule_id", "billing"); ok {
		t.Error("rule hits of the aborted batch were counted, expected none")
	}
	if n, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", "processor"); n != 1 {
		t.Errorf("processor end-to-end latency has %d samples, expected 1", n)
	}
}

func TestProcessorAndSinksShareRegistry(t *testing.T) {
	reg := metrics.NewRegistry()
	// The demo serves the processor and several sinks from one registry.
	p := metrics.NewProcessor(reg)
	pg := metrics.NewSink(reg, metrics.SinkPostgres)
	smtp := metrics.NewSink(reg, metrics.SinkSMTP)

	b := p.NewBatch()
	b.AutoReply(metrics.AutoReplyRequested, metrics.NoReason)
	b.Processed(time.Now())
	b.Commit(time.Now())
	pg.Delivered(time.Now())
	smtp.AutoReplySent()

	got := metricstest.ScrapeRegistry(t, reg)
	for _, output := range []string{"processor", "postgres"} {
		if n, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", output); n != 1 {
			t.Errorf("end-to-end latency of %s has %d samples, expected 1", output, n)
		}
	}
	for outcome, want := range map[string]float64{"requested": 1, "sent": 1} {
		if v, _ := got.Value("mailtriage_autoreplies_total", "outcome", outcome, "reason", "none"); v != want {
			t.Errorf("mailtriage_autoreplies_total{outcome=%s} = %v, expected %v", outcome, v, want)
		}
	}
}

func TestNilMetricSetsRecordNothing(t *testing.T) {
	// A role without --metrics-addr has a nil registry and nil sets.
	var reg *metrics.Registry
	p := metrics.NewProcessor(reg)
	s := metrics.NewSink(reg, metrics.SinkSlack)
	if p != nil || s != nil {
		t.Fatalf("NewProcessor and NewSink of a nil registry = %v, %v, expected nil", p, s)
	}
	b := p.NewBatch()
	b.Input("in")
	b.Commit(time.Now())
	b.Abort()
	p.Retried(metrics.RetryProduce, 1)
	s.Delivered(time.Now())
	s.DeliveryError()
	metrics.NewIngress(reg).Published("webhook", metrics.IngressPublished, 1)
	metrics.NewSMTP(reg).Reply("data", 250)
	if h := metrics.NewWebhook(reg).Handler(http.NotFoundHandler()); h == nil {
		t.Error("Handler of a nil Webhook returned nil, expected the wrapped handler")
	}
}

func TestStartRole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	reg, stop, err := metrics.StartRole(ctx, "", nil)
	if err != nil || reg != nil {
		t.Fatalf("StartRole with an empty address = %v, %v, expected a nil registry and no error", reg, err)
	}
	stop()

	_, _, err = metrics.StartRole(ctx, "127.0.0.1:not-a-port", nil)
	if err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("StartRole with an invalid address returned %v, expected an error naming --metrics-addr", err)
	}

	reg, stop, err = metrics.StartRole(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("StartRole on a free port: %v", err)
	}
	if reg == nil {
		t.Fatal("StartRole on a free port returned a nil registry")
	}
	stop()
}

func TestServeOnlyMetricsPath(t *testing.T) {
	reg := metrics.NewRegistry()
	srv, err := metrics.Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	base := "http://" + srv.Addr().String()
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: status %d, expected 404", resp.StatusCode)
	}
	if _, ok := metricstest.Scrape(t, base+metrics.Path)["process_cpu_seconds_total"]; !ok {
		t.Error("process_cpu_seconds_total is missing: the process collector is not registered")
	}

	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v after cancel, expected nil", err)
	}
}
