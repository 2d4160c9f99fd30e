package blobstore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests run against the MinIO server of the local stack
// (scripts/stack.sh), which checks the signature version 4 of every
// request and applies server-side encryption with its KMS key.

func TestS3PutGetWithSSE(t *testing.T) {
	tests := []struct {
		name string
		key  string
		data []byte
	}{
		{"small raw message", RawKey("caf=C3=A9/2024/03/05/0123456789abcdef"), []byte("From: a@example.org\r\n\r\nbody\r\n")},
		// More than one 64 KiB chunk of a streamed upload.
		{"several chunks", "acme/big", bytes.Repeat([]byte("0123456789abcdef"), 10_000)},
	}
	b := newMinIOBucket(t)
	s := b.store(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if err := s.Put(ctx, tt.key, tt.data); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := s.Get(ctx, tt.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("Get returned %d bytes that differ from the %d bytes put", len(got), len(tt.data))
			}

			info := b.stat(t, tt.key)
			if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
				t.Errorf("stored object reports x-amz-server-side-encryption %q, want %q (SSE-S3)", got, "AES256")
			}
			if got := info.Metadata.Get("X-Amz-Meta-Sha256"); got != Sum(tt.data) {
				t.Errorf("stored object has x-amz-meta-sha256 %q, want %q", got, Sum(tt.data))
			}
			if info.Size != int64(len(tt.data)) {
				t.Errorf("stored object has %d bytes, want %d", info.Size, len(tt.data))
			}
		})
	}
}

func TestS3SSEKMS(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	cfg := b.config(t)
	cfg.SSE = SSEKMS
	cfg.KMSKeyID = b.env.KMSKeyID
	s := newTestS3(t, cfg)
	data := []byte("%PDF-1.7 encrypted with the KMS key")

	if err := s.Put(ctx, "acme/kms", data); err != nil {
		t.Fatalf("Put: %v", err)
	}
	info := b.stat(t, "acme/kms")
	if got := info.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
		t.Errorf("stored object reports x-amz-server-side-encryption %q, want %q", got, "aws:kms")
	}
	// MinIO reports the key as an ARN: arn:aws:kms:KEY.
	if got := info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); !strings.HasSuffix(got, ":"+cfg.KMSKeyID) {
		t.Errorf("stored object reports KMS key %q, want one ending in %q", got, ":"+cfg.KMSKeyID)
	}
	got, err := s.Get(ctx, "acme/kms")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get = %q (error %v), want the bytes put", got, err)
	}
}

func TestS3SSEKMSUnknownKeyStoresNothing(t *testing.T) {
	b := newMinIOBucket(t)
	cfg := b.config(t)
	cfg.SSE = SSEKMS
	cfg.KMSKeyID = b.env.KMSKeyID + "-missing"
	s := newTestS3(t, cfg)

	err := s.Put(context.Background(), "acme/kms", []byte("x"))
	if err == nil {
		t.Fatalf("Put with the unknown KMS key %q succeeded, want an error", cfg.KMSKeyID)
	}
	if !strings.Contains(err.Error(), `"acme/kms"`) {
		t.Errorf("error %q does not name the key", err)
	}
	b.requireMissing(t, "acme/kms")
}

func TestS3PutStreamNonSeekable(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	cfg := b.config(t)
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
	stored := b.stat(t, key)
	if got := stored.Metadata.Get("X-Amz-Meta-Sha256"); got != Sum(data) {
		t.Errorf("stored object has x-amz-meta-sha256 %q, want %q", got, Sum(data))
	}
	if got := stored.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("stored object reports x-amz-server-side-encryption %q, want %q", got, "AES256")
	}
	if entries, _ := os.ReadDir(cfg.TempDir); len(entries) != 0 {
		t.Errorf("temporary folder still contains %d files after the upload", len(entries))
	}
}

