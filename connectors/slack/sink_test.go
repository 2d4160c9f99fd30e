package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors/runner"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// testTimeout bounds each sink test.
const testTimeout = 60 * time.Second

// hookFor returns Webhooks that send every tenant to srv.
func hookFor(srv *captureServer) Webhooks {
	return Webhooks{Default: srv.url("T000/B000/" + secretToken)}
}

// notifications returns n notifications of tenant.
func notifications(tenant string, n int) []schemas.Notification {
	out := make([]schemas.Notification, n)
	for i := range out {
		out[i] = testNotification(tenant, i)
	}
	return out
}

func TestSinkPostsEachNotificationOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	acmeHook, defaultHook := newCaptureServer(t), newCaptureServer(t)

	ns := append(notifications("acme", 12), notifications("globex", 8)...)
	produceNotifications(ctx, t, brokers, ns...)

	ledger := NewMemoryLedger()
	hooks := Webhooks{
		Tenants: map[string]string{"acme": acmeHook.url("TA/BA/" + secretToken)},
		Default: defaultHook.url("TD/BD/" + secretToken),
	}
	cfg, logs := sinkConfig(t, brokers, ledger, hooks)
	s := startSink(t, cfg)
	waitHandled(t, s, int64(len(ns)))

	for _, tc := range []struct {
		name   string
		server *captureServer
		tenant string
		want   int
	}{
		{"own webhook", acmeHook, "acme", 12},
		{"default webhook", defaultHook, "globex", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			byEvent := tc.server.postsByEvent()
			if len(byEvent) != tc.want {
				t.Fatalf("got posts for %d events, expected %d", len(byEvent), tc.want)
			}
			for id, count := range byEvent {
				if !strings.HasPrefix(id, tc.tenant+"-") {
					t.Errorf("event %s of another tenant was posted to the %s webhook", id, tc.tenant)
				}
				if count != 1 {
					t.Errorf("event %s posted %d times, expected once", id, count)
				}
			}
		})
	}

	for _, n := range ns {
		e, ok, _ := ledger.Lookup(ctx, n.EventID)
		if !ok || e.Status != StatusDelivered || e.Attempts != 1 {
			t.Errorf("ledger entry of %s = %+v (found %v), expected delivered after 1 attempt", n.EventID, e, ok)
		}
	}
	if got := s.Stats().Delivered; got != int64(len(ns)) {
		t.Errorf("Stats.Delivered = %d, expected %d", got, len(ns))
	}
	checkNoSecret(t, logs)
}

func TestSinkPostsSlackMessageJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	n := testNotification("acme", 1)
	produceNotifications(ctx, t, brokers, n)
	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 1)

	posts := srv.snapshot()
	if len(posts) != 1 {
		t.Fatalf("got %d posts, expected 1", len(posts))
	}
	var got map[string]any
	if err := json.Unmarshal(posts[0].body, &got); err != nil {
		t.Fatalf("posted body is not JSON: %v", err)
	}
	want := map[string]any{
		"text": "[high] billing T-00001 from customer.example: Invoice 1 is wrong",
		"blocks": []any{map[string]any{
			"type":     "section",
			"block_id": n.EventID,
			"text":     map[string]any{"type": "mrkdwn", "text": "*Invoice 1 is wrong*\n>Hello, the amount on the invoice does not match the order."},
			"fields": []any{
				map[string]any{"type": "mrkdwn", "text": "*Sender domain*\ncustomer.example"},
				map[string]any{"type": "mrkdwn", "text": "*Queue*\nbilling"},
				map[string]any{"type": "mrkdwn", "text": "*Priority*\nhigh"},
				map[string]any{"type": "mrkdwn", "text": "*Ticket*\nT-00001"},
			},
		}},
		"unfurl_links": false,
		"unfurl_media": false,
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("posted body\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

// addressRe matches anything shaped like an email address.
var addressRe = regexp.MustCompile(`[\w.%+\-]+@[\w\-]+(\.[\w\-]+)+`)

func TestSinkPostsNoAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	// Notifications as a faulty producer might write them: addresses in
	// every free-text field and a whole address as the sender domain.
	ns := notifications("acme", 3)
	ns[0].Subject = "Refund for jane.doe@customer.example please"
	ns[1].Excerpt = "Write to billing+eu@shop.example or to <bob@shop.example> today"
	ns[2].SenderDomain = "carol@customer.example"
	ns[2].Queue = "support"
	produceNotifications(ctx, t, brokers, ns...)

	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 3)

	posts := srv.snapshot()
	if len(posts) != 3 {
		t.Fatalf("got %d posts, expected 3", len(posts))
	}
	for _, p := range posts {
		if m := addressRe.Find(p.body); m != nil {
			t.Errorf("post of %s contains the address %q: %s", p.eventID, m, p.body)
		}
	}
	var msg Message
	for _, p := range posts {
		if p.eventID == ns[2].EventID {
			if err := json.Unmarshal(p.body, &msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := msg.Blocks[0].Fields[0].Text; got != "*Sender domain*\ncustomer.example" {
		t.Errorf("sender domain field = %q, expected only the domain of the address", got)
	}
}

func TestSinkRetries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   reply
		timeout time.Duration
	}{
		{"server error 500", reply{status: http.StatusInternalServerError, body: "internal_error"}, 0},
		{"server error 503", reply{status: http.StatusServiceUnavailable}, 0},
		{"connection closed", reply{drop: true}, 0},
		{"request timeout", reply{hang: 5 * time.Second}, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			brokers := startKafka(t)
			srv := newCaptureServer(t)
			srv.setScript(func(_ string, seen int) reply {
				if seen == 0 {
					return tc.first
				}
				return reply{}
			})

			ns := notifications("acme", 3)
			produceNotifications(ctx, t, brokers, ns...)
			ledger := NewMemoryLedger()
			cfg, logs := sinkConfig(t, brokers, ledger, hookFor(srv))
			if tc.timeout > 0 {
				cfg.RequestTimeout = tc.timeout
			}
			s := startSink(t, cfg)
			waitHandled(t, s, 3)

			for _, n := range ns {
				if got := srv.postsByEvent()[n.EventID]; got != 2 {
					t.Errorf("event %s posted %d times, expected 2 (one failure, one retry)", n.EventID, got)
				}
				e, _, _ := ledger.Lookup(ctx, n.EventID)
				if e.Status != StatusDelivered || e.Attempts != 2 {
					t.Errorf("ledger entry of %s = %s after %d attempts, expected delivered after 2", n.EventID, e.Status, e.Attempts)
				}
			}
			st := s.Stats()
			if st.Retries != 3 || st.Delivered != 3 {
				t.Errorf("Stats = %+v, expected 3 retries and 3 delivered", st)
			}
			if got := strings.Count(logs.String(), "Slack post failed, retrying"); got != 3 {
				t.Errorf("logged %d retry lines, expected one per retry (3)", got)
			}
			checkNoSecret(t, logs)
		})
	}
}

func TestSinkHonoursRetryAfter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)
	srv.setScript(func(_ string, seen int) reply {
		if seen == 0 {
			return reply{status: http.StatusTooManyRequests, body: "rate_limited", retryAfter: 1}
		}
		return reply{}
	})

	n := testNotification("acme", 1)
	produceNotifications(ctx, t, brokers, n)
	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	// Without the header the sink would retry within 20ms.
	s := startSink(t, cfg)
	waitHandled(t, s, 1)

	posts := srv.snapshot()
	if len(posts) != 2 {
		t.Fatalf("got %d posts, expected 2 (429, then the retry)", len(posts))
	}
	if posts[0].status != http.StatusTooManyRequests || posts[1].status != http.StatusOK {
		t.Fatalf("got statuses %d then %d, expected 429 then 200", posts[0].status, posts[1].status)
	}
	// Both timestamps come from the server: when it sent the 429 and when
	// the retry arrived.
	if gap := posts[1].received.Sub(posts[0].responded); gap < time.Second {
		t.Errorf("retry arrived %v after the 429 response, expected at least the Retry-After of 1s", gap)
	}
}

