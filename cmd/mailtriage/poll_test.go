package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/poller"
	"mailtriage/topics"
)

func TestPollConfigToken(t *testing.T) {
	clearKafkaEnv(t)
	t.Setenv(poller.EnvToken, "")
	base := []string{"--brokers", "127.0.0.1:9", "--url", "https://api.example.com/v1/messages", "--tenant", "acme"}

	if _, err := parsePollConfig(base); err == nil || !strings.Contains(err.Error(), "missing bearer token") {
		t.Errorf("without a token: %v, expected the missing-token error", err)
	}

	t.Setenv(poller.EnvToken, "env-token\n")
	cfg, err := parsePollConfig(base)
	if err != nil {
		t.Fatalf("token from the environment: %v", err)
	}
	if token, err := cfg.token()(); err != nil || token != "env-token" {
		t.Errorf("token() = %q, %v; expected env-token", token, err)
	}

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = parsePollConfig(append(base, "--token-file", file))
	if err != nil {
		t.Fatalf("token from a file: %v", err)
	}
	read := cfg.token()
	if token, err := read(); err != nil || token != "file-token-1" {
		t.Errorf("token() = %q, %v; expected file-token-1 from the file over the environment", token, err)
	}
	// The file is read again on every request, so a rotated token is
	// used without a restart.
	if err := os.WriteFile(file, []byte("file-token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if token, _ := read(); token != "file-token-2" {
		t.Errorf("token() after rotation = %q, expected file-token-2", token)
	}

	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parsePollConfig(append(base, "--token-file", empty)); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("with an empty token file: %v, expected an error naming the empty file", err)
	}
}

func TestPollConfigRejectsBadFlags(t *testing.T) {
	clearKafkaEnv(t)
	t.Setenv(poller.EnvToken, "tok")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--brokers", "127.0.0.1:9", "--tenant", "acme"}, "missing --url"},
		{[]string{"--brokers", "127.0.0.1:9", "--url", "https://api.example.com/v1"}, "missing --tenant"},
		{[]string{"--brokers", "127.0.0.1:9", "--url", "https://api.example.com/v1", "--tenant", "acme", "--replication", "0"}, "invalid --replication 0"},
		{[]string{"--url", "https://api.example.com/v1", "--tenant", "acme"}, "brokers"},
	}
	for _, tc := range cases {
		_, err := parsePollConfig(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsePollConfig(%v) returned %v, expected an error containing %q", tc.args, err, tc.want)
		}
	}
}

// mailtriage poll --once reads every page of a loopback API onto the
// inbound topic and exits.
func TestPollOnceCommand(t *testing.T) {
	clearKafkaEnv(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound, topics.DLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	raw := "From: Ana <ana@example.com>\r\nSubject: Raw\r\nMessage-ID: <raw-1@example.com>\r\n\r\nHello.\r\n"
	pages := map[string]string{
		"":   fmt.Sprintf(`{"items":[{"raw":%q},{"message":{"messageId":"json-1@example.com","from":"ana@example.com","subject":"JSON","text":"Hi"}}],"nextCursor":"c1","hasMore":false}`, base64.StdEncoding.EncodeToString([]byte(raw))),
		"c1": `{"items":[],"nextCursor":"c1","hasMore":false}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer cmd-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, pages[r.URL.Query().Get("after")])
	}))
	t.Cleanup(srv.Close)

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("cmd-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parsePollConfig([]string{"--brokers", cluster.ListenAddrs()[0], "--url", srv.URL + "/v1/messages",
		"--tenant", "acme", "--token-file", file, "--storage", t.TempDir(), "--once"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs strings.Builder
	if err := poll(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if strings.Contains(logs.String(), "cmd-token") {
		t.Error("the logs contain the bearer token")
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topics.Inbound),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var keys []string
	for len(keys) < 2 && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) { keys = append(keys, string(r.Key)) })
	}
	if strings.Join(keys, ",") != "acme/raw-1@example.com,acme/json-1@example.com" {
		t.Errorf("inbound keys %v, expected the raw item and then the JSON item", keys)
	}

	// A wrong token stops the command with the fix.
	if err := os.WriteFile(file, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.once = false
	err = poll(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if !errors.Is(err, poller.ErrUnauthorized) {
		t.Errorf("poll with a wrong token returned %v, expected ErrUnauthorized", err)
	}
}