func TestS3PutStreamSizeMismatchStoresNothing(t *testing.T) {
	b := newMinIOBucket(t)
	s := b.store(t)

	_, err := s.PutStream(context.Background(), "acme/x", onlyReader{strings.NewReader("0123456789")}, 4)
	if err == nil || !strings.Contains(err.Error(), "more than the 4 bytes") {
		t.Fatalf("PutStream = %v, want an error about the size", err)
	}
	b.requireMissing(t, "acme/x")
}

func TestS3PutExistingKey(t *testing.T) {
	ctx := context.Background()
	s := newMinIOBucket(t).store(t)
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
	s := newMinIOBucket(t).store(t)
	_, err := s.Get(context.Background(), "acme/never-stored")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: error %v, want ErrNotFound", err)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	b := newMinIOBucket(t)
	tests := []struct {
		name   string
		change func(c *S3Config)
	}{
		{"wrong secret key", func(c *S3Config) { c.SecretKey += "-wrong" }},
		{"unknown access key", func(c *S3Config) { c.AccessKey = "unknown-" + c.AccessKey }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := b.config(t)
			tt.change(&cfg)
			s := newTestS3(t, cfg)

			checkErr := s.Check(ctx)
			putErr := s.Put(ctx, "acme/x", []byte("x"))
			_, getErr := s.Get(ctx, "acme/x")
			for _, step := range []struct {
				name string
				err  error
			}{{"Check", checkErr}, {"Put", putErr}, {"Get", getErr}} {
				if step.err == nil {
					t.Errorf("%s with wrong credentials succeeded, want an error", step.name)
					continue
				}
				msg := step.err.Error()
				if !strings.Contains(msg, "rejected the credentials") {
					t.Errorf("%s error %q does not say that the credentials were rejected", step.name, msg)
				}
				if !strings.Contains(msg, EnvS3AccessKey) || !strings.Contains(msg, EnvS3SecretKey) {
					t.Errorf("%s error %q does not name %s and %s", step.name, msg, EnvS3AccessKey, EnvS3SecretKey)
				}
				if strings.Contains(msg, cfg.SecretKey) {
					t.Errorf("%s error carries the secret key", step.name)
				}
				if errors.Is(step.err, ErrNotFound) {
					t.Errorf("%s error %q wraps ErrNotFound, want a credentials error", step.name, msg)
				}
			}
			b.requireMissing(t, "acme/x")
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	if err := b.store(t).Check(ctx); err != nil {
		t.Fatalf("Check of the existing bucket: %v", err)
	}

	cfg := b.config(t)
	cfg.Bucket = b.name + "-missing"
	s := newTestS3(t, cfg)

	checkErr := s.Check(ctx)
	putErr := s.Put(ctx, "acme/x", []byte("x"))
	_, getErr := s.Get(ctx, "acme/x")
	for _, step := range []struct {
		name string
		err  error
	}{{"Check", checkErr}, {"Put", putErr}, {"Get", getErr}} {
		if step.err == nil {
			t.Errorf("%s of a missing bucket succeeded, want an error", step.name)
			continue
		}
		msg := step.err.Error()
		if !strings.Contains(msg, `S3 bucket "`+cfg.Bucket+`" not found`) {
			t.Errorf("%s error %q does not say that bucket %q is not found", step.name, msg, cfg.Bucket)
		}
		if !strings.Contains(msg, EnvS3Bucket) {
			t.Errorf("%s error %q does not name %s", step.name, msg, EnvS3Bucket)
		}
		if errors.Is(step.err, ErrNotFound) {
			t.Errorf("%s error %q wraps ErrNotFound, want a missing-bucket error", step.name, msg)
		}
	}
}

func TestS3PresignGet(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	s := b.store(t)
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
	if strings.Contains(signed, b.env.SecretKey) {
		t.Errorf("presigned URL carries the secret key")
	}

	client := &http.Client{Timeout: minioTimeout}
	status, body := b.download(t, client, signed)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET presigned URL = %d %q, want 200 and the object", status, body)
	}

	// The signature covers the key, so the URL does not open another object.
	u.Path = strings.Replace(u.Path, "/1-", "/2-", 1)
	if status, _ := b.download(t, client, u.String()); status != http.StatusForbidden {
		t.Errorf("GET presigned URL with another key = %d, want 403", status)
	}
}

func TestS3PresignGetExpires(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	s := b.store(t)
	if err := s.Put(ctx, "acme/short", []byte("short-lived")); err != nil {
		t.Fatalf("Put: %v", err)
	}

	const ttl = 2 * time.Second
	signed, err := s.PresignGet(ctx, "acme/short", ttl)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	signedAt := time.Now()
	client := &http.Client{Timeout: minioTimeout}
	if status, body := b.download(t, client, signed); status != http.StatusOK || string(body) != "short-lived" {
		t.Fatalf("GET presigned URL at once = %d %q, want 200 and the object", status, body)
	}

	// X-Amz-Date has whole seconds, so one more second passes the lifetime
	// whatever the fraction of the second the URL was signed in.
	time.Sleep(time.Until(signedAt.Add(ttl + time.Second)))
	status, body := b.download(t, client, signed)
	if status != http.StatusForbidden {
		t.Errorf("GET presigned URL after %s = %d, want 403", ttl+time.Second, status)
	}
	if !strings.Contains(strings.ToLower(string(body)), "expired") {
		t.Errorf("response to an expired URL %q does not say that it expired", body)
	}
}

func TestS3CredentialsFromFiles(t *testing.T) {
	b := newMinIOBucket(t)
	dir := t.TempDir()
	accessFile := filepath.Join(dir, "access")
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(accessFile, []byte(b.env.AccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(b.env.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := b.config(t)
	cfg.AccessKey, cfg.SecretKey = "", ""
	cfg.AccessKeyFile, cfg.SecretKeyFile = accessFile, secretFile
	s := newTestS3(t, cfg)
	if err := s.Put(context.Background(), "acme/x", []byte("x")); err != nil {
		t.Fatalf("Put with credentials from files: %v", err)
	}
	if got := b.stat(t, "acme/x").Size; got != 1 {
		t.Errorf("stored object has %d bytes, want 1", got)
	}

	cfg.SecretKeyFile = filepath.Join(dir, "missing")
	_, err := NewS3(cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.SecretKeyFile) {
		t.Errorf("NewS3 with a missing secret file: error %v, want one naming the file", err)
	}
}

// TestS3OverTLS puts a TLS-terminating reverse proxy on loopback in front
// of MinIO, so that the store talks HTTPS with a custom CA pool as it
// would to Amazon S3. The proxy keeps the Host header that the client
// signed, so MinIO still checks every signature.
func TestS3OverTLS(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	target := &url.URL{Scheme: "http", Host: b.env.Endpoint}
	proxy := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}})
	t.Cleanup(proxy.Close)

	cfg := b.config(t)
	cfg.Endpoint = strings.TrimPrefix(proxy.URL, "https://")
	cfg.DisableTLS = false
	cfg.Transport = proxy.Client().Transport
	s := newTestS3(t, cfg)
	data := bytes.Repeat([]byte("over TLS "), 10_000)

	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check over TLS: %v", err)
	}
	if err := s.Put(ctx, "acme/tls", data); err != nil {
		t.Fatalf("Put over TLS: %v", err)
	}
	got, err := s.Get(ctx, "acme/tls")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get over TLS returned %d bytes (error %v), want the %d bytes put", len(got), err, len(data))
	}

	signed, err := s.PresignGet(ctx, "acme/tls", time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	if !strings.HasPrefix(signed, proxy.URL+"/") {
		t.Fatalf("presigned URL %q does not start with the proxy URL %q", signed, proxy.URL)
	}
	status, body := get(t, proxy.Client(), signed)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET presigned URL over TLS = %d with %d bytes, want 200 and the %d bytes put", status, len(body), len(data))
	}

	// Without the CA of the proxy, the handshake fails.
	cfg.Transport = nil
	if err := newTestS3(t, cfg).Check(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Check trusting only the system CAs: error %v, want a certificate error", err)
	}
}
