package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// metricsRules routes by subject words, so each message's rule is known.
const metricsRules = `
version: "metrics-test"
rules:
  - id: billing
    when: {subject_keywords: [invoice]}
    then: {queue: billing}
  - id: outage
    when: {subject_keywords: [outage]}
    then: {queue: incidents, priority: urgent}
`

// TestRunnerMetricsScrape runs a known batch through the production chain
// and checks the counts that /metrics serves over loopback.
func TestRunnerMetricsScrape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := startCluster(ctx, t)

	// 12 distinct messages: 5 match rule billing, 3 match rule outage and 4
	// match none; 2 of the unmatched ones are automatic replies, which the
	// guard withholds an acknowledgement from.
	var distinct []inbound
	add := func(id, subject string, headers ...schemas.Header) {
		e := testEmail("acme", id, subject)
		e.From = &schemas.Address{Name: "Customer", Address: id + "@customer.example"}
		e.To = []schemas.Address{{Address: "support@acme.example"}}
		e.Headers = headers
		distinct = append(distinct, emailRecord(t, e, -1))
	}
	for i := range 5 {
		add(fmt.Sprintf("bill%d", i), fmt.Sprintf("Invoice %d is wrong", i))
	}
	for i := range 3 {
		add(fmt.Sprintf("down%d", i), fmt.Sprintf("Outage in region %d", i))
	}
	for i := range 2 {
		add(fmt.Sprintf("misc%d", i), fmt.Sprintf("Question %d", i))
	}
	for i := range 2 {
		add(fmt.Sprintf("auto%d", i), fmt.Sprintf("Away %d", i), schemas.Header{Name: "Auto-Submitted", Value: "auto-replied"})
	}
	const (
		wantDuplicates  = 2
		wantDeadLetters = 1
	)
	in := append([]inbound(nil), distinct...)
	in = append(in, distinct[0], distinct[8]) // a billing message and an unmatched one, again
	in = append(in, inbound{raw: []byte("not an avro record"), key: "acme/poison", partition: 1})
	wantRecords := len(in)
	ends := produceInbound(ctx, t, brokers, in...)

	rules, err := processors.ParseRules("metrics-test.yaml", []byte(metricsRules))
	if err != nil {
		t.Fatalf("ParseRules: %v", err)
	}
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: rules})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}

	reg := metrics.NewRegistry()
	srv, err := metrics.Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx) }()
	t.Cleanup(func() {
		stopServe()
		if err := <-served; err != nil {
			t.Errorf("metrics Serve returned %v, expected nil after cancel", err)
		}
	})

	cfg := testConfig(brokers)
	cfg.Chain = chain
	cfg.Outputs = processors.Outputs
	cfg.MaxPollRecords = 4
	cfg.Metrics = metrics.NewProcessor(reg)
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v, expected nil after cancel", err)
	}

	got := metricstest.Scrape(t, "http://"+srv.Addr().String()+metrics.Path)
	expectValue := func(want float64, name string, labels ...string) {
		t.Helper()
		v, ok := got.Value(name, labels...)
		if !ok {
			t.Errorf("%s%v is missing from /metrics", name, labels)
			return
		}
		if v != want {
			t.Errorf("%s%v = %v, expected %v", name, labels, v, want)
		}
	}
	expectCount := func(want uint64, name string, labels ...string) {
		t.Helper()
		n, ok := got.Count(name, labels...)
		if !ok {
			t.Errorf("histogram %s%v is missing from /metrics", name, labels)
			return
		}
		if n != want {
			t.Errorf("histogram %s%v has %d samples, expected %d", name, labels, n, want)
		}
	}

	processed := wantRecords - wantDeadLetters // records that produced outputs
	expectValue(float64(wantRecords), "mailtriage_records_in_total", "topic", topics.Inbound)
	expectValue(wantDuplicates, "mailtriage_duplicates_dropped_total")
	expectValue(wantDeadLetters, "mailtriage_dead_letters_total", "stage", StageDecode)
	expectValue(0, "mailtriage_transactions_total", "result", "abort")
	if commits, _ := got.Value("mailtriage_transactions_total", "result", "commit"); commits < 1 {
		t.Errorf("mailtriage_transactions_total{result=commit} = %v, expected at least 1", commits)
	}
	expectValue(5, "mailtriage_rule_hits_total", "rule_id", "billing")
	expectValue(3, "mailtriage_rule_hits_total", "rule_id", "outage")
	if n := len(got.Series("mailtriage_rule_hits_total")); n != 2 {
		t.Errorf("mailtriage_rule_hits_total has %d series, expected 2 (billing and outage)", n)
	}
	expectValue(4, "mailtriage_model_hits_total", "result", "fallback")
	expectValue(0, "mailtriage_model_hits_total", "result", "model")
	expectValue(10, "mailtriage_autoreplies_total", "outcome", "requested", "reason", "none")
	expectValue(2, "mailtriage_autoreplies_total", "outcome", "suppressed", "reason", processors.SuppressAutoSubmitted)

	// Every decoded record enters dedupe; the duplicates stop there and the
	// rest pass every stage.
	expectValue(float64(processed), "mailtriage_stage_records_in_total", "stage", "dedupe")
	expectValue(float64(processed-wantDuplicates), "mailtriage_stage_records_out_total", "stage", "dedupe")
	expectCount(uint64(processed), "mailtriage_stage_duration_seconds", "stage", "dedupe")
	for _, stage := range []string{"redact", "classify", "route", "thread", "autoreply"} {
		want := float64(processed - wantDuplicates)
		expectValue(want, "mailtriage_stage_records_in_total", "stage", stage)
		expectValue(want, "mailtriage_stage_records_out_total", "stage", stage)
		expectCount(uint64(want), "mailtriage_stage_duration_seconds", "stage", stage)
	}
	expectCount(uint64(processed), "mailtriage_end_to_end_latency_seconds", "output", "processor")

	// The output counters match what the output topics hold.
	for _, topic := range []string{topics.Tickets, topics.Analytics, topics.Notifications, topics.AutoReplies} {
		want := float64(len(readTopic(ctx, t, brokers, topic, true)))
		if v, _ := got.Value("mailtriage_records_out_total", "topic", topic); v != want {
			t.Errorf("mailtriage_records_out_total{topic=%s} = %v, expected %v as read from the topic", topic, v, want)
		}
	}

	// Every input partition with records has a lag series.
	for p, end := range ends {
		if end == 0 {
			continue
		}
		if _, ok := got.Value("mailtriage_consumer_lag_records", "topic", topics.Inbound, "partition", fmt.Sprint(p)); !ok {
			t.Errorf("mailtriage_consumer_lag_records is missing for partition %d", p)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("go_goroutines is missing: the Go collector is not registered")
	}
	if leaked := got.LabelValuesContaining("@"); len(leaked) > 0 {
		t.Errorf("label values contain '@': %v", leaked)
	}
}