func TestSinkDeadLettersClientError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	bad := testNotification("acme", 1)
	good := testNotification("acme", 2)
	srv.setScript(func(eventID string, _ int) reply {
		if eventID == bad.EventID {
			return reply{status: http.StatusBadRequest, body: "invalid_payload"}
		}
		return reply{}
	})
	produceNotifications(ctx, t, brokers, bad, good)

	ledger := NewMemoryLedger()
	cfg, logs := sinkConfig(t, brokers, ledger, hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 2)

	if got := srv.postsByEvent(); got[bad.EventID] != 1 || got[good.EventID] != 1 {
		t.Errorf("posts by event = %v, expected one each: a 400 is not retried", got)
	}
	letters, records := readDeadLetters(ctx, t, brokers, 1)
	dl := letters[0]
	if dl.Stage != Stage {
		t.Errorf("dead letter stage = %q, expected %q", dl.Stage, Stage)
	}
	for _, part := range []string{"400", "invalid_payload", `"acme"`} {
		if !strings.Contains(dl.Error, part) {
			t.Errorf("dead letter error %q does not contain %s", dl.Error, part)
		}
	}
	if strings.Contains(dl.Error, secretToken) {
		t.Errorf("dead letter error %q contains the webhook URL", dl.Error)
	}
	if dl.Tenant != "acme" || dl.SourceTopic != topics.Notifications || dl.Attempts != 1 {
		t.Errorf("dead letter = tenant %q, topic %q, attempts %d; expected acme, %s, 1", dl.Tenant, dl.SourceTopic, dl.Attempts, topics.Notifications)
	}
	var payload schemas.Notification
	if err := schemas.Unmarshal(dl.Payload, &payload); err != nil || payload.EventID != bad.EventID {
		t.Errorf("dead letter payload decodes to event %q (error %v), expected %s", payload.EventID, err, bad.EventID)
	}
	if got := headerValue(records[0], runner.HeaderStage); got != Stage {
		t.Errorf("header %s = %q, expected %q", runner.HeaderStage, got, Stage)
	}

	e, _, _ := ledger.Lookup(ctx, bad.EventID)
	if e.Status != StatusFailed || !strings.Contains(e.LastError, "invalid_payload") {
		t.Errorf("ledger entry of the rejected event = %s with error %q, expected failed with invalid_payload", e.Status, e.LastError)
	}
	if st := s.Stats(); st.DeadLettered != 1 || st.Delivered != 1 {
		t.Errorf("Stats = %+v, expected 1 dead-lettered and 1 delivered", st)
	}
	checkNoSecret(t, logs)
}

func TestSinkDeadLettersAfterMaxAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)
	srv.setScript(func(string, int) reply { return reply{status: http.StatusBadGateway} })

	n := testNotification("acme", 1)
	produceNotifications(ctx, t, brokers, n)
	ledger := NewMemoryLedger()
	cfg, _ := sinkConfig(t, brokers, ledger, hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 1)

	if got := srv.postsByEvent()[n.EventID]; got != fastRetry.MaxAttempts {
		t.Errorf("event posted %d times, expected MaxAttempts (%d)", got, fastRetry.MaxAttempts)
	}
	letters, _ := readDeadLetters(ctx, t, brokers, 1)
	for _, part := range []string{fmt.Sprintf("giving up after %d posts", fastRetry.MaxAttempts), "502"} {
		if !strings.Contains(letters[0].Error, part) {
			t.Errorf("dead letter error %q does not contain %q", letters[0].Error, part)
		}
	}
	if letters[0].Attempts != int32(fastRetry.MaxAttempts) {
		t.Errorf("dead letter attempts = %d, expected %d", letters[0].Attempts, fastRetry.MaxAttempts)
	}
	e, _, _ := ledger.Lookup(ctx, n.EventID)
	if e.Status != StatusFailed || e.Attempts != fastRetry.MaxAttempts {
		t.Errorf("ledger entry = %s after %d attempts, expected failed after %d", e.Status, e.Attempts, fastRetry.MaxAttempts)
	}
}

func TestSinkDeadLettersUndecodableRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: topics.Notifications, Key: []byte("acme/T-1"), Value: []byte(`{"not":"avro"}`)}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}

	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 1)

	letters, _ := readDeadLetters(ctx, t, brokers, 1)
	if letters[0].Stage != Stage {
		t.Errorf("dead letter stage = %q, expected %q", letters[0].Stage, Stage)
	}
	if !strings.Contains(letters[0].Error, "decoding the notification") {
		t.Errorf("dead letter error %q, expected a decoding error", letters[0].Error)
	}
	if len(srv.snapshot()) != 0 {
		t.Errorf("the server got %d posts, expected none", len(srv.snapshot()))
	}
}

func TestSinkSkipsTenantWithoutWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	ns := append(notifications("acme", 2), notifications("orphan", 3)...)
	produceNotifications(ctx, t, brokers, ns...)
	ledger := NewMemoryLedger()
	hooks := Webhooks{Tenants: map[string]string{"acme": srv.url("TA/BA/" + secretToken)}}
	cfg, logs := sinkConfig(t, brokers, ledger, hooks)
	s := startSink(t, cfg)
	waitHandled(t, s, 5)

	st := s.Stats()
	if st.NoWebhook != 3 || st.NoWebhookByTenant["orphan"] != 3 || st.Delivered != 2 {
		t.Errorf("Stats = %+v, expected 3 skipped for orphan and 2 delivered", st)
	}
	if got := strings.Count(logs.String(), "has no Slack webhook"); got != 1 {
		t.Errorf("logged the missing webhook %d times, expected once per tenant", got)
	}
	if _, ok, _ := ledger.Lookup(ctx, ns[2].EventID); ok {
		t.Errorf("a skipped notification has a ledger entry, expected none")
	}
	if got := len(srv.snapshot()); got != 2 {
		t.Errorf("got %d posts, expected 2", got)
	}
}

func TestSinkReadsCommittedRecordsOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	aborted, committed := testNotification("acme", 1), testNotification("acme", 2)
	produceTransaction(ctx, t, brokers, aborted, kgo.TryAbort)
	produceTransaction(ctx, t, brokers, committed, kgo.TryCommit)

	cfg, _ := sinkConfig(t, brokers, NewMemoryLedger(), hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 1)

	// Both records share a key and so a partition, where the aborted one
	// comes first: a read_uncommitted consumer would have handled it before
	// the committed one.
	if got := handledCount(s.Stats()); got != 1 {
		t.Errorf("handled %d records, expected 1", got)
	}
	got := srv.postsByEvent()
	if len(got) != 1 || got[committed.EventID] != 1 {
		t.Errorf("posts by event = %v, expected only the committed %s", got, committed.EventID)
	}
}

// produceTransaction writes n under a fixed key in one transaction that
// ends with commit.
func produceTransaction(ctx context.Context, t *testing.T, brokers []string, n schemas.Notification, commit kgo.TransactionEndTry) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("slack-test-"+n.EventID))
	if err != nil {
		t.Fatalf("creating the transactional producer: %v", err)
	}
	defer cl.Close()
	value, err := schemas.Marshal(&n)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("beginning the transaction: %v", err)
	}
	rec := &kgo.Record{Topic: topics.Notifications, Key: []byte("acme/shared-key"), Value: value}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("producing in the transaction: %v", err)
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		t.Fatalf("ending the transaction: %v", err)
	}
}

