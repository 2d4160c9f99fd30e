package poller

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
	"mailtriage/topics"
)

const testToken = "tok-3f9a1c-never-logged"

// rawItem returns a raw page item holding a plain-text message.
func rawItem(id string) map[string]any {
	msg := "From: Ana <ana@example.com>\r\nTo: support@example.com\r\nSubject: Raw " + id + "\r\n" +
		"Message-ID: <" + id + "@example.com>\r\n\r\nThe export failed.\r\n"
	return map[string]any{"raw": base64.StdEncoding.EncodeToString([]byte(msg))}
}

// jsonItem returns a message item in the inbound-parsing JSON format.
func jsonItem(id string) map[string]any {
	return map[string]any{"message": map[string]any{
		"messageId": id + "@example.com",
		"from":      "Ana <ana@example.com>",
		"to":        "support@example.com",
		"subject":   "JSON " + id,
		"text":      "The export failed.",
	}}
}

// testPage is one page the fake API serves for a cursor.
type testPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"nextCursor"`
	HasMore    bool             `json:"hasMore"`
}

// request is one request the fake API received.
type request struct {
	at     time.Time
	after  string
	limit  string
	auth   string
	status int
}

// fakeAPI serves pages by cursor. Responses queued in script are sent
// first, one per request, before pages are served.
type fakeAPI struct {
	pages map[string]testPage // by the after parameter

	mu       sync.Mutex
	script   []func(w http.ResponseWriter) int
	requests []request
}

func newFakeAPI(t *testing.T, pages map[string]testPage) (*fakeAPI, *httptest.Server) {
	t.Helper()
	api := &fakeAPI{pages: pages}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server listens on %s, expected a loopback address", srv.URL)
	}
	return api, srv
}

// respond queues responses sent before any page.
func (a *fakeAPI) respond(fns ...func(w http.ResponseWriter) int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script = append(a.script, fns...)
}

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	req := request{at: time.Now(), after: r.URL.Query().Get("after"), limit: r.URL.Query().Get("limit"), auth: r.Header.Get("Authorization")}

	switch {
	case len(a.script) > 0:
		req.status = a.script[0](w)
		a.script = a.script[1:]
	case req.auth != "Bearer "+testToken:
		req.status = http.StatusUnauthorized
		w.WriteHeader(req.status)
	default:
		pg, ok := a.pages[req.after]
		if !ok {
			req.status = http.StatusBadRequest
			w.WriteHeader(req.status)
			break
		}
		req.status = http.StatusOK
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pg)
	}
	a.requests = append(a.requests, req)
}

func (a *fakeAPI) log() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]request(nil), a.requests...)
}

// threePages returns pages of raw and JSON items: three pages after the
// start, and an empty last page at c3.
func threePages() map[string]testPage {
	return map[string]testPage{
		"":   {Items: []map[string]any{rawItem("r1"), jsonItem("j1")}, NextCursor: "c1", HasMore: true},
		"c1": {Items: []map[string]any{rawItem("r2"), jsonItem("j2"), rawItem("r3")}, NextCursor: "c2", HasMore: true},
		"c2": {Items: []map[string]any{jsonItem("j3")}, NextCursor: "c3", HasMore: false},
		"c3": {Items: []map[string]any{}, NextCursor: "c3", HasMore: false},
	}
}

// allKeys are the inbound keys of the items of threePages.
var allKeys = []string{"acme/j1@example.com", "acme/j2@example.com", "acme/j3@example.com",
	"acme/r1@example.com", "acme/r2@example.com", "acme/r3@example.com"}

// startCluster starts kfake with the inbound and dead-letter topics and
// returns its addresses. The poller creates the cursor topic itself.
func startCluster(t *testing.T, limits map[string]string) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	createTopics(t, brokers, limits)
	return brokers
}

// createTopics creates the inbound and dead-letter topics with one
// partition unless they exist.
func createTopics(t *testing.T, brokers []string, limits map[string]string) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, spec := range topics.Specs(1, 1) {
		if spec.Name != topics.Inbound && spec.Name != topics.DLQ {
			continue
		}
		if v, ok := limits[spec.Name]; ok {
			spec.Configs["max.message.bytes"] = &v
		}
		_, err := kadm.NewClient(client).CreateTopic(ctx, 1, 1, spec.Configs, spec.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatalf("creating %s: %v", spec.Name, err)
		}
	}
}

// testConfig returns a poller configuration for url on brokers that runs
// until the API has no more pages.
func testConfig(t *testing.T, brokers []string, url string) Config {
	t.Helper()
	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		URL:        url,
		Tenant:     "acme",
		Token:      func() (string, error) { return testToken, nil },
		Limit:      50,
		Interval:   10 * time.Millisecond,
		Once:       true,
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Store:      store,
		Backoff:    Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

func newPoller(t *testing.T, cfg Config) *Poller {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// runPoller runs p with a time limit and returns the error of Run.
func runPoller(t *testing.T, p *Poller) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := p.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not finish within the test's time limit: %v", ctx.Err())
	}
	return err
}

// readTopic returns the records of every partition of topic from the
// offsets in from (the log start when missing) to the high watermarks, at
// the isolation level that committed selects.
func readTopic(t *testing.T, brokers []string, topic string, from map[int32]int64, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends := endOffsets(t, brokers, topic)
	parts := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	for p, end := range ends {
		if end > from[p] {
			parts[p] = kgo.NewOffset().At(from[p])
			last[p] = from[p] - 1
		}
	}
	if len(parts) == 0 {
		return nil
	}
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchIsolationLevel(level), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var out []*kgo.Record
	for !caughtUp(last, ends) {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: reached offsets %v of %v: %v", topic, last, ends, ctx.Err())
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading %s: %v", topic, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			last[r.Partition] = max(last[r.Partition], r.Offset)
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

func caughtUp(last, ends map[int32]int64) bool {
	for p, l := range last {
		if l < ends[p]-1 {
			return false
		}
	}
	return true
}

// endOffsets returns the high watermark of every partition of topic.
func endOffsets(t *testing.T, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing the end offsets of %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("listing the end offset of %s partition %d: %v", topic, o.Partition, o.Err)
		}
		ends[o.Partition] = o.Offset
	})
	return ends
}

// keysWithPrefix returns the keys of recs that start with prefix.
func keysWithPrefix(recs []*kgo.Record, prefix string) []string {
	var keys []string
	for _, r := range recs {
		if strings.HasPrefix(string(r.Key), prefix) {
			keys = append(keys, string(r.Key))
		}
	}
	return keys
}

func decodeEmail(t *testing.T, r *kgo.Record) schemas.InboundEmail {
	t.Helper()
	var email schemas.InboundEmail
	if err := schemas.Unmarshal(r.Value, &email); err != nil {
		t.Fatalf("decoding inbound record %q: %v", r.Key, err)
	}
	return email
}

// lastCursor returns the cursor of the last record under key in the
// read_committed view of the cursor topic.
func lastCursor(t *testing.T, brokers []string, key string) cursorState {
	t.Helper()
	var s cursorState
	found := false
	for _, r := range readTopic(t, brokers, topics.PollerCursors, nil, true) {
		if string(r.Key) != key {
			continue
		}
		if err := json.Unmarshal(r.Value, &s); err != nil {
			t.Fatalf("decoding cursor record: %v", err)
		}
		found = true
	}
	if !found {
		t.Fatalf("no cursor record under %s", key)
	}
	return s
}

// logBuffer collects the JSON logs of a poller.
func logBuffer() (*bytes.Buffer, *slog.Logger) {
	var buf bytes.Buffer
	return &buf, slog.New(slog.NewJSONHandler(&safeWriter{w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type safeWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *safeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func status(code int, header ...string) func(w http.ResponseWriter) int {
	return func(w http.ResponseWriter) int {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprintln(w, `{"error":"try later"}`)
		return code
	}
}
