package poller

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/ingest"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func afters(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.after
	}
	return out
}

func sortedKeys(t *testing.T, brokers []string, topic, prefix string, from map[int32]int64, committed bool) []string {
	t.Helper()
	keys := keysWithPrefix(readTopic(t, brokers, topic, from, committed), prefix)
	slices.Sort(keys)
	return keys
}

func TestPollerPublishesEveryItemOnce(t *testing.T) {
	brokers := startCluster(t, nil)
	api, srv := newFakeAPI(t, threePages())
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")

	p := newPoller(t, cfg)
	if err := runPoller(t, p); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := sortedKeys(t, brokers, topics.Inbound, "", nil, true); !slices.Equal(got, allKeys) {
		t.Errorf("inbound keys %v, expected %v", got, allKeys)
	}
	if got := afters(api.log()); !slices.Equal(got, []string{"", "c1", "c2"}) {
		t.Errorf("requests asked for after=%q, expected \"\", c1, c2", got)
	}
	for _, r := range api.log() {
		if r.limit != "50" || r.auth != "Bearer "+testToken {
			t.Errorf("request limit %q and Authorization %q, expected 50 and the bearer token", r.limit, r.auth)
		}
	}
	if p.Cursor() != "c3" {
		t.Errorf("Cursor() = %q, expected c3", p.Cursor())
	}
	state := lastCursor(t, brokers, p.key)
	if state.Cursor != "c3" || state.Pages != 3 || state.URL != srv.URL+"/v1/messages" {
		t.Errorf("committed cursor %+v, expected cursor c3 after 3 pages of %s", state, srv.URL+"/v1/messages")
	}
	if got := p.Stats(); got != (Stats{Pages: 3, Items: 6}) {
		t.Errorf("stats %+v, expected 3 pages and 6 items", got)
	}

	for _, r := range readTopic(t, brokers, topics.Inbound, nil, true) {
		email := decodeEmail(t, r)
		if email.Source != schemas.SourcePoller {
			t.Errorf("%s: source %q, expected %q", r.Key, email.Source, schemas.SourcePoller)
		}
		isRaw := strings.HasPrefix(string(r.Key), "acme/r")
		if isRaw && (email.Raw == nil || email.Raw.Key == "") {
			t.Errorf("%s: raw item without a stored raw reference", r.Key)
		}
		if !isRaw && !strings.HasPrefix(email.Subject, "JSON ") {
			t.Errorf("%s: subject %q, expected the JSON payload's", r.Key, email.Subject)
		}
	}
}

func TestPollerRestartResumesAtCursor(t *testing.T) {
	brokers := startCluster(t, nil)
	api, srv := newFakeAPI(t, threePages())
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")
	if err := runPoller(t, newPoller(t, cfg)); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	served := len(api.log())

	if err := runPoller(t, newPoller(t, cfg)); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if got := afters(api.log()[served:]); !slices.Equal(got, []string{"c3"}) {
		t.Errorf("the restarted poller asked for after=%q, expected only c3", got)
	}
	if n := len(readTopic(t, brokers, topics.Inbound, nil, false)); n != len(allKeys) {
		t.Errorf("inbound topic holds %d records after the restart, expected %d", n, len(allKeys))
	}
}

// A poller that dies between producing page 2 and committing it leaves an
// open transaction. The next poller aborts it, requests page 2 again and
// commits it once.
func TestPollerCrashBeforeCommit(t *testing.T) {
	brokers := startCluster(t, nil)
	api, srv := newFakeAPI(t, threePages())
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")

	first := newPoller(t, cfg)
	first.beforeCommit = func(page int64) error {
		if page == 2 {
			return errors.New("process killed")
		}
		return nil
	}
	err := runPoller(t, first)
	if !errors.Is(err, errSimulatedCrash) {
		t.Fatalf("first Run returned %v, expected the simulated crash", err)
	}
	// The crashed poller's clients stay open, as a hung process's would;
	// only the fencing by the next instance ends its transaction.

	second := newPoller(t, cfg)
	if err := runPoller(t, second); err != nil {
		t.Fatalf("second Run: %v", err)
	}

	if got := sortedKeys(t, brokers, topics.Inbound, "", nil, true); !slices.Equal(got, allKeys) {
		t.Errorf("read_committed inbound keys %v, expected each of %v once", got, allKeys)
	}
	// Page 2's three records were written twice, and the first copies
	// were aborted.
	if n := len(readTopic(t, brokers, topics.Inbound, nil, false)); n != len(allKeys)+3 {
		t.Errorf("read_uncommitted inbound holds %d records, expected %d including page 2's aborted copies", n, len(allKeys)+3)
	}
	if got := afters(api.log()); !slices.Equal(got, []string{"", "c1", "c1", "c2"}) {
		t.Errorf("requests asked for after=%q, expected \"\", c1, then c1 again after the restart and c2", got)
	}
	if state := lastCursor(t, brokers, second.key); state.Cursor != "c3" || state.Pages != 3 {
		t.Errorf("committed cursor %+v, expected c3 after 3 pages", state)
	}
}

