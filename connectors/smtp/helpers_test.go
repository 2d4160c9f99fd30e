package smtp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	netsmtp "net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/ingress"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// corpusDir is the shared MIME corpus, beside the repository.
const corpusDir = "../../../shared/corpus/mime"

// testTimeout bounds every wait of a test on the listener or the broker.
const testTimeout = 30 * time.Second

// testConfig routes support.example.com to acme (every local part) and
// help.globex.example to globex (support and billing only).
func testConfig() Config {
	return Config{
		Hostname: "mx.test",
		Domains: map[string]DomainRoute{
			"support.example.com": {Tenant: "acme"},
			"help.globex.example": {Tenant: "globex", Addresses: []string{"support", "billing"}},
		},
	}
}

// testListener is a running listener with its broker and storage.
type testListener struct {
	addr    string
	storage *blobstore.Dir
	logs    *syncBuffer
	stop    func() error // cancels Serve and returns its result
}

// startCluster starts a one-broker kfake cluster with the inbound topic
// of inboundPartitions partitions and the dead-letter topic of one. With
// one partition, records keep the order they were produced in.
func startCluster(t *testing.T, inboundPartitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(inboundPartitions, topics.Inbound),
		kfake.SeedTopics(1, topics.DLQ),
	}, opts...)
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

// newPublisher connects a publisher to brokers. A short delivery timeout
// keeps the tests with a broken broker fast.
func newPublisher(t *testing.T, brokers []string, extra ...kgo.Opt) *ingress.Publisher {
	t.Helper()
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, ProducerOpts()...)
	opts = append(opts, extra...)
	pub, err := ingress.NewPublisher(ingress.PublisherConfig{ClientOpts: opts, DeliveryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("creating the publisher: %v", err)
	}
	t.Cleanup(pub.Close)
	return pub
}

// startListener runs a listener for cfg on 127.0.0.1:0 in front of pub
// until the test ends.
func startListener(t *testing.T, cfg Config, lmtp bool, pub Publisher) *testListener {
	t.Helper()
	storage, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(Options{
		Config:    cfg,
		LMTP:      lmtp,
		Publisher: pub,
		Store:     storage,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(testTimeout):
				result = errors.New("Serve did not return within the test timeout")
			}
		})
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the listener: %v", err)
		}
	})
	return &testListener{addr: ln.Addr().String(), storage: storage, logs: logs, stop: stop}
}

// dialSMTP connects a net/smtp client, sends EHLO client.example and
// returns the client with its local address, which the listener records
// as the remote address.
func dialSMTP(t *testing.T, addr string) (*netsmtp.Client, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	c, err := netsmtp.NewClient(conn, "mx.test")
	if err != nil {
		conn.Close()
		t.Fatalf("reading the greeting of %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c, conn.LocalAddr().String()
}

// rawCommand sends one command line on c and reads its reply, for
// commands that net/smtp cannot build, and returns the reply as an error
// unless it is 250.
func rawCommand(c *netsmtp.Client, line string) error {
	id, err := c.Text.Cmd("%s", line)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(250)
	return err
}

// plainMessage returns a small valid message with the given Message-ID.
func plainMessage(messageID string) string {
	return "From: Customer <customer@client.example>\r\n" +
		"To: support@support.example.com\r\n" +
		"Subject: Order 1234 has not arrived\r\n" +
		"Date: Tue, 02 Dec 2025 10:00:00 +0000\r\n" +
		"Message-ID: <" + messageID + ">\r\n" +
		"\r\n" +
		"Hello, my order has not arrived yet.\r\n"
}

// send runs one transaction on c and returns the error of the first
// command that failed.
func send(c *netsmtp.Client, from string, to []string, body []byte) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// replyCode returns the SMTP code and text of a failed command, or 0.
func replyCode(err error) (int, string) {
	var protoErr *textproto.Error
	if errors.As(err, &protoErr) {
		return protoErr.Code, protoErr.Msg
	}
	return 0, ""
}

// consumeRecords reads topic from the start until want records arrived or
// the wait times out, and returns what it read.
func consumeRecords(t *testing.T, brokers []string, topic string, want int, wait time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("fetching %s/%d: %v", topic, p, err) })
		recs = append(recs, fetches.Records()...)
	}
	return recs
}

// decodeInbound decodes the InboundEmail values of recs.
func decodeInbound(t *testing.T, recs []*kgo.Record) []schemas.InboundEmail {
	t.Helper()
	out := make([]schemas.InboundEmail, len(recs))
	for i, rec := range recs {
		if err := schemas.Unmarshal(rec.Value, &out[i]); err != nil {
			t.Fatalf("decoding inbound record %d (key %q): %v", i, rec.Key, err)
		}
	}
	return out
}

// corpusMessages returns count messages spread evenly over the corpus
// MESSAGES list, as paths relative to corpusDir, or skips the test when
// the corpus is missing.
func corpusMessages(t *testing.T, count int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "MESSAGES"))
	if err != nil {
		t.Skipf("corpus list %s not found (%v); check out the shared folder beside the repository to run this test", filepath.Join(corpusDir, "MESSAGES"), err)
	}
	defer f.Close()
	var all []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			all = append(all, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the corpus list: %v", err)
	}
	if len(all) < count {
		t.Fatalf("the corpus lists %d messages, the test needs %d", len(all), count)
	}
	picked := make([]string, count)
	for i := range picked {
		picked[i] = all[i*len(all)/count]
	}
	return picked
}

// readCorpus returns the bytes of a corpus message.
func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatalf("reading corpus message %s: %v", rel, err)
	}
	return raw
}

// wireForm returns body as the server receives it from net/smtp, whose
// DATA writer (net/textproto's DotWriter) turns a line feed that does not
// follow a carriage return into CRLF and ends the data with a line break.
func wireForm(body []byte) []byte {
	var out bytes.Buffer
	afterCR := false
	for _, c := range body {
		if c == '\n' && !afterCR {
			out.WriteByte('\r')
		}
		out.WriteByte(c)
		afterCR = c == '\r' && !afterCR
	}
	switch {
	case bytes.HasSuffix(out.Bytes(), []byte("\n")):
	case afterCR:
		out.WriteByte('\n')
	default:
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

// syncBuffer is a bytes.Buffer that the listener's goroutines may log to
// while the test reads it.
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
