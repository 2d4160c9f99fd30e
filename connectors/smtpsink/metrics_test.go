package smtpsink

import (
	"testing"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
)

// TestSinkMetricsScrape sends two replies, one after a temporary failure,
// withholds a third by the per-recipient limit, and checks the counters
// that /metrics serves over loopback.
func TestSinkMetricsScrape(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)
	relay := startRelay(t)
	relay.tempFails = 1
	produceCommands(t, brokers,
		testCommand(1, "ana@customer.test"), testCommand(2, "ana@customer.test"), testCommand(3, "ben@customer.test"))

	reg := metrics.NewRegistry()
	cfg := testConfig(t, brokers, dsn, relay.addr)
	cfg.Metrics = metrics.NewSink(reg, metrics.SinkSMTP)
	s, stop := runSink(t, cfg)
	waitFor(t, "two sends and one suppression", func() bool { st := s.Stats(); return st.Sent == 2 && st.Suppressed == 1 })
	stop()

	got := metricstest.ScrapeRegistry(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"mailtriage_sink_records_total", 3},
		{"mailtriage_sink_delivered_total", 2},
		{"mailtriage_sink_retries_total", 1},
		{"mailtriage_sink_delivery_errors_total", 1},
		{"mailtriage_sink_dead_letters_total", 0},
	} {
		if v, ok := got.Value(c.name, "sink", "smtp"); v != c.want || !ok {
			t.Errorf("%s{sink=smtp} = %v (present %v), expected %v", c.name, v, ok, c.want)
		}
	}
	if v, _ := got.Value("mailtriage_autoreplies_total", "outcome", "sent", "reason", "none"); v != 2 {
		t.Errorf("mailtriage_autoreplies_total{outcome=sent} = %v, expected 2", v)
	}
	if v, _ := got.Value("mailtriage_autoreplies_total", "outcome", "suppressed", "reason", SuppressRateLimitRecipient); v != 1 {
		t.Errorf("mailtriage_autoreplies_total{outcome=suppressed,reason=%s} = %v, expected 1", SuppressRateLimitRecipient, v)
	}
	if n, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", "smtp"); n != 2 {
		t.Errorf("end-to-end latency of smtp has %d samples, expected 2 (one per reply sent)", n)
	}
	if leaked := got.LabelValuesContaining("@"); len(leaked) > 0 {
		t.Errorf("label values contain '@': %v", leaked)
	}
}
