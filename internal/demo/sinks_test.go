package demo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestDemoSlackSinkMemoryLedger runs the demo on kfake with only the Slack
// sink, whose ledger is then in memory, and checks that the demo waits for
// one post per routed message before it returns.
func TestDemoSlackSinkMemoryLedger(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	report, err := Run(ctx, Config{
		Mail:      []string{sampleMailbox},
		RulesFile: sampleRules,
		Timeout:   80 * time.Second,
		Sinks:     SinkConfig{SlackWebhook: srv.URL + "/services/T/B/demo"},
	})
	if err != nil {
		t.Fatalf("demo run: %v", err)
	}

	sinks := report.Totals.Sinks
	if sinks == nil || sinks.Slack == nil {
		t.Fatalf("sink totals = %+v, expected Slack totals", sinks)
	}
	if sinks.Postgres != nil || sinks.ClickHouse != nil {
		t.Errorf("sink totals = %+v, expected only Slack", sinks)
	}
	if sinks.Slack.Posts != report.Totals.Routed || report.Totals.Routed != 32 {
		t.Errorf("Slack posts = %d for %d routed messages, expected 32 of each", sinks.Slack.Posts, report.Totals.Routed)
	}
	if got := posts.Load(); got != 32 {
		t.Errorf("the webhook received %d posts, expected 32", got)
	}
}
