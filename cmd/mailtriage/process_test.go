package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/kafkaconfig"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func fixedHost() (string, error) { return "worker-7", nil }

// clearKafkaEnv unsets every MAILTRIAGE_KAFKA_* variable that
// kafkaconfig reads, so that an exported local stack does not leak in.
func clearKafkaEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{kafkaconfig.EnvBrokers, kafkaconfig.EnvTLS, kafkaconfig.EnvTLSCA, kafkaconfig.EnvTLSCert,
		kafkaconfig.EnvTLSKey, kafkaconfig.EnvTLSServerName, kafkaconfig.EnvSASLMechanism, kafkaconfig.EnvSASLUsername,
		kafkaconfig.EnvSASLPassword, kafkaconfig.EnvSASLPasswordFile, kafkaconfig.EnvSASLToken, kafkaconfig.EnvSASLTokenFile} {
		t.Setenv(name, "")
	}
}

func TestProcessConfigPrecedence(t *testing.T) {
	clearKafkaEnv(t)
	file := filepath.Join(t.TempDir(), "mailtriage.yaml")
	content := "kafka:\n  brokers: [file.example.test:9092]\n  sasl:\n    mechanism: SCRAM-SHA-512\n    username: from-file\n    password-file: /run/secrets/kafka\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := parseProcessConfig([]string{"--config", file}, fixedHost)
	if err != nil {
		t.Fatalf("file only: %v", err)
	}
	if got := strings.Join(cfg.kafka.Brokers, ","); got != "file.example.test:9092" {
		t.Errorf("file only: brokers %q, expected the file's", got)
	}

	t.Setenv(kafkaconfig.EnvBrokers, "env.example.test:9092")
	t.Setenv(kafkaconfig.EnvSASLUsername, "from-env")
	cfg, err = parseProcessConfig([]string{"--config", file}, fixedHost)
	if err != nil {
		t.Fatalf("file and environment: %v", err)
	}
	if got := strings.Join(cfg.kafka.Brokers, ","); got != "env.example.test:9092" || cfg.kafka.SASL.Username != "from-env" {
		t.Errorf("file and environment: brokers %q and user %q, expected the environment's", got, cfg.kafka.SASL.Username)
	}

	cfg, err = parseProcessConfig([]string{"--brokers", "flag.example.test:9092", "--config", file, "--sasl-username", "from-flag"}, fixedHost)
	if err != nil {
		t.Fatalf("file, environment and flags: %v", err)
	}
	if got := strings.Join(cfg.kafka.Brokers, ","); got != "flag.example.test:9092" || cfg.kafka.SASL.Username != "from-flag" {
		t.Errorf("file, environment and flags: brokers %q and user %q, expected the flags'", got, cfg.kafka.SASL.Username)
	}
	if cfg.kafka.SASL.PasswordFile != "/run/secrets/kafka" || cfg.kafka.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Errorf("settings only in the file were lost: %+v", cfg.kafka.SASL)
	}
}

func TestProcessConfigDefaults(t *testing.T) {
	clearKafkaEnv(t)
	cfg, err := parseProcessConfig([]string{"--brokers", "127.0.0.1:9092"}, fixedHost)
	if err != nil {
		t.Fatalf("parseProcessConfig: %v", err)
	}
	if cfg.transactionalID != "mailtriage-processor-worker-7" {
		t.Errorf("transactional ID %q, expected mailtriage-processor-worker-7", cfg.transactionalID)
	}
	if cfg.group != "mailtriage-processor" || cfg.rulesFile != "config/rules.yaml" || cfg.schemaRegistry != "" {
		t.Errorf("group %q, rules %q, registry %q, expected the defaults", cfg.group, cfg.rulesFile, cfg.schemaRegistry)
	}
	if cfg.createTopics || cfg.partitions != 6 || cfg.replication != -1 || cfg.logLevel != slog.LevelInfo {
		t.Errorf("create %v, partitions %d, replication %d, log level %v, expected false, 6, -1, INFO",
			cfg.createTopics, cfg.partitions, cfg.replication, cfg.logLevel)
	}

	cfg, err = parseProcessConfig([]string{"--brokers", "127.0.0.1:9092", "--transactional-id", "proc-a", "--log-level", "debug"}, fixedHost)
	if err != nil {
		t.Fatalf("parseProcessConfig: %v", err)
	}
	if cfg.transactionalID != "proc-a" || cfg.logLevel != slog.LevelDebug {
		t.Errorf("transactional ID %q and log level %v, expected proc-a and DEBUG", cfg.transactionalID, cfg.logLevel)
	}
}

