package blobstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"mailtriage/internal/testenv"
)

// minioTimeout bounds each setup, cleanup and inspection request that the
// tests send to the local MinIO server.
const minioTimeout = 30 * time.Second

// minioBucket is a bucket on the local MinIO server (scripts/stack.sh)
// that exists for one test. The admin client creates, inspects and
// removes it independently of the store under test.
type minioBucket struct {
	env   testenv.S3Env
	name  string
	admin *minio.Client
}

// newMinIOBucket creates a bucket with a unique name and removes it, with
// every object in it, when the test ends.
func newMinIOBucket(t *testing.T) minioBucket {
	t.Helper()
	env := testenv.S3(t)
	admin, err := minio.New(env.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(env.AccessKey, env.SecretKey, ""),
		Region: env.Region,
	})
	if err != nil {
		t.Fatalf("creating the MinIO admin client for %s: %v", env.Endpoint, err)
	}
	b := minioBucket{env: env, name: uniqueBucketName(t), admin: admin}

	ctx, cancel := context.WithTimeout(context.Background(), minioTimeout)
	defer cancel()
	if err := admin.MakeBucket(ctx, b.name, minio.MakeBucketOptions{Region: env.Region}); err != nil {
		t.Fatalf("creating the test bucket %q on MinIO at %s: %v", b.name, env.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), minioTimeout)
		defer cancel()
		if err := admin.RemoveBucketWithOptions(ctx, b.name, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Errorf("removing the test bucket %q: %v", b.name, err)
		}
	})
	return b
}

// uniqueBucketName derives a valid S3 bucket name from the test name and
// adds random hex, so that tests and repeated runs never share a bucket.
func uniqueBucketName(t *testing.T) string {
	t.Helper()
	var name strings.Builder
	name.WriteString("mt-")
	for _, r := range strings.ToLower(t.Name()) {
		if name.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			name.WriteRune(r)
		case !strings.HasSuffix(name.String(), "-"):
			name.WriteByte('-')
		}
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return strings.TrimSuffix(name.String(), "-") + "-" + hex.EncodeToString(suffix)
}

// config returns the settings of a store on the bucket, with a temporary
// folder of the test for spooled uploads.
func (b minioBucket) config(t *testing.T) S3Config {
	t.Helper()
	return S3Config{
		Endpoint:   b.env.Endpoint,
		Bucket:     b.name,
		Region:     b.env.Region,
		DisableTLS: true,
		AccessKey:  b.env.AccessKey,
		SecretKey:  b.env.SecretKey,
		TempDir:    t.TempDir(),
	}
}

// store returns a store on the bucket with the settings of config.
func (b minioBucket) store(t *testing.T) *S3 {
	t.Helper()
	return newTestS3(t, b.config(t))
}

// stat returns the metadata that MinIO reports for key.
func (b minioBucket) stat(t *testing.T, key string) minio.ObjectInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), minioTimeout)
	defer cancel()
	info, err := b.admin.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("StatObject(%q, %q): %v", b.name, key, err)
	}
	return info
}

// requireMissing fails the test when an object exists under key.
func (b minioBucket) requireMissing(t *testing.T, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), minioTimeout)
	defer cancel()
	_, err := b.admin.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != minio.NoSuchKey {
		t.Errorf("StatObject(%q, %q): error %v (code %q), want %s because nothing may be stored", b.name, key, err, code, minio.NoSuchKey)
	}
}

// download sends a GET request without credentials to a presigned URL,
// after checking that the URL points at the local MinIO server.
func (b minioBucket) download(t *testing.T, client *http.Client, rawURL string) (int, []byte) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parsing the presigned URL: %v", err)
	}
	if u.Host != b.env.Endpoint {
		t.Fatalf("presigned URL host %q, want the local MinIO at %q", u.Host, b.env.Endpoint)
	}
	return get(t, client, rawURL)
}

// get sends a GET request and returns the status and body.
func get(t *testing.T, client *http.Client, rawURL string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), minioTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("creating the GET request: %v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response of the presigned URL: %v", err)
	}
	return resp.StatusCode, body
}

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
