package blobstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestS3ConfigValidate(t *testing.T) {
	valid := S3Config{Endpoint: "127.0.0.1:9000", Bucket: "mail", AccessKey: "a", SecretKey: "s"}
	tests := []struct {
		name    string
		change  func(c *S3Config)
		wantErr string
	}{
		{"missing endpoint", func(c *S3Config) { c.Endpoint = "" }, EnvS3Endpoint},
		{"endpoint with scheme", func(c *S3Config) { c.Endpoint = "https://s3.example.com" }, "without a scheme"},
		{"missing bucket", func(c *S3Config) { c.Bucket = "" }, EnvS3Bucket},
		{"key and key file", func(c *S3Config) { c.AccessKeyFile = "/run/secrets/a" }, EnvS3AccessKeyFile},
		{"missing secret", func(c *S3Config) { c.SecretKey = "" }, EnvS3SecretKey},
		{"unknown encryption", func(c *S3Config) { c.SSE = "sse-c" }, `"sse-c"`},
		{"kms without key", func(c *S3Config) { c.SSE = SSEKMS }, EnvS3KMSKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			_, err := NewS3(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewS3 = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewS3(valid); err != nil {
		t.Errorf("NewS3 with valid settings: %v", err)
	}
}

func TestS3ConfigFromEnv(t *testing.T) {
	t.Setenv(EnvS3Endpoint, "minio.internal:9000")
	t.Setenv(EnvS3Bucket, "mail")
	t.Setenv(EnvS3Region, "eu-central-1")
	t.Setenv(EnvS3TLS, "false")
	t.Setenv(EnvS3AccessKey, "")
	t.Setenv(EnvS3SecretKey, "")
	t.Setenv(EnvS3AccessKeyFile, "/run/secrets/s3-access")
	t.Setenv(EnvS3SecretKeyFile, "/run/secrets/s3-secret")
	t.Setenv(EnvS3SSE, SSEKMS)
	t.Setenv(EnvS3KMSKeyID, "key-1")

	var c S3Config
	if err := c.FromEnv(); err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	want := S3Config{
		Endpoint: "minio.internal:9000", Bucket: "mail", Region: "eu-central-1", DisableTLS: true,
		AccessKeyFile: "/run/secrets/s3-access", SecretKeyFile: "/run/secrets/s3-secret",
		SSE: SSEKMS, KMSKeyID: "key-1",
	}
	if c != want {
		t.Errorf("FromEnv = %+v, want %+v", c, want)
	}

	t.Setenv(EnvS3TLS, "maybe")
	if err := c.FromEnv(); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("FromEnv with %s=maybe: error %v, want one naming the value", EnvS3TLS, err)
	}
}

func TestS3ConfigLogsNoSecrets(t *testing.T) {
	cfg := S3Config{Endpoint: "s3.example.com", Bucket: "mail", AccessKey: "AKIDVISIBLE", SecretKey: "very-secret-value"}

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("store", "s3", cfg)
	for _, out := range []string{cfg.String(), logged.String()} {
		if strings.Contains(out, cfg.AccessKey) || strings.Contains(out, cfg.SecretKey) {
			t.Errorf("output %q carries a credential", out)
		}
		if !strings.Contains(out, "s3.example.com") {
			t.Errorf("output %q does not name the endpoint", out)
		}
	}
}

func TestS3PresignGetTTLBounds(t *testing.T) {
	// Signing sends no request, so the endpoint needs no server.
	s, err := NewS3(S3Config{Endpoint: "127.0.0.1:9", Bucket: "mail", AccessKey: "a", SecretKey: "s", DisableTLS: true})
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	for _, ttl := range []time.Duration{0, time.Millisecond, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(context.Background(), "acme/x", ttl); err == nil || !strings.Contains(err.Error(), ttl.String()) {
			t.Errorf("PresignGet with ttl %s: error %v, want one naming the lifetime", ttl, err)
		}
	}
}
