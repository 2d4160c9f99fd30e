package e2e

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/slack"
	"mailtriage/topics"
)

// flakySlack is a Slack stand-in on loopback that responds with 429 and
// a Retry-After header, or with 500, to a share of the posts. It records
// the bodies of the posts it accepts.
type flakySlack struct {
	srv *httptest.Server

	mu       sync.Mutex
	rng      *rand.Rand
	failRate float64
	posts    []string
	limited  int // 429 responses
	failed   int // 500 responses
}

// newFlakySlack starts a flakySlack that fails failRate of the posts,
// half with 429 and half with 500, closed at cleanup.
func newFlakySlack(t *testing.T, rng *rand.Rand, failRate float64) *flakySlack {
	f := &flakySlack{rng: rng, failRate: failRate}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading the body failed", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		roll := f.rng.Float64()
		switch {
		case roll < f.failRate/2:
			f.limited++
			f.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "rate_limited", http.StatusTooManyRequests)
			return
		case roll < f.failRate:
			f.failed++
			f.mu.Unlock()
			http.Error(w, "internal_error", http.StatusInternalServerError)
			return
		}
		f.posts = append(f.posts, string(body))
		f.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// bodies returns the accepted posts.
func (f *flakySlack) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.posts...)
}

// rejected returns the numbers of 429 and 500 responses.
func (f *flakySlack) rejected() (limited, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited, f.failed
}

// slackFailRate is the share of posts that the stand-in of
// TestFaultSlackErrors rejects: 2%, about a thousand posts in a run of
// 50,000. The sink posts one notification at a time, so each 429 stalls
// it for the capped Retry-After of 100 ms. At 20% these waits took about
// ten minutes of a run here.
const slackFailRate = 0.02

// TestFaultSlackErrors runs the pipeline against a Slack stand-in that
// responds with 429 (Retry-After: 1) or 500 to slackFailRate of the posts.
// The sink must retry each notification until it is accepted: one
// accepted post per ticket, none twice, none dead-lettered.
func TestFaultSlackErrors(t *testing.T) {
	run := newFaultRun(t, "slack")
	ctx := run.context(t)
	flaky := newFlakySlack(t, faultRand(t), slackFailRate)

	startTicketSink(ctx, t, run.adm, run.brokers, run.dsn, run.pool, run.group+"-postgres")
	startClickHouseSink(ctx, t, run.adm, run.brokers, run.chAddr, run.chDB, run.chTable, run.group+"-clickhouse")
	startPatientSlackSink(ctx, t, run, flaky.srv.URL+"/services/T000/B000/fault")
	run.produce(ctx, t)

	proc := startFaultProcessor(t, run, "processor 1")
	run.waitAllProcessed(ctx, t, &proc)
	run.check(ctx, t, flaky.bodies)
	limited, failed := flaky.rejected()
	t.Logf("the Slack stand-in responded with 429 to %d posts and with 500 to %d", limited, failed)
	if limited == 0 || failed == 0 {
		t.Errorf("the Slack stand-in responded with 429 %d times and with 500 %d times, expected both above 0", limited, failed)
	}
	proc.stop(t)
}

// startPatientSlackSink runs the Slack sink of run with a retry policy
// that outlasts the stand-in's failures: up to 20 posts per notification,
// short backoff, and a Retry-After capped at 100 ms to keep the run short.
func startPatientSlackSink(ctx context.Context, t *testing.T, run *faultRun, webhook string) {
	t.Helper()
	if err := slack.Migrate(ctx, run.pool, run.schema); err != nil {
		t.Fatalf("migrating the Slack ledger: %v", err)
	}
	group := run.group + "-slack"
	seedGroup(ctx, t, run.adm, group, endOffsets(ctx, t, run.adm, topics.Notifications))
	sink, err := slack.New(slack.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(run.brokers...)},
		Group:      group,
		Webhooks:   slack.Webhooks{Tenants: map[string]string{run.tenant: webhook}},
		Ledger:     slack.NewPostgresLedger(run.pool, run.schema),
		Logger:     testLogger(t, "sink-slack"),
		Retry: slack.RetryPolicy{
			MaxAttempts:   20,
			BaseDelay:     10 * time.Millisecond,
			MaxDelay:      200 * time.Millisecond,
			MaxRetryAfter: 100 * time.Millisecond,
		},
	})
	if err != nil {
		t.Fatalf("creating the Slack sink: %v", err)
	}
	runSink(t, "slack", sink.Run, sink.Close)
}