func TestPollerHonoursRetryAfter(t *testing.T) {
	brokers := startCluster(t, nil)
	api, srv := newFakeAPI(t, threePages())
	api.respond(status(http.StatusTooManyRequests, "Retry-After", "1"))
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")

	if err := runPoller(t, newPoller(t, cfg)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	reqs := api.log()
	if len(reqs) != 4 || reqs[0].status != http.StatusTooManyRequests {
		t.Fatalf("the API served %d requests, first with status %d; expected a 429 and three pages", len(reqs), reqs[0].status)
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("the retry came %v after the 429, expected at least the 1s of Retry-After", gap)
	}
	if reqs[1].after != "" {
		t.Errorf("the retry asked for after=%q, expected the first page again", reqs[1].after)
	}
}

func TestPollerUnauthorizedStops(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			brokers := startCluster(t, nil)
			api, srv := newFakeAPI(t, threePages())
			api.respond(status(code))
			cfg := testConfig(t, brokers, srv.URL+"/v1/messages?api_key=query-secret")
			logs, logger := logBuffer()
			cfg.Logger = logger
			cfg.Once = false

			err := runPoller(t, newPoller(t, cfg))
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Run returned %v, expected ErrUnauthorized", err)
			}
			msg := err.Error()
			for _, want := range []string{"GET " + srv.URL + "/v1/messages returned", "--token-file", EnvToken} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			for _, secret := range []string{"query-secret", testToken} {
				if strings.Contains(msg, secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("the error or the logs contain the secret %q", secret)
				}
			}
			if n := len(api.log()); n != 1 {
				t.Errorf("the API received %d requests, expected the poller to stop after the first", n)
			}
		})
	}
}

func TestPollerBacksOffOnServerErrors(t *testing.T) {
	brokers := startCluster(t, nil)
	api, srv := newFakeAPI(t, threePages())
	api.respond(status(500), status(502), status(500))
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")
	cfg.Backoff = Backoff{Initial: 100 * time.Millisecond, Max: time.Second}

	if err := runPoller(t, newPoller(t, cfg)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	reqs := api.log()
	if len(reqs) != 6 {
		t.Fatalf("the API served %d requests, expected 3 errors and 3 pages", len(reqs))
	}
	// The wait before retry n is at least half of 100ms × 2^(n-1).
	for i, minGap := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		if gap := reqs[i+1].at.Sub(reqs[i].at); gap < minGap {
			t.Errorf("retry %d came %v after the error, expected at least %v", i+1, gap, minGap)
		}
	}
	if got := sortedKeys(t, brokers, topics.Inbound, "", nil, true); !slices.Equal(got, allKeys) {
		t.Errorf("inbound keys %v, expected %v", got, allKeys)
	}
}

