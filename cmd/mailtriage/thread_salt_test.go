package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestThreadSaltSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "salt")
	if err := os.WriteFile(file, []byte("file-salt-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Setenv(envThreadSalt, "")
	if salt, err := threadSalt(""); err != nil || salt != "" {
		t.Errorf("neither file nor environment: salt %q, error %v; expected no salt and no error", salt, err)
	}

	t.Setenv(envThreadSalt, "env-salt-value")
	if salt, err := threadSalt(""); err != nil || salt != "env-salt-value" {
		t.Errorf("environment only: salt %q, error %v; expected the environment's", salt, err)
	}
	if salt, err := threadSalt(file); err != nil || salt != "file-salt-value" {
		t.Errorf("file and environment: salt %q, error %v; expected the file's without the line break", salt, err)
	}

	_, err := threadSalt(empty)
	if err == nil || !strings.Contains(err.Error(), "--thread-salt-file") {
		t.Errorf("empty file: error %v, expected one naming --thread-salt-file", err)
	}
	_, err = threadSalt(filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "--thread-salt-file") {
		t.Errorf("missing file: error %v, expected one naming --thread-salt-file", err)
	}
}

func TestProcessConfigThreadSalt(t *testing.T) {
	clearKafkaEnv(t)
	t.Setenv(envThreadSalt, "env-salt-value")
	cfg, err := parseProcessConfig([]string{"--brokers", "127.0.0.1:9092"}, fixedHost)
	if err != nil {
		t.Fatalf("parseProcessConfig: %v", err)
	}
	if cfg.threadSalt != "env-salt-value" {
		t.Errorf("threadSalt = %q, expected the value of %s", cfg.threadSalt, envThreadSalt)
	}

	file := filepath.Join(t.TempDir(), "salt")
	if err := os.WriteFile(file, []byte("file-salt-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = parseProcessConfig([]string{"--brokers", "127.0.0.1:9092", "--thread-salt-file", file}, fixedHost)
	if err != nil {
		t.Fatalf("parseProcessConfig with --thread-salt-file: %v", err)
	}
	if cfg.threadSalt != "file-salt-value" {
		t.Errorf("threadSalt = %q, expected the content of --thread-salt-file", cfg.threadSalt)
	}
}