func TestProcessConfigErrors(t *testing.T) {
	clearKafkaEnv(t)
	noHost := func() (string, error) { return "", errors.New("uname failed") }
	tests := []struct {
		name     string
		args     []string
		hostname func() (string, error)
		expect   string
	}{
		{"no brokers", nil, fixedHost, "kafka.brokers (--brokers) is empty"},
		{"partitions without create", []string{"--brokers", "a:1", "--partitions", "3"}, fixedHost, "add --create-topics"},
		{"zero partitions", []string{"--brokers", "a:1", "--create-topics", "--partitions", "0"}, fixedHost, "invalid --partitions 0"},
		{"zero replication", []string{"--brokers", "a:1", "--create-topics", "--replication", "0"}, fixedHost, "invalid --replication 0"},
		{"no host name", []string{"--brokers", "a:1"}, noHost, "pass --transactional-id"},
		{"empty group", []string{"--brokers", "a:1", "--group", ""}, fixedHost, "--group is empty"},
		{"argument", []string{"--brokers", "a:1", "extra"}, fixedHost, `unexpected argument "extra"`},
		{"missing config file", []string{"--config", "/nonexistent/mailtriage.yaml"}, fixedHost, "reading the Kafka settings"},
		{"password flag", []string{"--brokers", "a:1", "--sasl-password", "x"}, fixedHost, "flag provided but not defined: -sasl-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseProcessConfig(tt.args, tt.hostname)
			if err == nil || !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("parseProcessConfig returned %v, expected an error containing %q", err, tt.expect)
			}
		})
	}
}

// TestProcessRunsUntilCanceled runs the command's processor against an
// in-process broker with --create-topics and checks that it turns inbound
// mail into tickets and returns nil when its context ends.
func TestProcessRunsUntilCanceled(t *testing.T) {
	const rulesFile = "../../config/rules.yaml"
	if _, err := os.Stat(rulesFile); err != nil {
		t.Skipf("ruleset %s not found: %v", rulesFile, err)
	}
	clearKafkaEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")

	cfg, err := parseProcessConfig([]string{"--brokers", brokers, "--rules", rulesFile, "--create-topics", "--partitions", "2"}, fixedHost)
	if err != nil {
		t.Fatalf("parseProcessConfig: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- process(runCtx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))) }()

	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	const messages = 5
	for i := range messages {
		e := schemas.InboundEmail{
			Tenant: "acme", MessageID: fmt.Sprintf("proc-%d@example.test", i), Source: schemas.SourceImport,
			ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Subject: fmt.Sprintf("Invoice question %d", i),
			Text: fmt.Sprintf("message body %d", i),
		}
		value, err := schemas.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topics.Inbound, Key: []byte(e.Key()), Value: value}).FirstErr(); err != nil {
			t.Fatalf("producing %d: %v", i, err)
		}
	}

	tickets := countCommitted(ctx, t, cluster.ListenAddrs(), topics.Tickets, messages, done)
	if tickets != messages {
		t.Errorf("read %d ticket commands, expected %d", tickets, messages)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("process returned %v after its context ended, expected nil", err)
		}
	case <-ctx.Done():
		t.Fatal("process did not return after its context ended")
	}
}

// countCommitted reads topic with read_committed until it has read expect
// records or ctx ends, and fails when the processor stops first.
func countCommitted(ctx context.Context, t *testing.T, brokers []string, topic string, expect int, done <-chan error) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	n := 0
	for n < expect {
		select {
		case err := <-done:
			t.Fatalf("process returned %v before producing %d records to %s", err, expect, topic)
		default:
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s before the deadline", n, expect, topic)
		}
		n += fetches.NumRecords()
	}
	return n
}