func TestPollerDeadLettersBadItems(t *testing.T) {
	brokers := startCluster(t, nil)
	note := base64.StdEncoding.EncodeToString([]byte("remember to buy milk\n"))
	pages := map[string]testPage{
		"": {Items: []map[string]any{
			{"raw": "%%% not base64"},
			{"unknown": 1},
			{"message": "not an object"},
			{"raw": note},
			rawItem("good"),
		}, NextCursor: "c1"},
		"c1": {Items: []map[string]any{}, NextCursor: "c1"},
	}
	_, srv := newFakeAPI(t, pages)
	p := newPoller(t, testConfig(t, brokers, srv.URL+"/v1/messages"))
	if err := runPoller(t, p); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := sortedKeys(t, brokers, topics.Inbound, "", nil, true); !slices.Equal(got, []string{"acme/good@example.com"}) {
		t.Errorf("inbound keys %v, expected only acme/good@example.com", got)
	}
	recs := readTopic(t, brokers, topics.DLQ, nil, true)
	if len(recs) != 4 {
		t.Fatalf("dead-letter topic holds %d records, expected 4", len(recs))
	}
	wantErrors := []string{"not standard base64", "neither raw nor message", "reading the message payload", "not an email message"}
	for i, r := range recs {
		var dl schemas.DeadLetter
		if err := schemas.Unmarshal(r.Value, &dl); err != nil {
			t.Fatalf("decoding dead letter %d: %v", i, err)
		}
		if dl.Stage != ingest.StageParse || dl.SourceTopic != schemas.SourcePoller || dl.Tenant != "acme" {
			t.Errorf("dead letter %d: stage %q, source %q, tenant %q; expected parse, poller, acme", i, dl.Stage, dl.SourceTopic, dl.Tenant)
		}
		if !strings.Contains(dl.Error, wantErrors[i]) {
			t.Errorf("dead letter %d: error %q, expected it to contain %q", i, dl.Error, wantErrors[i])
		}
		if wantKey := "acme/poll/" + p.urlHash + "/after=#" + string(rune('1'+i)); string(r.Key) != wantKey {
			t.Errorf("dead letter %d: key %q, expected %q", i, r.Key, wantKey)
		}
	}
	if got := p.Stats(); got != (Stats{Pages: 1, Items: 5, DeadLetters: 4}) {
		t.Errorf("stats %+v, expected 1 page, 5 items, 4 dead letters", got)
	}
}

// A record above the inbound topic's max.message.bytes aborts the first
// transaction; the page is committed again with an ingress dead letter in
// its place.
func TestPollerRejectedRecordBecomesDeadLetter(t *testing.T) {
	brokers := startCluster(t, map[string]string{topics.Inbound: "65536"})
	big := "From: Ana <ana@example.com>\r\nSubject: Huge\r\nMessage-ID: <huge@example.com>\r\n" +
		padding(200<<10) + "\r\nHuge headers.\r\n"
	pages := map[string]testPage{
		"":   {Items: []map[string]any{rawItem("small"), {"raw": base64.StdEncoding.EncodeToString([]byte(big))}}, NextCursor: "c1"},
		"c1": {Items: []map[string]any{}, NextCursor: "c1"},
	}
	_, srv := newFakeAPI(t, pages)
	p := newPoller(t, testConfig(t, brokers, srv.URL+"/v1/messages"))
	if err := runPoller(t, p); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := sortedKeys(t, brokers, topics.Inbound, "", nil, true); !slices.Equal(got, []string{"acme/small@example.com"}) {
		t.Errorf("inbound keys %v, expected only acme/small@example.com", got)
	}
	recs := readTopic(t, brokers, topics.DLQ, nil, true)
	if len(recs) != 1 {
		t.Fatalf("dead-letter topic holds %d committed records, expected 1", len(recs))
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(recs[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Stage != ingest.StageIngress || string(dl.Key) != "acme/huge@example.com" {
		t.Errorf("dead letter stage %q with source key %q, expected %q and acme/huge@example.com", dl.Stage, dl.Key, ingest.StageIngress)
	}
}

// padding returns a header field of n pseudo-random letters, which keep a
// record large after compression.
func padding(n int) string {
	letters := make([]byte, n)
	state := uint32(11)
	for i := range letters {
		state = state*1664525 + 1013904223
		letters[i] = 'a' + byte(state>>24)%26
	}
	return "X-Padding: " + string(letters) + "\r\n"
}

func TestPollerCloseStopsRun(t *testing.T) {
	brokers := startCluster(t, nil)
	pages := threePages()
	// The last page keeps asking for more, so Run polls until it is closed.
	pages["c3"] = testPage{Items: []map[string]any{}, NextCursor: "c3", HasMore: true}
	_, srv := newFakeAPI(t, pages)
	cfg := testConfig(t, brokers, srv.URL+"/v1/messages")
	cfg.Once = false
	p := newPoller(t, cfg)

	done := make(chan error, 1)
	go func() { done <- p.Run(t.Context()) }()
	deadline := time.After(30 * time.Second)
	for p.Cursor() != "c3" {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before it was closed", err)
		case <-deadline:
			t.Fatal("the poller did not reach cursor c3")
		case <-time.After(10 * time.Millisecond):
		}
	}

	p.Close()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close returned %v, expected ErrClosed or nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}
