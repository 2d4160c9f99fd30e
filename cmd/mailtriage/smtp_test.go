package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtriage/internal/kafkaconfig"
)

func TestParseSMTPConfig(t *testing.T) {
	t.Setenv(kafkaconfig.EnvBrokers, "")
	dir := t.TempDir()
	file := filepath.Join(dir, "smtp.yaml")
	yaml := "domains:\n  support.example.com: {tenant: acme}\nkafka:\n  brokers: [127.0.0.1:9092]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := parseSMTPConfig([]string{"--config", file, "--storage", dir, "--lmtp", "--listen", "127.0.0.1:2424"})
	if err != nil {
		t.Fatalf("parseSMTPConfig: %v", err)
	}
	if !slices.Equal(cfg.kafka.Brokers, []string{"127.0.0.1:9092"}) {
		t.Errorf("brokers = %q, want the kafka section of --config", cfg.kafka.Brokers)
	}
	if !cfg.lmtp || cfg.listen != "127.0.0.1:2424" {
		t.Errorf("lmtp %v listen %q, want true and 127.0.0.1:2424", cfg.lmtp, cfg.listen)
	}

	cfg, err = parseSMTPConfig([]string{"--config", file, "--storage", dir, "--brokers", "10.0.0.1:9092"})
	if err != nil {
		t.Fatalf("parseSMTPConfig with --brokers: %v", err)
	}
	if !slices.Equal(cfg.kafka.Brokers, []string{"10.0.0.1:9092"}) {
		t.Errorf("brokers = %q, want --brokers to override the file", cfg.kafka.Brokers)
	}
}

func TestParseSMTPConfigErrors(t *testing.T) {
	t.Setenv(kafkaconfig.EnvBrokers, "127.0.0.1:9092")
	dir := t.TempDir()
	file := filepath.Join(dir, "smtp.yaml")
	if err := os.WriteFile(file, []byte("domains:\n  support.example.com: {tenant: acme}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"--storage", dir}, "--config is missing"},
		{"no storage", []string{"--config", file}, "--storage is missing"},
		{"cert without key", []string{"--config", file, "--storage", dir, "--starttls-cert", "c.pem"}, "must be given together"},
		{"bad listen", []string{"--config", file, "--storage", dir, "--listen", "2525"}, "invalid --listen"},
		{"argument", []string{"--config", file, "--storage", dir, "extra"}, "takes only flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSMTPConfig(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseSMTPConfig(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
