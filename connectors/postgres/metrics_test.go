package postgres

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
	"mailtriage/topics"
)

// TestSinkMetricsScrape applies two good commands and three bad records and
// checks the delivery counters that /metrics serves over loopback.
func TestSinkMetricsScrape(t *testing.T) {
	dsn := testSchema(t)
	brokers := startKafka(t)

	nul := command("acme", "T-1", ActionAppend, 2)
	nul.Subject = "broken \x00 subject"
	records := []*kgo.Record{
		commandRecord(t, topics.Tickets, command("acme", "T-1", ActionCreate, 0)),
		{Topic: topics.Tickets, Key: []byte("acme/T-1"), Value: []byte("not avro")},
		commandRecord(t, topics.Tickets, command("acme", "T-1", "merge", 1)),
		commandRecord(t, topics.Tickets, nul),
		commandRecord(t, topics.Tickets, command("acme", "T-1", ActionAppend, 3)),
	}
	produce(t, brokers, records...)

	reg := metrics.NewRegistry()
	cfg := testConfig(dsn, brokers, &syncBuffer{})
	cfg.Metrics = metrics.NewSink(reg, metrics.SinkPostgres)
	stop := runSink(t, cfg)
	waitApplied(t, newPool(t, dsn), cfg.Group, int64(len(records)), 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, expected nil after cancel", err)
	}

	got := metricstest.ScrapeRegistry(t, reg)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"mailtriage_sink_records_total", 5},
		{"mailtriage_sink_delivered_total", 2},
		{"mailtriage_sink_dead_letters_total", 3},
		{"mailtriage_sink_retries_total", 0},
	} {
		if v, ok := got.Value(c.name, "sink", "postgres"); v != c.want || !ok {
			t.Errorf("%s{sink=postgres} = %v (present %v), expected %v", c.name, v, ok, c.want)
		}
	}
	if n, _ := got.Count("mailtriage_end_to_end_latency_seconds", "output", "postgres"); n != 2 {
		t.Errorf("end-to-end latency of postgres has %d samples, expected 2 (one per written command)", n)
	}
	if leaked := got.LabelValuesContaining("@"); len(leaked) > 0 {
		t.Errorf("label values contain '@': %v", leaked)
	}
}
