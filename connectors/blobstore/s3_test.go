package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestS3(t *testing.T, cfg S3Config) *S3 {
	t.Helper()
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// onlyReader hides every method of r but Read, so that PutStream cannot seek.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestS3PutGetSignedWithSSE(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())
	data := []byte("From: a@example.org\r\n\r\nbody\r\n")
	key := RawKey("caf=C3=A9/2024/03/05/0123456789abcdef")

	if err := s.Put(ctx, key, data); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Get = %q, want %q", got, data)
	}

	puts := f.requestsTo(http.MethodPut)
	if len(puts) != 1 {
		t.Fatalf("server received %d PUT requests, want 1", len(puts))
	}
	put := puts[0]
	if !put.SignatureOK {
		t.Errorf("PUT signature rejected: %s", put.SignError)
	}
	if want := "/" + f.bucket + "/" + key; put.Path != want {
		t.Errorf("PUT path = %q, want %q", put.Path, want)
	}
	if got := put.Header.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("PUT x-amz-server-side-encryption = %q, want %q", got, "AES256")
	}
	if got := put.Header.Get("X-Amz-Meta-Sha256"); got != Sum(data) {
		t.Errorf("PUT x-amz-meta-sha256 = %q, want %q", got, Sum(data))
	}
	if got := put.Header.Get("If-None-Match"); got != "*" {
		t.Errorf("PUT If-None-Match = %q, want %q", got, "*")
	}
	for _, r := range f.recorded() {
		if !r.SignatureOK {
			t.Errorf("%s %s: signature rejected: %s", r.Method, r.Path, r.SignError)
		}
		for name, values := range r.Header {
			if strings.Contains(strings.Join(values, ","), f.secretKey) {
				t.Errorf("%s %s: header %s carries the secret key", r.Method, r.Path, name)
			}
		}
	}
}

func TestS3SSEKMSHeaders(t *testing.T) {
	f := newFakeS3(t, false)
	cfg := f.config()
	cfg.SSE = SSEKMS
	cfg.KMSKeyID = "arn:aws:kms:eu-test-1:111122223333:key/mail-key"
	s := newTestS3(t, cfg)

	if err := s.Put(context.Background(), "acme/x", []byte("x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	put := f.requestsTo(http.MethodPut)[0]
	if got := put.Header.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
		t.Errorf("x-amz-server-side-encryption = %q, want %q", got, "aws:kms")
	}
	if got := put.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != cfg.KMSKeyID {
		t.Errorf("x-amz-server-side-encryption-aws-kms-key-id = %q, want %q", got, cfg.KMSKeyID)
	}
	if !put.SignatureOK {
		t.Errorf("PUT signature rejected: %s", put.SignError)
	}
}

func TestS3PutStreamNonSeekable(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, false)
	cfg := f.config()
	s := newTestS3(t, cfg)
	data := bytes.Repeat([]byte("streamed attachment "), 20_000)
	key := AttachmentKey("acme/2024/03/05/0123456789abcdef", 0, Sum(data))

	info, err := s.PutStream(ctx, key, onlyReader{bytes.NewReader(data)}, -1)
	if err != nil {
		t.Fatalf("PutStream: %v", err)
	}
	want := ObjectInfo{Key: key, SHA256: Sum(data), Size: int64(len(data))}
	if info != want {
		t.Errorf("PutStream = %+v, want %+v", info, want)
	}
	got, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes (error %v), want the %d bytes streamed", len(got), err, len(data))
	}
	if got := f.requestsTo(http.MethodPut)[0].Header.Get("X-Amz-Meta-Sha256"); got != Sum(data) {
		t.Errorf("x-amz-meta-sha256 = %q, want %q", got, Sum(data))
	}
	if entries, _ := os.ReadDir(cfg.TempDir); len(entries) != 0 {
		t.Errorf("temporary folder still contains %d files after the upload", len(entries))
	}
}

func TestS3PutStreamSizeMismatchSendsNothing(t *testing.T) {
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())

	_, err := s.PutStream(context.Background(), "acme/x", onlyReader{strings.NewReader("0123456789")}, 4)
	if err == nil || !strings.Contains(err.Error(), "more than the 4 bytes") {
		t.Fatalf("PutStream = %v, want an error about the size", err)
	}
	if n := len(f.requestsTo(http.MethodPut)); n != 0 {
		t.Errorf("server received %d PUT requests for a stream of the wrong size, want 0", n)
	}
}

func TestS3PlainHTTPChunkedSignature(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, true)
	cfg := f.config()
	if !cfg.DisableTLS {
		t.Fatalf("config of a plain HTTP server has TLS enabled")
	}
	s := newTestS3(t, cfg)
	// More than one 64 KiB chunk of the streaming signature.
	data := bytes.Repeat([]byte("0123456789abcdef"), 10_000)

	if err := s.Put(ctx, "acme/big", data); err != nil {
		t.Fatalf("Put: %v", err)
	}
	put := f.requestsTo(http.MethodPut)[0]
	if !put.SignatureOK {
		t.Fatalf("PUT signature rejected: %s", put.SignError)
	}
	if got := put.Header.Get("X-Amz-Content-Sha256"); got != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" {
		t.Errorf("x-amz-content-sha256 = %q, want the streaming signature", got)
	}
	got, err := s.Get(ctx, "acme/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes (error %v), want the %d bytes put", len(got), err, len(data))
	}
}

