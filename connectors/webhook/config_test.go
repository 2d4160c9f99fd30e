package webhook

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestLoadConfigReadsEverySecretSource(t *testing.T) {
	secretFile := writeFile(t, "acme-secret", "file-secret-0123456789\n")
	path := writeFile(t, "gateway.yaml", `
tenants:
  acme:
    secrets: ["inline-secret-0123456789"]
    secret-files: [`+secretFile+`]
    secret-env: [ACME_SECRET]
  globex:
    secret-env: [GLOBEX_SECRET]
tolerance: 2m
max-body-bytes: 1048576
retry-after: 9s
kafka:
  brokers: [127.0.0.1:9092]
`)
	cfg, err := LoadConfig(path, lookupFrom(map[string]string{
		"ACME_SECRET":   "env-secret-0123456789",
		"GLOBEX_SECRET": "globex-secret-0123456789",
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}

	wantAcme := [][]byte{[]byte("inline-secret-0123456789"), []byte("file-secret-0123456789"), []byte("env-secret-0123456789")}
	if got := cfg.Tenants["acme"].Secrets; !reflect.DeepEqual(got, wantAcme) {
		t.Errorf("acme secrets = %q, want %q", got, wantAcme)
	}
	if got := len(cfg.Tenants["globex"].Secrets); got != 1 {
		t.Errorf("globex has %d secrets, want 1", got)
	}
	if cfg.Tolerance != 2*time.Minute || cfg.MaxBodyBytes != 1<<20 || cfg.RetryAfter != 9*time.Second {
		t.Errorf("tolerance/max-body-bytes/retry-after = %s/%d/%s, want 2m/1048576/9s", cfg.Tolerance, cfg.MaxBodyBytes, cfg.RetryAfter)
	}
	if s := cfg.String(); strings.Contains(s, "secret-0123456789") || !strings.Contains(s, "acme(3 secrets)") {
		t.Errorf("String() = %q, want the secret counts and no secret", s)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := testConfig().withDefaults()
	if cfg.Tolerance != 5*time.Minute || cfg.MaxBodyBytes != 25<<20 || cfg.RetryWindow != 5*time.Minute || cfg.RetryCacheItems != 100_000 {
		t.Errorf("defaults = tolerance %s, max body %d, retry window %s, cache %d; want 5m, 25 MiB, 5m, 100000",
			cfg.Tolerance, cfg.MaxBodyBytes, cfg.RetryWindow, cfg.RetryCacheItems)
	}
}

func TestLoadConfigRejectsBadSettings(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no tenants", "tolerance: 1m\n", "no tenants"},
		{"tenant without secret", "tenants:\n  acme: {}\n", `tenant "acme" has no secret`},
		{"short secret", "tenants:\n  acme:\n    secrets: [short]\n", `tenant "acme", secrets[0]: the secret has 5 bytes: use at least 16`},
		{"unset variable", "tenants:\n  acme:\n    secret-env: [NOT_SET_ANYWHERE]\n", "environment variable NOT_SET_ANYWHERE is not set"},
		{"missing secret file", "tenants:\n  acme:\n    secret-files: [/nonexistent/secret]\n", `tenant "acme": reading secret file`},
		{"unknown key", "tenants:\n  acme:\n    secret: [abcdefghijklmnopqrstu]\n", "field secret not found"},
		{"tenant with slash", "tenants:\n  a/b:\n    secrets: [abcdefghijklmnopqrstu]\n", `invalid tenant "a/b"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig(writeFile(t, "gateway.yaml", c.yaml), lookupFrom(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadConfig error = %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "abcdefghijklmnopqrstu") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}

func TestLoadConfigDownloads(t *testing.T) {
	path := writeFile(t, "gateway.yaml", `
tenants:
  acme: {secrets: ["0123456789abcdef0123"]}
downloads:
  enabled: true
  allow-private-addresses: true
  max-attachment-bytes: 1048576
  timeout: 12s
`)
	cfg, err := LoadConfig(path, lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Downloads.Enabled || !cfg.Downloads.AllowPrivateAddresses {
		t.Errorf("downloads = %+v, want enabled with private addresses allowed", cfg.Downloads)
	}
	if cfg.Downloads.Limits.MaxAttachmentBytes != 1048576 {
		t.Errorf("max attachment bytes = %d, want 1048576", cfg.Downloads.Limits.MaxAttachmentBytes)
	}
	if cfg.Downloads.Limits.Timeout.Seconds() != 12 {
		t.Errorf("timeout = %v, want 12s", cfg.Downloads.Limits.Timeout)
	}
}
