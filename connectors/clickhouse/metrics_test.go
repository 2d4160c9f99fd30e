package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
	"mailtriage/topics"
)

// TestSinkMetricsScrape inserts 20 events and dead-letters one undecodable
// record, then checks the delivery counters that /metrics serves over
// loopback.
func TestSinkMetricsScrape(t *testing.T) {
	const n = 20
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	records := append(eventRecords(t, "acme", 0, n), &kgo.Record{Topic: topics.Analytics, Key: []byte("acme/garbage"), Value: []byte("not avro")})
	produce(ctx, t, newClient(t, brokers), records)

	var logs logBuffer
	reg := metrics.NewRegistry()
	cfg := testConfig(db, brokers, "sink-metrics", logs.logger())
	cfg.BatchWait = 50 * time.Millisecond
	cfg.Metrics = metrics.NewSink(reg, metrics.SinkClickHouse)
	sink := startSink(t, cfg)
	waitForFinalCount(ctx, t, db, n)
	readDeadLetters(ctx, t, brokers, 1)
	if err := sink.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	got := metricstest.ScrapeRegistry(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"mailtriage_sink_delivered_total", n},
		{"mailtriage_sink_dead_letters_total", 1},
	} {
		if v, ok := got.Value(c.name, "sink", "clickhouse"); v != c.want || !ok {
			t.Errorf("%s{sink=clickhouse} = %v (present %v), expected %v", c.name, v, ok, c.want)
		}
	}
	// A record polled again after a rebalance counts again, as in Stats.
	polled, _ := got.Value("mailtriage_sink_records_total", "sink", "clickhouse")
	if want := float64(sink.Stats().Records); polled != want || polled < n+1 {
		t.Errorf("mailtriage_sink_records_total{sink=clickhouse} = %v, expected Stats().Records = %v and at least %d", polled, want, n+1)
	}
	if count, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", "clickhouse"); count != n {
		t.Errorf("end-to-end latency of clickhouse has %d samples, expected %d (one per row)", count, n)
	}
	if leaked := got.LabelValuesContaining("@"); len(leaked) > 0 {
		t.Errorf("label values contain '@': %v", leaked)
	}
}
