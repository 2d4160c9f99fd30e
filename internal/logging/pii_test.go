package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtriage/internal/demo"
	"mailtriage/internal/logging"
)

// Personal data seeded into the test messages. No log line of the run may
// contain any of them.
var seededPII = []string{
	"jane.doe@example.com",              // sender address
	"Jane Doe",                          // sender name in From
	"Bjørn Ødegård",                     // second sender name
	"bjorn.odegard@example.no",          // second sender address
	"support@acme.example",              // recipient address
	"+44 20 7946 0958", "+442079460958", // phone number
	"DE89 3704 0044 0532 0130 00",             // IBAN as written
	"DE89370400440532013000",                  // IBAN without spaces
	"4111 1111 1111 1111", "4111111111111111", // card number
	"pii-1@mail.example.com",    // Message-ID
	"Refund for Jane's order",   // subject
	"my card was charged twice", // body text
}

// piiMessage returns a message that carries the seeded personal data.
func piiMessage(id, fromName, fromAddr string) string {
	return strings.Join([]string{
		"From: " + fromName + " <" + fromAddr + ">",
		"To: Acme Support <support@acme.example>",
		"Subject: Refund for Jane's order",
		"Message-ID: <" + id + "@mail.example.com>",
		"Date: Tue, 05 Mar 2024 09:12:50 +0000",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Hello, my card was charged twice. Card 4111 1111 1111 1111,",
		"IBAN DE89 3704 0044 0532 0130 00 for the refund.",
		"Call me on +44 20 7946 0958 or write to " + fromAddr + ".",
		"Jane Doe",
		"",
	}, "\r\n")
}

// TestDemoLogsNoPII runs the demo, with the processor, a duplicate, an
// unparseable file and the Slack sink, at debug level through the JSON
// logger, and checks that every line is JSON and holds none of the seeded
// personal data.
func TestDemoLogsNoPII(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"1.eml":     piiMessage("pii-1", "Jane Doe", "jane.doe@example.com"),
		"1-dup.eml": piiMessage("pii-1", "Jane Doe", "jane.doe@example.com"),
		"2.eml":     piiMessage("pii-2", "Bjørn Ødegård", "bjorn.odegard@example.no"),
		"3.eml":     "\x00\x01 not mail from jane.doe@example.com, +44 20 7946 0958\x00",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	slackPosts := startSlackStandIn(t)

	var buf syncBuffer
	logger := logging.New(&buf, logging.Options{Role: "demo", Format: logging.FormatJSON, Level: slog.LevelDebug})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	report, err := demo.Run(ctx, demo.Config{
		Mail:       []string{dir},
		RulesFile:  "../../config/rules.yaml",
		Tenant:     "acme",
		Partitions: 1,
		Timeout:    80 * time.Second,
		Logger:     logger,
		Sinks:      demo.SinkConfig{SlackWebhook: slackPosts.url()},
	})
	if err != nil {
		t.Fatalf("demo.Run: %v", err)
	}
	if slackPosts.count() == 0 {
		t.Errorf("the Slack stand-in got no post, so the sink's logs were not exercised")
	}
	t.Logf("demo report: %+v", report)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d log lines, expected the runner and the sink to log at debug level:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var decoded map[string]any
		if err := json.Unmarshal([]byte(line), &decoded); err != nil {
			t.Errorf("line %d is not JSON: %v\n%s", i+1, err, line)
			continue
		}
		if decoded["role"] != "demo" {
			t.Errorf("line %d has role %v, expected demo", i+1, decoded["role"])
		}
		for _, value := range seededPII {
			if strings.Contains(line, value) || strings.Contains(line, jsonEscaped(value)) {
				t.Errorf("line %d contains the seeded value %q:\n%s", i+1, value, line)
			}
		}
	}
}

// jsonEscaped returns value as encoding/json writes it inside a string,
// so that a value with an apostrophe or non-ASCII letters is found too.
func jsonEscaped(value string) string {
	b, _ := json.Marshal(value)
	return string(b[1 : len(b)-1])
}

// syncBuffer is a bytes.Buffer for writers on several goroutines.
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

// slackStandIn is a Slack incoming webhook on loopback that counts posts.
type slackStandIn struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts int
}

func startSlackStandIn(t *testing.T) *slackStandIn {
	t.Helper()
	s := &slackStandIn{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.posts++
		s.mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackStandIn) url() string { return s.srv.URL + "/services/T0/B0/pii" }

func (s *slackStandIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}
