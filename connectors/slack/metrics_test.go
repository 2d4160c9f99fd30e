package slack

import (
	"context"
	"net/http"
	"testing"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
)

// TestSinkMetricsScrape posts a known set of notifications and checks the
// delivery counters that /metrics serves over loopback.
func TestSinkMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	// Event 0 fails once with 500 and is retried; event 1 gets a 400 and
	// goes to the DLQ; events 2 and 3 are posted at once; the globex
	// notification has no webhook.
	ns := notifications("acme", 4)
	srv.setScript(func(eventID string, seen int) reply {
		switch {
		case eventID == ns[0].EventID && seen == 0:
			return reply{status: http.StatusInternalServerError}
		case eventID == ns[1].EventID:
			return reply{status: http.StatusBadRequest, body: "invalid_payload"}
		}
		return reply{}
	})
	produceNotifications(ctx, t, brokers, append(ns, testNotification("globex", 9))...)

	reg := metrics.NewRegistry()
	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), Webhooks{Tenants: map[string]string{"acme": srv.url("T000/B000/" + secretToken)}})
	cfg.Metrics = metrics.NewSink(reg, metrics.SinkSlack)
	s := startSink(t, cfg)
	waitHandled(t, s, 5)

	got := metricstest.ScrapeRegistry(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"mailtriage_sink_records_total", 5},
		{"mailtriage_sink_delivered_total", 3},
		{"mailtriage_sink_retries_total", 1},
		{"mailtriage_sink_delivery_errors_total", 2},
		{"mailtriage_sink_dead_letters_total", 1},
	} {
		if v, ok := got.Value(c.name, "sink", "slack"); v != c.want || !ok {
			t.Errorf("%s{sink=slack} = %v (present %v), expected %v", c.name, v, ok, c.want)
		}
	}
	if v, _ := got.Value("mailtriage_sink_skipped_total", "sink", "slack", "reason", "no_webhook"); v != 1 {
		t.Errorf("mailtriage_sink_skipped_total{reason=no_webhook} = %v, expected 1", v)
	}
	if n, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", "slack"); n != 3 {
		t.Errorf("end-to-end latency of slack has %d samples, expected 3 (one per post)", n)
	}
	if leaked := got.LabelValuesContaining("@"); len(leaked) > 0 {
		t.Errorf("label values contain '@': %v", leaked)
	}
}
