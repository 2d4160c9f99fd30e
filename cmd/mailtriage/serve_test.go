package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"mailtriage/connectors/webhook"
	"mailtriage/topics"
)

func writeGatewayConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) (string, bool) { return "", false }

func TestParseServeConfigErrors(t *testing.T) {
	config := writeGatewayConfig(t, "tenants:\n  acme:\n    secrets: [acme-secret-0123456789]\n")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"--brokers", "127.0.0.1:9092", "--storage", t.TempDir()}, "missing --config"},
		{"no storage", []string{"--brokers", "127.0.0.1:9092", "--config", config}, "missing --storage"},
		{"no brokers", []string{"--config", config, "--storage", t.TempDir()}, "broker"},
		{"extra argument", []string{"--brokers", "127.0.0.1:9092", "--config", config, "--storage", t.TempDir(), "now"}, `unexpected argument "now"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MAILTRIAGE_KAFKA_BROKERS", "")
			_, err := parseServeConfig(c.args, noEnv)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("parseServeConfig error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseServeConfigReadsKafkaSection(t *testing.T) {
	config := writeGatewayConfig(t, "tenants:\n  acme:\n    secrets: [acme-secret-0123456789]\nkafka:\n  brokers: [broker.example:9092]\n")
	t.Setenv("MAILTRIAGE_KAFKA_BROKERS", "")
	cfg, err := parseServeConfig([]string{"--config", config, "--storage", t.TempDir()}, noEnv)
	if err != nil {
		t.Fatalf("parseServeConfig: %v", err)
	}
	if len(cfg.kafka.Brokers) != 1 || cfg.kafka.Brokers[0] != "broker.example:9092" {
		t.Errorf("brokers = %v, want [broker.example:9092] from the kafka section", cfg.kafka.Brokers)
	}
	if cfg.listen != "127.0.0.1:8080" || len(cfg.gateway.Tenants["acme"].Secrets) != 1 {
		t.Errorf("listen %q, acme secrets %d; want 127.0.0.1:8080 and 1", cfg.listen, len(cfg.gateway.Tenants["acme"].Secrets))
	}
}

func TestServeAcceptsAndStopsOnCancel(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound, topics.DLQ))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	secret := "acme-secret-0123456789"
	config := writeGatewayConfig(t, "tenants:\n  acme:\n    secret-env: [ACME_WEBHOOK_SECRET]\n")
	t.Setenv("MAILTRIAGE_KAFKA_BROKERS", "")
	cfg, err := parseServeConfig([]string{
		"--config", config, "--storage", t.TempDir(), "--listen", "127.0.0.1:0",
		"--brokers", strings.Join(cluster.ListenAddrs(), ","),
	}, func(name string) (string, bool) { return secret, name == "ACME_WEBHOOK_SECRET" })
	if err != nil {
		t.Fatalf("parseServeConfig: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), func(a net.Addr) { addrs <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("serve returned before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not listen within 20s")
	}

	body := []byte("Message-ID: <serve-1@example.org>\r\nFrom: ana@example.org\r\nSubject: hi\r\n\r\nhello\r\n")
	ts := time.Now().Unix()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr.String()+"/v1/inbound/acme/raw", bytes.NewReader(body))
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(secret), ts, body))
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(answer), `"key":"acme/serve-1@example.org"`) {
		t.Fatalf("answer %d %s, want 202 with key acme/serve-1@example.org", resp.StatusCode, answer)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of the cancel")
	}
	if !strings.Contains(logs.String(), `"msg":"gateway stopped"`) || strings.Contains(logs.String(), secret) {
		t.Errorf("logs %s: want a gateway stopped line and no secret", logs.String())
	}
}
