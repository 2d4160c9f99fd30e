package blobstore

import (
	"context"
	"strings"
	"testing"
)

func TestOpenLocalFolder(t *testing.T) {
	store, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(*Dir); !ok {
		t.Errorf("Open of a folder returned %T, want *Dir", store)
	}
}

func TestOpenS3WithoutEndpoint(t *testing.T) {
	t.Setenv(EnvS3Endpoint, "")
	_, err := Open(context.Background(), "s3://mail-archive")
	if err == nil || !strings.Contains(err.Error(), EnvS3Endpoint) {
		t.Errorf("Open(s3://mail-archive) without an endpoint: err = %v, want one naming %s", err, EnvS3Endpoint)
	}
}

func TestOpenS3RejectsPath(t *testing.T) {
	t.Setenv(EnvS3Endpoint, "127.0.0.1:9")
	_, err := Open(context.Background(), "s3://bucket/prefix")
	if err == nil || !strings.Contains(err.Error(), "without a path") {
		t.Errorf("Open(s3://bucket/prefix): err = %v, want one rejecting the path", err)
	}
}

func TestOpenS3MinIO(t *testing.T) {
	ctx := context.Background()
	b := newMinIOBucket(t)
	// The variables that .stack/env exports are the ones FromEnv reads, so
	// a shell that sourced it can run --storage s3://BUCKET as is.
	t.Setenv(EnvS3Endpoint, b.env.Endpoint)
	t.Setenv(EnvS3TLS, "false")
	t.Setenv(EnvS3Region, b.env.Region)
	t.Setenv(EnvS3AccessKey, b.env.AccessKey)
	t.Setenv(EnvS3SecretKey, b.env.SecretKey)
	t.Setenv(EnvS3Bucket, "")

	store, err := Open(ctx, "s3://"+b.name)
	if err != nil {
		t.Fatalf("Open(s3://%s): %v", b.name, err)
	}
	if _, ok := store.(*S3); !ok {
		t.Fatalf("Open(s3://%s) returned %T, want *S3", b.name, store)
	}
	if err := store.Put(ctx, "acme/opened", []byte("via Open")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := b.stat(t, "acme/opened").Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("object stored through Open reports x-amz-server-side-encryption %q, want %q", got, "AES256")
	}

	missing := b.name + "-missing"
	_, err = Open(ctx, "s3://"+missing)
	if err == nil || !strings.Contains(err.Error(), `"`+missing+`" not found`) {
		t.Errorf("Open(s3://%s): error %v, want one saying the bucket is not found", missing, err)
	}
}