func TestS3PutExistingKey(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())
	key := "acme/2024/03/05/0123456789abcdef/raw.eml"

	if err := s.Put(ctx, key, []byte("first")); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	if err := s.Put(ctx, key, []byte("first")); err != nil {
		t.Errorf("Put of the same bytes again: %v, want nil", err)
	}
	err := s.Put(ctx, key, []byte("second"))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Put of other bytes: error %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), Sum([]byte("first"))) {
		t.Errorf("error %q does not name the digest of the stored object", err)
	}
	got, err := s.Get(ctx, key)
	if err != nil || string(got) != "first" {
		t.Errorf("Get = %q (error %v), want the first bytes", got, err)
	}
}

func TestS3GetMissingKey(t *testing.T) {
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())
	_, err := s.Get(context.Background(), "acme/never-stored")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: error %v, want ErrNotFound", err)
	}
}

func TestS3WrongSecretRejected(t *testing.T) {
	f := newFakeS3(t, false)
	cfg := f.config()
	cfg.SecretKey = "not-the-secret"
	s := newTestS3(t, cfg)

	if err := s.Put(context.Background(), "acme/x", []byte("x")); err == nil {
		t.Fatalf("Put signed with the wrong secret succeeded, want an error")
	}
	requests := f.recorded()
	if len(requests) == 0 || requests[0].SignatureOK {
		t.Errorf("fake server accepted a request signed with the wrong secret: %+v", requests)
	}
}

func TestS3PresignGet(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())
	data := []byte("%PDF-1.7 attachment")
	key := AttachmentKey("acme/2024/03/05/0123456789abcdef", 1, Sum(data))
	if err := s.Put(ctx, key, data); err != nil {
		t.Fatalf("Put: %v", err)
	}

	signed, err := s.PresignGet(ctx, key, 15*time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatalf("presigned URL %q: %v", signed, err)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "900" {
		t.Errorf("X-Amz-Expires = %q, want %q", got, "900")
	}
	if strings.Contains(signed, f.secretKey) {
		t.Errorf("presigned URL carries the secret key")
	}

	resp, err := f.server.Client().Get(signed)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET presigned URL = %d %q, want 200 and the object", resp.StatusCode, body)
	}

	// The signature covers the key, so the URL does not open another object.
	u.Path = strings.Replace(u.Path, "/1-", "/2-", 1)
	resp, err = f.server.Client().Get(u.String())
	if err != nil {
		t.Fatalf("GET altered URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET presigned URL with another key = %d, want 403", resp.StatusCode)
	}
}

func TestS3PresignGetTTLBounds(t *testing.T) {
	f := newFakeS3(t, false)
	s := newTestS3(t, f.config())
	for _, ttl := range []time.Duration{0, time.Millisecond, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(context.Background(), "acme/x", ttl); err == nil || !strings.Contains(err.Error(), ttl.String()) {
			t.Errorf("PresignGet with ttl %s: error %v, want one naming the lifetime", ttl, err)
		}
	}
}

func TestS3Check(t *testing.T) {
	ctx := context.Background()
	f := newFakeS3(t, false)
	if err := newTestS3(t, f.config()).Check(ctx); err != nil {
		t.Errorf("Check of the existing bucket: %v", err)
	}

	cfg := f.config()
	cfg.Bucket = "other-bucket"
	err := newTestS3(t, cfg).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), `"other-bucket"`) {
		t.Errorf("Check of a missing bucket: error %v, want one naming it", err)
	}
}

func TestS3CredentialsFromFiles(t *testing.T) {
	f := newFakeS3(t, false)
	dir := t.TempDir()
	accessFile := filepath.Join(dir, "access")
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(accessFile, []byte(f.accessKey+"\n"), 0o600)
	os.WriteFile(secretFile, []byte(f.secretKey+"\n"), 0o600)

	cfg := f.config()
	cfg.AccessKey, cfg.SecretKey = "", ""
	cfg.AccessKeyFile, cfg.SecretKeyFile = accessFile, secretFile
	s := newTestS3(t, cfg)
	if err := s.Put(context.Background(), "acme/x", []byte("x")); err != nil {
		t.Fatalf("Put with credentials from files: %v", err)
	}
	if put := f.requestsTo(http.MethodPut)[0]; !put.SignatureOK {
		t.Errorf("PUT signature rejected: %s", put.SignError)
	}

	cfg.SecretKeyFile = filepath.Join(dir, "missing")
	_, err := NewS3(cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.SecretKeyFile) {
		t.Errorf("NewS3 with a missing secret file: error %v, want one naming the file", err)
	}
}

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