func TestSinkReplayAfterOffsetResetPostsNothing(t *testing.T) {
	ledgers := map[string]func(t *testing.T) Ledger{
		"memory":   func(*testing.T) Ledger { return NewMemoryLedger() },
		"postgres": func(t *testing.T) Ledger { return newTestPostgresLedger(t) },
	}
	for name, newLedger := range ledgers {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			ledger := newLedger(t)
			brokers := startKafka(t)
			srv := newCaptureServer(t)

			ns := notifications("acme", 30)
			produceNotifications(ctx, t, brokers, ns...)
			cfg, _ := sinkConfig(t, brokers, ledger, hookFor(srv))
			first := startSink(t, cfg)
			waitHandled(t, first, int64(len(ns)))
			first.stop(t)
			if got := len(srv.snapshot()); got != len(ns) {
				t.Fatalf("first run made %d posts, expected %d", got, len(ns))
			}

			resetOffsets(ctx, t, brokers, cfg.Group)
			second := startSink(t, cfg)
			waitHandled(t, second, int64(len(ns)))

			if st := second.Stats(); st.Replayed != int64(len(ns)) || st.Delivered != 0 {
				t.Errorf("replay Stats = %+v, expected %d replayed and 0 delivered", st, len(ns))
			}
			if got := len(srv.snapshot()); got != len(ns) {
				t.Errorf("after the replay the server has %d posts, expected still %d", got, len(ns))
			}
		})
	}
}

// resetOffsets commits offset 0 on every partition of the notification
// topic for group, as an operator resets a consumer group.
func resetOffsets(ctx context.Context, t *testing.T, brokers []string, group string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var offsets kadm.Offsets
	for p := range int32(testPartitions) {
		offsets.Add(kadm.Offset{Topic: topics.Notifications, Partition: p, At: 0, LeaderEpoch: -1})
	}
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatalf("resetting the offsets of group %s: %v", group, err)
	}
}

func TestSinkMarksPendingUnknownAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	// A previous run claimed n and died during the post.
	n := testNotification("acme", 1)
	ledger := NewMemoryLedger()
	if _, err := ledger.Claim(ctx, n.EventID, n.Tenant); err != nil {
		t.Fatal(err)
	}
	produceNotifications(ctx, t, brokers, n, testNotification("acme", 2))

	cfg, logs := sinkConfig(t, brokers, ledger, hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 3) // the recovered entry counts as well as both records

	if got := srv.postsByEvent(); got[n.EventID] != 0 || len(got) != 1 {
		t.Errorf("posts by event = %v, expected only the second notification", got)
	}
	e, _, _ := ledger.Lookup(ctx, n.EventID)
	if e.Status != StatusUnknown {
		t.Errorf("recovered entry status = %s, expected unknown", e.Status)
	}
	if st := s.Stats(); st.Unknown != 1 || st.Replayed != 1 || st.Delivered != 1 {
		t.Errorf("Stats = %+v, expected 1 unknown, 1 replayed (the unknown record read again) and 1 delivered", st)
	}
	if got := strings.Count(logs.String(), "delivery outcome unknown"); got != 1 {
		t.Errorf("logged the unknown entry %d times, expected once", got)
	}
}

func TestSinkStopReleasesWaitingClaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)
	srv.setScript(func(string, int) reply { return reply{status: http.StatusInternalServerError} })

	n := testNotification("acme", 1)
	produceNotifications(ctx, t, brokers, n)
	ledger := NewMemoryLedger()
	cfg, _ := sinkConfig(t, brokers, ledger, hookFor(srv))
	cfg.Retry = RetryPolicy{MaxAttempts: 5, BaseDelay: time.Minute, MaxDelay: time.Minute}
	first := startSink(t, cfg)
	waitFor(t, 15*time.Second, "the first post", func() bool { return len(srv.snapshot()) == 1 })
	waitFor(t, 5*time.Second, "the response to the first post", func() bool { return !srv.snapshot()[0].responded.IsZero() })
	first.stop(t)

	if _, ok, _ := ledger.Lookup(ctx, n.EventID); ok {
		t.Fatalf("the ledger still has the entry after a stop during the backoff, expected it released")
	}

	srv.setScript(nil)
	cfg.Retry = fastRetry
	second := startSink(t, cfg)
	waitHandled(t, second, 1)
	if got := srv.postsByEvent()[n.EventID]; got != 2 {
		t.Errorf("event posted %d times, expected 2 (the 500 before the stop, the delivery after)", got)
	}
	if e, _, _ := ledger.Lookup(ctx, n.EventID); e.Status != StatusDelivered {
		t.Errorf("ledger status = %s, expected delivered", e.Status)
	}
}

func headerValue(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// flakyLedger fails the first failures calls of Claim and MarkDelivered
// with err, as a ledger database that is down for a while.
type flakyLedger struct {
	*MemoryLedger
	mu       sync.Mutex // guards failures
	failures map[string]int
	err      error
}

func (l *flakyLedger) fail(op string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures[op] > 0 {
		l.failures[op]--
		return l.err
	}
	return nil
}

func (l *flakyLedger) Claim(ctx context.Context, eventID, tenant string) (Claim, error) {
	if err := l.fail("claim"); err != nil {
		return Claim{}, err
	}
	return l.MemoryLedger.Claim(ctx, eventID, tenant)
}

func (l *flakyLedger) MarkDelivered(ctx context.Context, eventID string, attempts int) error {
	if err := l.fail("delivered"); err != nil {
		return err
	}
	return l.MemoryLedger.MarkDelivered(ctx, eventID, attempts)
}

func TestSinkRetriesLedgerErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	ns := notifications("acme", 3)
	produceNotifications(ctx, t, brokers, ns...)
	ledger := &flakyLedger{
		MemoryLedger: NewMemoryLedger(),
		failures:     map[string]int{"claim": 2, "delivered": 2},
		err:          errors.New("dial tcp 127.0.0.1:15432: connect: connection refused"),
	}
	cfg, logs := sinkConfig(t, brokers, ledger, hookFor(srv))
	s := startSink(t, cfg)
	waitHandled(t, s, 3)

	if got := strings.Count(logs.String(), "ledger call failed, retrying"); got != 4 {
		t.Errorf("logged %d ledger retries, expected 4 (one per failed call)", got)
	}
	for _, n := range ns {
		if got := srv.postsByEvent()[n.EventID]; got != 1 {
			t.Errorf("event %s posted %d times, expected once", n.EventID, got)
		}
		if e, _, _ := ledger.Lookup(ctx, n.EventID); e.Status != StatusDelivered {
			t.Errorf("event %s has status %s, expected delivered", n.EventID, e.Status)
		}
	}
}

func TestSinkStopsOnPermanentLedgerError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	brokers := startKafka(t)
	srv := newCaptureServer(t)

	produceNotifications(ctx, t, brokers, testNotification("acme", 1))
	ledger := &flakyLedger{
		MemoryLedger: NewMemoryLedger(),
		failures:     map[string]int{"claim": 1},
		err:          fmt.Errorf("%w: relation \"slack_deliveries\" does not exist", ErrLedgerPermanent),
	}
	cfg, _ := sinkConfig(t, brokers, ledger, hookFor(srv))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	err = s.Run(ctx)
	if !errors.Is(err, ErrLedgerPermanent) {
		t.Errorf("Run returned %v, expected an error wrapping ErrLedgerPermanent", err)
	}
	if got := len(srv.snapshot()); got != 0 {
		t.Errorf("the server got %d posts, expected none", got)
	}
}
