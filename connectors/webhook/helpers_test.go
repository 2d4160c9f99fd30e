package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/schemas"
	"mailtriage/topics"
)

var (
	acmeSecret    = []byte("acme-secret-0123456789abcdef")
	acmeOldSecret = []byte("acme-old-secret-0123456789ab")
	globexSecret  = []byte("globex-secret-0123456789abcd")
)

// testConfig is a config with two tenants; acme has two secrets.
func testConfig() Config {
	return Config{Tenants: map[string]Tenant{
		"acme":   {Secrets: [][]byte{acmeSecret, acmeOldSecret}},
		"globex": {Secrets: [][]byte{globexSecret}},
	}}
}

// testEnv is a gateway behind a loopback HTTP server, with kfake behind it.
type testEnv struct {
	cluster *kfake.Cluster
	pub     *ingress.Publisher
	gateway *Gateway
	server  *httptest.Server
	store   *blobstore.Dir
	logs    *syncBuffer
}

// syncBuffer is a bytes.Buffer that the access log and the test may use
// from different goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestEnv starts kfake with the inbound and dead-letter topics, a
// publisher, a gateway with cfg and an HTTP server. wrap, when not nil,
// wraps the publisher.
func newTestEnv(t testing.TB, cfg Config, wrap func(Publisher) Publisher) *testEnv {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)

	pub, err := ingress.NewPublisher(ingress.PublisherConfig{
		ClientOpts:      []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)},
		DeliveryTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	t.Cleanup(pub.Close)

	store, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var p Publisher = pub
	if wrap != nil {
		p = wrap(pub)
	}
	logs := &syncBuffer{}
	gw, err := New(cfg, p, store, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	server := httptest.NewServer(gw)
	t.Cleanup(server.Close)
	return &testEnv{cluster: cluster, pub: pub, gateway: gw, server: server, store: store, logs: logs}
}

// signedRequest builds a POST to path signed with secret at timestamp.
func newSignedRequest(t testing.TB, url, contentType string, body []byte, secret []byte, timestamp int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	req.Header.Set(HeaderSignature, Sign(secret, timestamp, body))
	return req
}

// answer is a decoded gateway response.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        string
}

func (a answer) str(key string) string {
	s, _ := a.body[key].(string)
	return s
}

// testClient bounds every test request, so that a gateway that hangs
// fails the test rather than blocking it.
var testClient = &http.Client{Timeout: 20 * time.Second}

func do(t testing.TB, req *http.Request) answer {
	t.Helper()
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: answer %q is not a JSON object: %v", req.Method, req.URL.Path, raw, err)
	}
	return a
}

// postRaw signs and posts a raw message for tenant acme, now.
func (e *testEnv) postRaw(t testing.TB, body string) answer {
	t.Helper()
	return do(t, newSignedRequest(t, e.server.URL+"/v1/inbound/acme/raw", "message/rfc822", []byte(body), acmeSecret, time.Now().Unix()))
}

// postJSON signs and posts a JSON payload for tenant acme, now.
func (e *testEnv) postJSON(t testing.TB, body string) answer {
	t.Helper()
	return do(t, newSignedRequest(t, e.server.URL+"/v1/inbound/acme/json", "application/json", []byte(body), acmeSecret, time.Now().Unix()))
}

// records returns every record of topic in the cluster.
func (e *testEnv) records(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	return readTopic(t, e.cluster.ListenAddrs(), topic, nil)
}

// readTopic reads topic from start (the first offset of every partition
// when nil) up to the end offsets at the time of the call.
func readTopic(t testing.TB, brokers []string, topic string, start map[int32]int64) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing the end offsets of %s: %v", topic, err)
	}

	partitions := map[int32]kgo.Offset{}
	want := 0
	ends.Each(func(o kadm.ListedOffset) {
		from := start[o.Partition]
		partitions[o.Partition] = kgo.NewOffset().At(from)
		want += int(o.Offset - from)
	})
	if want == 0 {
		return nil
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: partitions}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var out []*kgo.Record
	for len(out) < want {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(out), want, topic, err)
		}
		out = append(out, fetches.Records()...)
	}
	return out
}

// gatedPublisher holds each Publish until the test opens the gate.
type gatedPublisher struct {
	Publisher
	entered chan struct{}
	gate    chan struct{}
}

func (p *gatedPublisher) Publish(ctx context.Context, email *schemas.InboundEmail) error {
	select {
	case p.entered <- struct{}{}:
	default: // a second publish while the first waits: the test checks its status
	}
	<-p.gate
	return p.Publisher.Publish(ctx, email)
}

// failingPublisher fails the first n publishes with ErrUnavailable.
type failingPublisher struct {
	Publisher
	mu    sync.Mutex
	fails int
}

func (p *failingPublisher) Publish(ctx context.Context, email *schemas.InboundEmail) error {
	p.mu.Lock()
	fail := p.fails > 0
	p.fails--
	p.mu.Unlock()
	if fail {
		return fmt.Errorf("producing to %s: %w: test failure", topics.Inbound, ingress.ErrUnavailable)
	}
	return p.Publisher.Publish(ctx, email)
}
